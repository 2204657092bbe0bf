select
    lower_bound,
    upper_bound,
    class_zh,
    class_en,
    source_text
from {{ ref('coordination_classes') }}
