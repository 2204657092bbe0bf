-- One row per area x division x year the user supplied (`chengyu build --sector-output
-- PATH`): the value converted to yuan (seeds/unit_conversions.csv), with the file and line
-- it was read from. These rows replace estimates in int_sector_output cell by cell.
-- Without a file: no rows.

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

final as (
    select
        supplied.area_code,
        supplied.sector_code,
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
    left join files on true
)

select * from final
