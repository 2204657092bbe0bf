-- One row per reported equipment total whose scope the panel can reproduce: gross
-- output in the provincial definition (all divisions but C39) of Sichuan, Chongqing
-- (the areas whose cluster_role is 'parent'), or the two together
-- (var two_province_area_code). The panel's sum over the same divisions is set beside it
-- with the relative error; the test assert_panel_reconciles fails when an exact total is
-- missed by more than the tolerance (var reconciliation_relative_tolerance) or the panel
-- falls below a lower bound by more.

with

areas as (
    select * from {{ ref('dim_area') }}
),

figures as (
    select * from {{ ref('fct_reported_figures') }}
    where scope = 'equipment_provincial_definition'
        and measure_kind = 'level'
        and period_type = 'full_year'
        and base_unit = 'yuan'
        and (
            area_code in (
                select parents.area_code from areas as parents
                where parents.cluster_role = 'parent'
            )
            or area_code = '{{ var("two_province_area_code") }}'
        )
),

metrics as (
    select * from {{ ref('dim_metric') }}
),

panel as (
    select
        output.area_code,
        output.year,
        sum(output.output_value_yuan) as panel_yuan
    from {{ ref('fct_province_sector_output') }} as output
    inner join {{ ref('dim_sector') }} as sectors on output.sector_code = sectors.sector_code
    where sectors.in_provincial_equipment_definition
    group by all
),

panel_with_total as (
    select * from panel
    union all
    select
        '{{ var("two_province_area_code") }}' as area_code,
        year,
        sum(panel_yuan) as panel_yuan
    from panel
    group by year
),

final as (
    select
        figures.figure_id,
        figures.area_code,
        figures.year,
        figures.metric_code,
        figures.value_base as reported_yuan,
        figures.value_qualifier,
        panel_with_total.panel_yuan,
        (panel_with_total.panel_yuan - figures.value_base) / figures.value_base as relative_error,
        cast({{ var('reconciliation_relative_tolerance') }} as double) as tolerance,
        -- The error of an exact total, the one the fit must reproduce; a lower bound or a
        -- rounded total may differ by design (audit_panel_constraints).
        case
            when figures.value_qualifier = 'exact'
                then (panel_with_total.panel_yuan - figures.value_base) / figures.value_base
        end as exact_relative_error
    from figures
    inner join metrics on figures.metric_code = metrics.metric_code and metrics.quantity = 'gross_output'
    inner join panel_with_total
        on figures.area_code = panel_with_total.area_code and figures.year = panel_with_total.year
)

select * from final
