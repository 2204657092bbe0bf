select
    area_code,
    subsystem,
    weight,
    rationale
from {{ ref('coupling_subsystems') }}
