-- Metric definitions; the period comes from the metric name's suffix (seed periods).
with

metrics as (
    select * from {{ ref('metrics') }}
),

periods as (
    select * from {{ ref('periods') }}
),

final as (
    select
        metrics.metric_code,
        metrics.description,
        metrics.scope,
        metrics.measure_kind,
        metrics.quantity,
        metrics.unit_family,
        coalesce(suffixed.period_type, 'full_year') as period_type,
        coalesce(suffixed.months_covered, 12) as months_covered
    from metrics
    left join periods as suffixed
        on suffixed.metric_suffix <> ''
        and ends_with(metrics.metric_code, suffixed.metric_suffix)
)

select * from final
