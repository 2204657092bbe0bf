-- Members are part of their province: their estimated equipment output never exceeds
-- the province's (a negative rest of province would mean the priors contradict the data).
with

equipment as (select * from {{ ref('int_area_equipment_output') }}),

areas as (select * from {{ ref('stg_reference__areas') }})

select
    province.area_code,
    province.year,
    province.equipment_yuan,
    sum(member.equipment_yuan) as members_yuan
from equipment as province
inner join areas on province.area_code = areas.province_code and areas.cluster_role = 'member'
inner join equipment as member on areas.area_code = member.area_code and province.year = member.year
group by all
having sum(member.equipment_yuan) > province.equipment_yuan
