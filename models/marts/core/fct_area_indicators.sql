with

candidates as (
    select * from {{ ref('int_indicator_candidates') }}
),

spread as (
    select
        area_code,
        metric_code,
        coalesce(subject, '') as subject_key,
        year,
        count(distinct value_base) as n_distinct_values,
        min(value_base) as min_value_base,
        max(value_base) as max_value_base
    from candidates
    group by all
),

final as (
    select
        best.area_code,
        best.metric_code,
        best.subject,
        best.year,
        best.period_type,
        best.scope,
        best.value_base,
        best.base_unit,
        best.value_original,
        best.unit_raw as unit_original,
        best.value_qualifier,
        best.figure_id as chosen_figure_id,
        best.source_id,
        best.source_reliability as reliability,
        best.n_competing_figures,
        spread.n_distinct_values,
        spread.min_value_base,
        spread.max_value_base,
        'reported' as basis
    from candidates as best
    inner join spread
        on best.area_code = spread.area_code
            and best.metric_code = spread.metric_code
            and spread.subject_key = coalesce(best.subject, '')
            and best.year = spread.year
    where best.rank_in_key = 1
)

select * from final
