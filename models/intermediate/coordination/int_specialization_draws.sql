-- One row per draw x reference x member area x division x year: the location quotient
-- and the specialisation and strong-cluster flags of fct_area_sector_specialization,
-- computed on each Monte Carlo draw of the panel (int_sector_output_draws) with the same
-- rules (LQ >= 1 after rounding to 9 decimals; strong cluster: LQ >= the division's 75th
-- percentile across the members, LQ >= 1, output above the 25th percentile). A cell
-- whose value says nothing about the area (is_area_specific false in int_sector_output)
-- gets NULL flags in every draw, as in the mart.

with

output as (
    select * from {{ ref('int_sector_output_draws') }}
),

specific as (
    select
        area_code,
        sector_code,
        year,
        is_area_specific
    from {{ ref('int_sector_output') }}
    where cluster_role = 'member'
),

reference_cells as (
    select
        draw_id,
        'cluster8' as reference,
        sector_code,
        year,
        output_value_yuan
    from output
    where cluster_role = 'member'
    union all
    select
        draw_id,
        'sichuan_chongqing' as reference,
        sector_code,
        year,
        output_value_yuan
    from output
    where cluster_role = 'parent'
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
        sum(output_value_yuan) as reference_total_yuan
    from reference_cells
    group by all
),

area_total as (
    select
        draw_id,
        area_code,
        year,
        sum(output_value_yuan) as area_total_yuan
    from output
    where cluster_role = 'member'
    group by all
),

measured as (
    select
        output.draw_id,
        reference_total.reference,
        output.area_code,
        output.sector_code,
        output.year,
        output.output_value_yuan,
        (output.output_value_yuan / nullif(area_total.area_total_yuan, 0))
        / nullif(reference_sector.reference_sector_yuan / nullif(reference_total.reference_total_yuan, 0), 0)
            as location_quotient
    from output
    inner join area_total
        on output.draw_id = area_total.draw_id and output.area_code = area_total.area_code
            and output.year = area_total.year
    inner join reference_total on output.draw_id = reference_total.draw_id and output.year = reference_total.year
    inner join reference_sector
        on output.draw_id = reference_sector.draw_id
            and reference_total.reference = reference_sector.reference
            and output.sector_code = reference_sector.sector_code
            and output.year = reference_sector.year
    where output.cluster_role = 'member'
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
    from measured
    group by all
),

final as (
    select
        measured.draw_id,
        measured.reference,
        measured.area_code,
        measured.sector_code,
        measured.year,
        measured.output_value_yuan,
        measured.location_quotient,
        case
            when measured.location_quotient is null or not specific.is_area_specific then null
            else round(measured.location_quotient, 9) >= 1
        end as is_specialised,
        case
            when measured.location_quotient is null or not specific.is_area_specific then null
            else round(measured.location_quotient, 9) >= round(cut_offs.lq_p75, 9)
                and round(measured.location_quotient, 9) >= 1
                and measured.output_value_yuan > cut_offs.output_p25
        end as is_strong_cluster
    from measured
    inner join cut_offs
        on measured.draw_id = cut_offs.draw_id
            and measured.reference = cut_offs.reference
            and measured.sector_code = cut_offs.sector_code
            and measured.year = cut_offs.year
    inner join specific
        on measured.area_code = specific.area_code
            and measured.sector_code = specific.sector_code
            and measured.year = specific.year
)

select * from final
