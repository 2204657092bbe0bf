-- One row per figure the user supplied (`chengyu build --sector-output PATH`): the value
-- converted to yuan (seeds/unit_conversions.csv), the divisions it sums, and the file and
-- line it was read from. Every figure is a hard constraint of the panel fit
-- (int_panel_constraints). A figure of one division at a member area covers one cell,
-- which it replaces (is_single_cell); a figure of a province, of several divisions
-- ('C36+C37') or of the whole provincial equipment definition ('equipment') constrains the
-- sum of the cells it covers. Without a file: no rows.

with

supplied as (
    select * from {{ ref('stg_inputs__user_sector_output') }}
),

files as (
    select * from {{ ref('stg_inputs__load_audit') }}
    where kind = 'sector_output'
),

units as (
    select * from {{ ref('stg_reference__unit_conversions') }}
),

areas as (
    select * from {{ ref('stg_reference__areas') }}
),

equipment as (
    select
        list(
            sector_code
            order by sector_code
        ) as sector_codes
    from {{ ref('stg_reference__sectors') }}
    where in_provincial_equipment_definition
),

final as (
    select
        supplied.area_code,
        supplied.sector_code,
        case
            when supplied.sector_code = 'equipment' then equipment.sector_codes
            else list_sort(string_split(supplied.sector_code, '+'))
        end as sector_codes,
        areas.cluster_role = 'member' and supplied.sector_code not like '%+%'
        and supplied.sector_code <> 'equipment' as is_single_cell,
        supplied.year,
        supplied.value_original,
        supplied.unit_original,
        round(supplied.value_original * units.factor_to_base, 2) as output_value_yuan,
        supplied.measure,
        supplied.source,
        supplied.basis,
        files.file as supplied_file,
        files.sha256 as supplied_file_sha256,
        supplied.supplied_line
    from supplied
    left join units on supplied.unit_original = units.unit_token
    left join areas on supplied.area_code = areas.area_code
    cross join equipment
    left join files on true
)

select * from final
