{#-
    Fill a yearly series on a spine of (series_key, year) from known points
    (series_key, year, value, figure_ids):
      - a known year keeps its value (fill_method 'reported');
      - a year between two known years is interpolated, linearly or log-linearly
        (constant growth rate), from the nearest known year on each side;
      - a year before the first or after the last known year carries the nearest known
        value flat (no trend is invented outside the data).
    figure_ids lists the reported figures the value rests on.
    The nearest known year on each side is found by a range join (the largest known year <=
    the spine year, the smallest >=), then the two points are joined by year: the same rows as
    DuckDB's ASOF join, which Spark does not have. known holds one point per (series_key, year).
-#}
{% macro interpolate_series(spine, known, method='linear') %}
    select
        spine.series_key,
        spine.year,
        case
            when prev.year = spine.year then prev.value
            when prev.year is not null and next.year is not null then
            {%- if method == 'log_linear' %}
                exp(ln(prev.value) + (ln(next.value) - ln(prev.value))
                    * (spine.year - prev.year) / (next.year - prev.year))
            {%- else %}
                prev.value + (next.value - prev.value)
                    * (spine.year - prev.year) / (next.year - prev.year)
            {%- endif %}
            else coalesce(prev.value, next.value)
        end as value,
        case
            when prev.year = spine.year then 'reported'
            when prev.year is not null and next.year is not null then '{{ method }}_interpolation'
            when prev.year is not null or next.year is not null then 'carried_flat'
        end as fill_method,
        case
            when prev.year = spine.year then prev.figure_ids
            when prev.year is not null and next.year is not null
                then {{ sorted_distinct_list(concat_lists('prev.figure_ids', 'next.figure_ids')) }}
            else coalesce(prev.figure_ids, next.figure_ids)
        end as figure_ids
    from {{ spine }} as spine
    left join (
        select
            spine.series_key,
            spine.year,
            max(case when known.year <= spine.year then known.year end) as previous_year,
            min(case when known.year >= spine.year then known.year end) as next_year
        from (select distinct series_key, year from {{ spine }}) as spine
        inner join {{ known }} as known on spine.series_key = known.series_key
        group by spine.series_key, spine.year
    ) as nearest
        on spine.series_key = nearest.series_key and spine.year = nearest.year
    left join {{ known }} as prev
        on nearest.series_key = prev.series_key and nearest.previous_year = prev.year
    left join {{ known }} as next
        on nearest.series_key = next.series_key and nearest.next_year = next.year
{% endmacro %}
