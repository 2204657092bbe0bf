-- One row per metric (seeds/metrics.csv) with the period its name's suffix names
-- (seeds/periods.csv: _jan_sep, _h1, ...); a metric without such a suffix covers the
-- full year, the period whose suffix is empty.

with

metrics as (
    select * from {{ ref('stg_reference__metrics') }}
),

periods as (
    select * from {{ ref('stg_reference__periods') }}
),

full_year as (
    select * from periods
    where metric_suffix is null
),

final as (
    select
        metrics.metric_code,
        metrics.description,
        metrics.scope,
        metrics.measure_kind,
        metrics.quantity,
        metrics.unit_family,
        coalesce(suffixed.period_type, full_year.period_type) as period_type,
        coalesce(suffixed.months_covered, full_year.months_covered) as months_covered
    from metrics
    left join periods as suffixed
        on {{ ends_with('metrics.metric_code', 'suffixed.metric_suffix') }}
    left join full_year on true
)

select * from final
