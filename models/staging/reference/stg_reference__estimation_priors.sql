select
    prior_id,
    prior_kind,
    nullif(area_code, '') as area_code,
    nullif(sector_code, '') as sector_code,
    nullif(claim_strength, '') as claim_strength,
    value,
    value_low,
    value_high,
    rationale,
    source_id
from {{ ref('estimation_priors') }}
