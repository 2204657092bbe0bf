select
    match_on,
    match_value,
    area_code,
    note
from {{ ref('entity_aliases') }}
