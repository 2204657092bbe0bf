{#-
    Fill a yearly series on a spine of (series_key, year) from known points
    (series_key, year, value, figure_ids):
      - a known year keeps its value (fill_method 'reported');
      - a year between two known years is interpolated, linearly or log-linearly
        (constant growth rate), from the nearest known year on each side;
      - a year before the first or after the last known year carries the nearest known
        value flat (no trend is invented outside the data).
    figure_ids lists the reported figures the value rests on.
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
                then list_sort(list_distinct(list_concat(prev.figure_ids, next.figure_ids)))
            else coalesce(prev.figure_ids, next.figure_ids)
        end as figure_ids
    from {{ spine }} as spine
    asof left join {{ known }} as prev
        on prev.series_key = spine.series_key and spine.year >= prev.year
    asof left join {{ known }} as next
        on next.series_key = spine.series_key and spine.year <= next.year
{% endmacro %}
