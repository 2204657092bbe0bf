select
    pattern,
    qualifier,
    priority,
    meaning
from {{ ref('value_qualifiers') }}
