-- One row per reference x member area x division x year: the output x[i,k], the
-- area's sector share s[i,k] = x[i,k] / x[i,.], and the reference's share
-- s[R,k] = x[R,k] / x[R,.], with the share of input value that is not reported
-- (estimated or synthetic) and whether any input is synthetic test data.
-- References: 'cluster8' = the eight members together; 'sichuan_chongqing' = the two
-- province rows together (which contain the members).
-- A zero or missing denominator leaves the share NULL; the marts give the reason.

with

output as (
    select * from {{ ref('int_sector_output') }}
),

members as (
    select * from output
    where cluster_role = 'member'
),

reference_cells as (
    select
        'cluster8' as reference,
        sector_code,
        year,
        output_value_yuan,
        basis
    from output
    where cluster_role = 'member'
    union all
    select
        'sichuan_chongqing' as reference,
        sector_code,
        year,
        output_value_yuan,
        basis
    from output
    where cluster_role = 'parent'
),

reference_sector as (
    select
        reference,
        sector_code,
        year,
        sum(output_value_yuan) as reference_sector_yuan
    from reference_cells
    group by all
),

reference_total as (
    select
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
        area_code,
        year,
        sum(output_value_yuan) as area_total_yuan,
        sum(case when basis <> 'reported' then output_value_yuan else 0 end) as area_estimated_yuan,
        bool_or(basis = 'synthetic') as area_has_synthetic
    from members
    group by all
),

final as (
    select
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
    inner join area_total on members.area_code = area_total.area_code and members.year = area_total.year
    inner join reference_total on members.year = reference_total.year
    inner join reference_sector
        on reference_total.reference = reference_sector.reference
            and members.sector_code = reference_sector.sector_code
            and members.year = reference_sector.year
)

select * from final
