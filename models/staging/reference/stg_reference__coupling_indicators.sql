select
    indicator_code,
    description,
    weight,
    rationale
from {{ ref('coupling_indicators') }}
