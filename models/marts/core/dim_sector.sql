select
    sector_code,
    division_number,
    name_zh,
    name_en,
    chain_role,
    chain_stage,
    in_provincial_equipment_definition,
    chain_note,
    source_id
from {{ ref('stg_reference__sectors') }}
