select
    specialty_id,
    area_code,
    product_en,
    sector_code,
    claim_as_stated,
    claim_strength,
    mapping_note,
    source_id
from {{ ref('area_specialties') }}
