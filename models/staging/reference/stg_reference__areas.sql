select
    area_code,
    name_zh,
    name_en,
    admin_level,
    nullif(parent_area_code, '') as parent_area_code,
    nullif(province_code, '') as province_code,
    cluster_role,
    source_id
from {{ ref('areas') }}
