select
    specialty_id,
    area_code,
    sector_code,
    product_en,
    claim_as_stated,
    claim_strength,
    mapping_note,
    source_id,
    'reported' as basis
from {{ ref('stg_reference__area_specialties') }}
