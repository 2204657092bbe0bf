select
    unit_token,
    base_unit,
    factor_to_base,
    unit_family,
    meaning
from {{ ref('unit_conversions') }}
