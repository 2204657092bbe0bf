-- Pairs of figures for the same area x metric x subject x year whose values differ by
-- more than var('conflict_relative_tolerance') of the larger one, both sides shown.

with

candidates as (
    select * from {{ ref('int_indicator_candidates') }}
),

pairs as (
    select
        a.area_code,
        a.metric_code,
        a.subject,
        a.year,
        a.figure_id as figure_id_a,
        a.value_base as value_base_a,
        a.unit_raw as unit_original_a,
        a.source_id as source_id_a,
        a.source_text as source_a,
        a.source_reliability as reliability_a,
        a.rank_in_key = 1 as a_is_chosen,
        b.figure_id as figure_id_b,
        b.value_base as value_base_b,
        b.unit_raw as unit_original_b,
        b.source_id as source_id_b,
        b.source_text as source_b,
        b.source_reliability as reliability_b,
        b.rank_in_key = 1 as b_is_chosen,
        a.base_unit,
        abs(a.value_base - b.value_base) as absolute_difference,
        abs(a.value_base - b.value_base)
        / nullif(greatest(abs(a.value_base), abs(b.value_base)), 0) as relative_difference
    from candidates as a
    inner join candidates as b
        on a.area_code = b.area_code
            and a.metric_code = b.metric_code
            and coalesce(a.subject, '') = coalesce(b.subject, '')
            and a.year = b.year
            and a.figure_id < b.figure_id
),

final as (
    select
        *,
        cast({{ var('conflict_relative_tolerance') }} as double) as tolerance
    from pairs
    where relative_difference > {{ var('conflict_relative_tolerance') }}
)

select * from final
