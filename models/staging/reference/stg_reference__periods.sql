select
    -- The full year has no suffix: NULL, so that no metric name "ends with" it.
    nullif(metric_suffix, '') as metric_suffix,
    period_type,
    months_covered,
    description
from {{ ref('periods') }}
