-- The chosen value of a key never comes from a less reliable source than a competitor,
-- unless it is an exact figure lying within the rounding of a more reliable rounded
-- competitor (then that competitor confirms it, and the rounded value itself is recorded).
select
    best.area_code,
    best.metric_code,
    best.year,
    best.chosen_figure_id,
    other.figure_id
from {{ ref('fct_area_indicators') }} as best
inner join {{ ref('int_indicator_candidates') }} as other
    on best.area_code = other.area_code
        and best.metric_code = other.metric_code
        and coalesce(other.subject, '') = coalesce(best.subject, '')
        and best.year = other.year
inner join {{ ref('dim_source') }} as best_source on best.source_id = best_source.source_id
inner join {{ ref('int_indicator_candidates') }} as chosen on best.chosen_figure_id = chosen.figure_id
where other.reliability_rank > best_source.reliability_rank
    and not (
        chosen.value_qualifier = 'exact'
        and other.value_qualifier = 'rounded'
        and chosen.effective_reliability_rank >= other.reliability_rank
    )
