-- How a county-level code maps to the areas of the microdata layer: the eight members, the
-- rest of Sichuan, the rest of Chongqing (and by default, in macros/microdata/microdata_areas.sql,
-- the rest of China). A member prefecture city is matched by the first four digits of a county
-- code, a member district of Chongqing by all six, a province by the first two.
with

areas as (
    select * from {{ ref('stg_reference__areas') }}
),

members as (
    select
        case admin_level when 'prefecture_city' then 4 else 6 end as match_length,
        left(area_code, case admin_level when 'prefecture_city' then 4 else 6 end) as match_value,
        area_code,
        'member' as area_group,
        province_code,
        name_en as area_name_en
    from areas
    where cluster_role = 'member'
),

provinces as (
    select
        2 as match_length,
        left(area_code, 2) as match_value,
        'rest_of_' || lower(name_en) as area_code,
        'rest_of_' || lower(name_en) as area_group,
        area_code as province_code,
        'Rest of ' || name_en as area_name_en
    from areas
    where cluster_role = 'parent'
),

final as (
    select * from members
    union all
    select * from provinces
)

select * from final
