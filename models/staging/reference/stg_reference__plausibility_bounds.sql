select
    bound_id,
    lower_value,
    upper_value,
    unit,
    source_id,
    rationale
from {{ ref('plausibility_bounds') }}
