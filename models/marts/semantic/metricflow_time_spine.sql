-- One row per day of the panel years (vars panel_start_year..panel_end_year, 2015-2023
-- today): the time spine MetricFlow joins metrics to. It ends with the data period on
-- purpose: a metric with an offset window (sector_output_growth) is joined through the
-- spine, so a spine running past the panel made `mf query` return a row per area for the
-- year after it (2024) with every metric empty.
with

final as (
    select
        {{ day_series("make_date(" ~ var('panel_start_year') ~ ", 1, 1)",
                      "make_date(" ~ (var('panel_end_year') + 1) ~ ", 1, 1)") }} as date_day
)

select * from final
