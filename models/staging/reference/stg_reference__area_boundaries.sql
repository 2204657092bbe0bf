-- The transferred unit's GDP is converted to yuan here (亿元 = 1e8 yuan, the only unit
-- the seed uses; a row in another unit keeps transfer_gdp_yuan NULL).
select
    area_code,
    boundary_id,
    valid_from,
    valid_to,
    first_statistical_year,
    last_statistical_year,
    change_kind,
    nullif(counterpart_area_code, '') as counterpart_area_code,
    transfer_unit_name,
    transfer_year,
    transfer_gdp_value,
    transfer_gdp_unit,
    case when transfer_gdp_unit = '亿元' then round(transfer_gdp_value * 1e8, 2) end as transfer_gdp_yuan,
    restatement_sign,
    description,
    source_url,
    quote
from {{ ref('area_boundaries') }}
