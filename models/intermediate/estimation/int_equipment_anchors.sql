-- One row per province x year where its equipment output in the provincial definition
-- is known: reported directly (Sichuan), or derived as the two provinces' reported
-- total minus Sichuan's reported figure of the same year (Chongqing: estimated).
-- Figures of other scopes (above-scale only, narrow) or other quantities (revenue,
-- value added, growth) are not anchors. The anchors shape the prior of the constrained
-- fit only (int_panel_prior_cells); the fit holds a lower bound as a bound, not as a
-- point (int_panel_constraints).

with

best_figures as (
    select * from {{ ref('int_indicator_candidates') }}
    where rank_in_key = 1
        and subject is null
        and scope = 'equipment_provincial_definition'
        and quantity = 'gross_output'
        and period_type = 'full_year'
        and base_unit = 'yuan'
        -- The prior's path rests on exact or lower-bound totals of medium or high
        -- reliability; rounded and low-reliability totals only enter the fit, softly.
        and value_qualifier in ('exact', 'lower_bound')
        and reliability != 'low'
),

provinces as (
    select area_code from {{ ref('stg_reference__areas') }}
    where cluster_role = 'parent'
),

province_reported as (
    select
        best_figures.area_code,
        best_figures.year,
        best_figures.value_base as equipment_yuan,
        'reported' as basis,
        'reported' as method,
        {{ list_of('best_figures.figure_id') }} as figure_ids
    from best_figures
    inner join provinces on best_figures.area_code = provinces.area_code
),

two_province_totals as (
    select
        year,
        value_base,
        figure_id
    from best_figures
    where area_code = '{{ var("two_province_area_code") }}'
),

derived as (
    select
        provinces.area_code,
        totals.year,
        totals.value_base - other.equipment_yuan as equipment_yuan,
        'estimated' as basis,
        'two_province_total_minus_other_province' as method,
        {{ sort_list(append_to_list('other.figure_ids', 'totals.figure_id')) }} as figure_ids
    from two_province_totals as totals
    inner join province_reported as other on totals.year = other.year
    inner join provinces on other.area_code != provinces.area_code
    where not exists (
            select 1 from province_reported as own
            where own.area_code = provinces.area_code and own.year = totals.year
        )
),

final as (
    select * from province_reported
    union all
    select * from derived
)

select * from final
