-- The bottom-up panel against the reported totals of the same scope: one row per reported
-- full-year level of above-scale gross output whose divisions the panel's rules name exactly
-- (a hard rule of seeds/panel_constraint_rules.csv: the provincial equipment definition, C36),
-- for a member, a province (its members and its rest) or the two provinces together, in a
-- year the enterprise microdata hold. Set beside it: the microdata's above-scale output of the
-- same divisions, area and year.
-- status:
--   partial_year           the microdata cover fewer than twelve months of the year: no comparison;
--   no_rest_of_province   a province (or both) while the register holds no enterprise of the rest
--                          of that province: a register of the cluster's members only cannot add
--                          up to a province;
--   reconciles / differs   within / beyond the tolerance (var microdata_reconciliation_tolerance,
--                          or the rounding tolerance of a rounded figure); a lower bound ('超')
--                          differs only when the microdata fall below it.
-- assert_microdata_reconciles stops a build whose real (reported) microdata differ; synthetic
-- microdata are listed but never expected to match reality.
with

figures as (
    select * from {{ ref('fct_reported_figures') }}
    where metric_code like '%above_scale_gross_output'
        and measure_kind = 'level'
        and period_type = 'full_year'
        and base_unit = 'yuan'
),

rules as (
    select * from {{ ref('stg_reference__panel_constraint_rules') }}
    where constraint_kind = 'level' and is_hard
),

microdata as (
    select * from {{ ref('int_microdata_sector_output') }}
),

parents as (
    select area_code from {{ ref('dim_area') }}
    where cluster_role = 'parent'
),

-- Which microdata areas make up each area a figure can name.
area_parts as (
    select distinct
        area_code as figure_area_code,
        area_code as part_area_code
    from microdata
    where area_group = 'member'
    union all
    select distinct
        province_code as figure_area_code,
        area_code as part_area_code
    from microdata
    where province_code in (select parents.area_code from parents)
    union all
    select distinct
        '{{ var("two_province_area_code") }}' as figure_area_code,
        area_code as part_area_code
    from microdata
    where province_code in (select parents.area_code from parents)
),

compared as (
    select
        figures.figure_id,
        figures.area_code,
        figures.year,
        figures.metric_code,
        figures.scope,
        {{ list_to_string('rules.sector_codes', ';') }} as sector_codes,
        figures.value_base as reported_yuan,
        figures.value_qualifier,
        cast(sum(microdata.above_scale_output_yuan) as double) as microdata_above_scale_yuan,
        max(microdata.months_covered) as months_covered,
        count(distinct microdata.province_code) filter (where microdata.area_group <> 'member')
            as n_rests_present,
        min(microdata.basis) as basis
    from figures
    inner join rules on figures.metric_code = rules.metric_code and figures.scope = rules.scope
    inner join area_parts on figures.area_code = area_parts.figure_area_code
    inner join microdata
        on area_parts.part_area_code = microdata.area_code
            and figures.year = microdata.year
            and {{ list_has('rules.sector_codes', 'microdata.sector_code') }}
    group by all
),

measured as (
    select
        *,
        (microdata_above_scale_yuan - reported_yuan) / reported_yuan as relative_difference,
        -- A province's figure needs its rest; the two provinces' figure needs both rests.
        n_rests_present < case
            when area_code = '{{ var("two_province_area_code") }}' then 2
            when area_code in (select parents.area_code from parents) then 1
            else 0
        end as lacks_rest_of_province,
        greatest(
            cast({{ var('microdata_reconciliation_tolerance') }} as double),
            case when value_qualifier = 'rounded' then {{ var('panel_rounded_tolerance') }} else 0 end
        ) as tolerance
    from compared
),

final as (
    select
        figure_id,
        area_code,
        year,
        metric_code,
        scope,
        sector_codes,
        reported_yuan,
        value_qualifier,
        microdata_above_scale_yuan,
        months_covered,
        case when months_covered = 12 and not lacks_rest_of_province then relative_difference end
            as relative_difference,
        tolerance,
        case
            when months_covered < 12 then 'partial_year'
            when lacks_rest_of_province then 'no_rest_of_province'
            when value_qualifier = 'lower_bound' and relative_difference >= -tolerance then 'reconciles'
            when value_qualifier <> 'lower_bound' and abs(relative_difference) <= tolerance then 'reconciles'
            else 'differs'
        end as status,
        basis
    from measured
)

select * from final
