-- One row per draw (0 = the fitted panel, int_sector_output_draws) x reference x member area x division x year:
-- the output x[i,k], the area's sector share s[i,k] = x[i,k] / x[i,.], the reference's share s[R,k] = x[R,k] / x[R,.],
-- the location quotient LQ = s[i,k] / s[R,k] and its flags, with the share of input value that is not reported and
-- whether any input is synthetic test data. References: 'cluster8' = the eight members together;
-- 'sichuan_chongqing' = the two province rows together (which contain the members). A zero or missing denominator
-- leaves the share NULL. Specialised: LQ >= var specialisation_lq_threshold (1) after rounding to 9 decimals, so an
-- LQ of exactly 1 up to floating-point noise counts. Strong cluster (US Cluster Mapping rule): also LQ >= the
-- division's 75th percentile across the members (linear interpolation) and output above its 25th percentile. A cell
-- whose value says nothing about the area (is_area_specific false) gets NULL flags.

with

cells as (
    -- What a cell's value rests on, the same in every draw.
    select
        area_code,
        sector_code,
        year,
        basis,
        is_area_specific
    from {{ ref('int_sector_output_members') }}
    union all
    select
        area_code,
        sector_code,
        year,
        basis,
        is_area_specific
    from {{ ref('int_sector_output_provinces') }}
),

output as (
    select
        draws.draw_id,
        draws.area_code,
        draws.cluster_role,
        draws.sector_code,
        draws.year,
        draws.output_value_yuan,
        cells.basis,
        cells.is_area_specific
    from {{ ref('int_sector_output_draws') }} as draws
    inner join cells
        on draws.area_code = cells.area_code
            and draws.sector_code = cells.sector_code
            and draws.year = cells.year
),

members as (
    select * from output
    where cluster_role = 'member'
),

reference_cells as (
    select
        draw_id,
        case cluster_role when 'member' then 'cluster8' else 'sichuan_chongqing' end as reference,
        sector_code,
        year,
        output_value_yuan,
        basis
    from output
),

reference_sector as (
    select
        draw_id,
        reference,
        sector_code,
        year,
        sum(output_value_yuan) as reference_sector_yuan
    from reference_cells
    group by all
),

reference_total as (
    select
        draw_id,
        reference,
        year,
        sum(output_value_yuan) as reference_total_yuan,
        sum(case when basis <> 'reported' then output_value_yuan else 0 end) as reference_estimated_yuan,
        bool_or(basis = 'synthetic') as reference_has_synthetic
    from reference_cells
    group by all
),

area_total as (
    select
        draw_id,
        area_code,
        year,
        sum(output_value_yuan) as area_total_yuan,
        sum(case when basis <> 'reported' then output_value_yuan else 0 end) as area_estimated_yuan,
        bool_or(basis = 'synthetic') as area_has_synthetic
    from members
    group by all
),

measured as (
    select
        members.draw_id,
        reference_total.reference,
        members.area_code,
        members.sector_code,
        members.year,
        members.output_value_yuan,
        members.basis as cell_basis,
        members.is_area_specific,
        area_total.area_total_yuan,
        reference_sector.reference_sector_yuan,
        reference_total.reference_total_yuan,
        members.output_value_yuan / nullif(area_total.area_total_yuan, 0) as area_share,
        reference_sector.reference_sector_yuan / nullif(reference_total.reference_total_yuan, 0)
            as reference_share,
        -- Estimated value among everything the measure reads: the area's cells and the
        -- reference's cells (for cluster8 the area's cells are counted in both).
        (area_total.area_estimated_yuan + reference_total.reference_estimated_yuan)
        / nullif(area_total.area_total_yuan + reference_total.reference_total_yuan, 0)
            as estimated_input_share,
        area_total.area_has_synthetic or reference_total.reference_has_synthetic as has_synthetic_input
    from members
    inner join area_total
        on members.draw_id = area_total.draw_id
            and members.area_code = area_total.area_code
            and members.year = area_total.year
    inner join reference_total on members.draw_id = reference_total.draw_id and members.year = reference_total.year
    inner join reference_sector
        on members.draw_id = reference_sector.draw_id
            and reference_total.reference = reference_sector.reference
            and members.sector_code = reference_sector.sector_code
            and members.year = reference_sector.year
),

indistinct as (
    -- Divisions no source tells apart (C40/C43): their LQs would be copies of each other.
    select * from {{ ref('int_indistinct_divisions') }}
),

with_lq as (
    select
        measured.*,
        case when indistinct.sector_code is null then measured.area_share / nullif(measured.reference_share, 0) end
            as location_quotient,
        indistinct.null_reason as indistinct_reason
    from measured
    left join indistinct on measured.sector_code = indistinct.sector_code
),

cut_offs as (
    select
        draw_id,
        reference,
        sector_code,
        year,
        percentile_cont(0.75) within group (
            order by location_quotient
        ) as lq_p75,
        percentile_cont(0.25) within group (
            order by output_value_yuan
        ) as output_p25
    from with_lq
    group by all
),

final as (
    select
        with_lq.*,
        cut_offs.lq_p75,
        cut_offs.output_p25,
        case
            when with_lq.location_quotient is null or not with_lq.is_area_specific then null
            else round(with_lq.location_quotient, 9) >= {{ var('specialisation_lq_threshold') }}
        end as is_specialised,
        case
            when with_lq.location_quotient is null or not with_lq.is_area_specific then null
            else round(with_lq.location_quotient, 9) >= round(cut_offs.lq_p75, 9)
                and round(with_lq.location_quotient, 9) >= {{ var('specialisation_lq_threshold') }}
                and with_lq.output_value_yuan > cut_offs.output_p25
        end as is_strong_cluster
    from with_lq
    inner join cut_offs
        on with_lq.draw_id = cut_offs.draw_id
            and with_lq.reference = cut_offs.reference
            and with_lq.sector_code = cut_offs.sector_code
            and with_lq.year = cut_offs.year
)

select * from final
