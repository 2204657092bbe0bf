select
    metric_code,
    description,
    scope,
    measure_kind,
    quantity,
    unit_family,
    period_type,
    months_covered
from {{ ref('int_metrics_with_period') }}
