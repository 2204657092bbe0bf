-- Members are part of their province: their estimated equipment output never exceeds
-- the province's (a negative rest of province would mean the priors contradict the data).
with

equipment as (select * from {{ ref('int_area_equipment_output') }}),
areas as (select * from {{ ref('stg_reference__areas') }})

select province.area_code, province.year, province.equipment_yuan, sum(member.equipment_yuan) as members_yuan
from equipment as province
inner join areas on areas.province_code = province.area_code and areas.cluster_role = 'member'
inner join equipment as member on member.area_code = areas.area_code and member.year = province.year
group by all
having sum(member.equipment_yuan) > province.equipment_yuan
