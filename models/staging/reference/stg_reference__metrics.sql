select
    metric_code,
    description,
    scope,
    measure_kind,
    quantity,
    unit_family
from {{ ref('metrics') }}
