-- One row per day of the years dim_year covers (figure_year_range of
-- seeds/plausibility_bounds.csv, 2000-01-01 .. 2030-12-31 today): the time spine
-- MetricFlow joins metrics to.
with

year_range as (
    select
        cast(lower_value as integer) as first_year,
        cast(upper_value as integer) as last_year
    from {{ ref('stg_reference__plausibility_bounds') }}
    where bound_id = 'figure_year_range'
),

final as (
    select
        {{ day_series('make_date(first_year, 1, 1)', 'make_date(last_year + 1, 1, 1)') }} as date_day
    from year_range
)

select * from final
