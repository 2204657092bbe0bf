-- One row per figure that bears on the sector-output panel, and per cell the user
-- supplied: the constraint it puts on the fit (int_panel_fit_*), or why it puts none.
-- A reported figure bears on the panel when seeds/panel_constraint_rules.csv has a rule
-- for its metric and scope and its area is a member, a cluster province or the two
-- provinces together. The rule says which divisions the figure's scope covers and how
-- the figure reads:
--   level   the sum of the covered cells (a partial-year level scaled to twelve months);
--   growth  the sum in the figure's year over the sum span_years earlier, minus 1 (an
--           average annual rate compounded over the span);
--   share   the sum of the area's covered cells over its province's;
-- and whether it is hard, with its tolerance. A lower bound ('超', '突破', 'exceed') makes
-- '=' a '>='. A rounded or low-reliability figure is never hard; a rounded one gets at
-- least the tolerance var panel_rounded_tolerance.
-- Not fitted, with the reason: targets (value_qualifier 'target', whatever the rule: a
-- planned value is no outcome), rules marked use_in_fit = false (industry scales that are
-- no sum of divisions, counts), figures that are not the best value of their key, and
-- years outside the panel.
-- User figures and whole-year microdata cells (int_sector_output_supplied) are hard levels
-- of the cells they cover (one cell, or the sum over an area's units and the divisions
-- named); a user figure of enterprises above designated size (scope above_scale, 规模以上)
-- is a hard lower bound ('>=') of the same sum, never a point.

with

figures as (
    select * from {{ ref('int_indicator_candidates') }}
),

rules as (
    select * from {{ ref('stg_reference__panel_constraint_rules') }}
),

areas as (
    select * from {{ ref('stg_reference__areas') }}
),

supplied as (
    select * from {{ ref('int_sector_output_supplied') }}
),

bearing as (
    select
        figures.*,
        rules.use_in_fit,
        rules.constraint_kind,
        rules.sense as rule_sense,
        rules.sector_codes,
        rules.span_years,
        rules.is_average_rate,
        rules.is_hard as rule_is_hard,
        rules.tolerance as rule_tolerance,
        rules.rationale
    from figures
    inner join rules on figures.metric_code = rules.metric_code and figures.scope = rules.scope
    inner join areas on figures.area_code = areas.area_code
    where areas.cluster_role in ('member', 'parent') or figures.area_code = '{{ var("two_province_area_code") }}'
),

classified as (
    select
        *,
        case
            when value_qualifier = 'target'
                then 'not fitted: a target (a planned value, not an outcome; seeds/value_qualifiers.csv)'
            when not use_in_fit then 'not fitted: ' || rationale
            when rank_in_key > 1 then 'not fitted: not the best value of its area, metric and year'
            when year > {{ var('panel_end_year') }}
                or year - coalesce(span_years, 0) < {{ var('panel_start_year') }}
                then 'not fitted: outside the panel years {{ var("panel_start_year") }}-{{ var("panel_end_year") }}'
        end as exclusion
    from bearing
),

reported as (
    select
        figure_id as constraint_id,
        figure_id,
        'reported_figure' as origin,
        area_code,
        metric_code,
        scope,
        year,
        constraint_kind as kind,
        case when value_qualifier = 'lower_bound' and rule_sense = '=' then '>=' else rule_sense end as sense,
        case constraint_kind
            when 'level' then value_base * 12.0 / months_covered
            when 'growth'
                then
                    case when is_average_rate then pow(1 + value_base / 100, span_years) - 1 else value_base / 100 end
            when 'share' then value_base / 100
        end as target,
        greatest(
            rule_tolerance,
            case when value_qualifier = 'rounded' then {{ var('panel_rounded_tolerance') }} else 0 end,
            case when reliability = 'low' then {{ var('panel_low_reliability_tolerance') }} else 0 end
        )
        * case when constraint_kind = 'growth' and is_average_rate then span_years else 1 end as tolerance,
        rule_is_hard and value_qualifier not in ('rounded', 'target') and reliability <> 'low' as is_hard,
        sector_codes,
        case when constraint_kind = 'growth' then year - span_years end as base_year,
        value_original,
        unit_raw as unit_original,
        value_qualifier,
        reliability,
        rationale as note,
        exclusion
    from classified
),

supplied_figures as (
    select
        case origin when 'microdata' then 'microdata:' else 'user:' end
        || area_code || ':' || sector_code || ':' || year
        || case when scope = 'above_scale' then ':above_scale' else '' end as constraint_id,
        cast(null as string) as figure_id,
        origin,
        area_code,
        cast(null as string) as metric_code,
        case
            when scope = 'above_scale' then 'above_scale_output_of_the_divisions_named'
            when is_single_cell then 'gross_output_of_one_division'
            else 'gross_output_of_the_divisions_named'
        end as scope,
        year,
        'level' as kind,
        -- Enterprises above designated size are part of all enterprises: a lower bound.
        case when scope = 'above_scale' then '>=' else '=' end as sense,
        output_value_yuan as target,
        cast(0 as double) as tolerance,
        true as is_hard,
        sector_codes,
        cast(null as integer) as base_year,
        value_original,
        unit_original,
        case when scope = 'above_scale' then 'lower_bound' else 'exact' end as value_qualifier,
        basis as reliability,
        case
            when origin = 'microdata' then 'the enterprise microdata''s sum for this cell'
            when scope = 'above_scale'
                then 'the user''s figure of enterprises above designated size (规模以上) for '
                    || {{ list_to_string('sector_codes', '+') }}
                    || ': a lower bound of all enterprises'' output, summed over the area''s units'
            when is_single_cell then 'the user''s own figure for this cell'
            else 'the user''s own figure for '
                || {{ list_to_string('sector_codes', '+') }} || ' summed over the area''s units'
        end
        || ' (' || coalesce(source, 'no source') || ')' as note,
        cast(null as string) as exclusion
    from supplied
),

final as (
    select * from reported
    union all
    select * from supplied_figures
)

select * from final
