-- One row per panel unit x GB/T 4754 division x panel year: the prior of the constrained
-- fit (int_panel_fit_cells). The panel units are the eight members and the rest of each
-- province (the province minus its members), so that every province is the sum of its
-- units and no cell is counted twice.
--   member:           int_sector_output_estimated (GDP x equipment intensity x prior mix);
--   rest of province: the province's estimate minus its members', division by division;
--   C39 (electronics): no prior. No figure splits electronics by area; the provinces'
--                      electronic-information totals include software and services, and the
--                      one manufacturing-only figure (F0222: Sichuan's 2020 above-scale
--                      revenue) is a lower bound of revenue, not output, for one province in
--                      one year: a bound gives no value. The cell is NULL with the reason,
--                      never a number.

with

estimated as (
    select * from {{ ref('int_sector_output_estimated') }}
),

areas as (
    select * from {{ ref('stg_reference__areas') }}
),

sectors as (
    select * from {{ ref('stg_reference__sectors') }}
),

member_cells as (
    select
        estimated.area_code as panel_unit,
        estimated.area_code,
        areas.province_code,
        'member' as unit_role,
        estimated.sector_code,
        estimated.year,
        estimated.output_value_yuan as estimate_yuan,
        estimated.figure_ids,
        estimated.prior_ids,
        estimated.specialty_ids
    from estimated
    inner join areas on estimated.area_code = areas.area_code and areas.cluster_role = 'member'
),

rest_cells as (
    select
        'rest_' || province.area_code as panel_unit,
        province.area_code,
        province.area_code as province_code,
        'rest_of_province' as unit_role,
        province.sector_code,
        province.year,
        province.output_value_yuan - coalesce(sum(member_cells.estimate_yuan), 0) as estimate_yuan,
        province.figure_ids,
        province.prior_ids,
        cast({{ empty_text_list() }} as {{ text_list_type() }}) as specialty_ids
    from estimated as province
    inner join areas on province.area_code = areas.area_code and areas.cluster_role = 'parent'
    left join member_cells
        on province.area_code = member_cells.province_code
            and province.sector_code = member_cells.sector_code
            and province.year = member_cells.year
    group by
        province.area_code, province.sector_code, province.year, province.output_value_yuan,
        province.figure_ids, province.prior_ids
),

units as (
    select * from member_cells
    union all
    select * from rest_cells
),

final as (
    select
        units.panel_unit,
        units.area_code,
        units.province_code,
        units.unit_role,
        units.sector_code,
        units.year,
        case when sectors.in_provincial_equipment_definition then units.estimate_yuan end as prior_yuan,
        case
            when not sectors.in_provincial_equipment_definition
                then 'no figure gives ' || units.sector_code || ' by area or for the panel years: the '
                    || 'electronic-information totals include software and services, the one manufacturing-only '
                    || 'figure (F0222, Sichuan 2020) is the revenue of enterprises above designated size: a lower '
                    || 'bound of revenue, not output, for one province in one year, which gives no value; the '
                    || 'provinces report equipment without C39'
        end as null_reason,
        units.figure_ids,
        units.prior_ids,
        units.specialty_ids
    from units
    inner join sectors on units.sector_code = sectors.sector_code
)

select * from final
