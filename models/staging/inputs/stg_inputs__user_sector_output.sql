-- Users' own area x sector x year output figures, as the chengyu input reader checked
-- and typed them (`chengyu build --sector-output PATH`). Without a file: no rows.
with

supplied as (
    select * from {{ source('inputs', 'user_sector_output') }}
),

files as (
    select * from {{ source('inputs', 'load_audit') }}
    where kind = 'sector_output'
),

units as (
    select * from {{ ref('unit_conversions') }}
),

final as (
    select
        supplied.area_code,
        supplied.sector_code,
        supplied.year,
        supplied.value as value_original,
        supplied.unit as unit_original,
        round(supplied.value * units.factor_to_base, 2) as output_value_yuan,
        supplied.measure,
        supplied.source,
        -- reported (the default) or synthetic (generated test data).
        coalesce(supplied.basis, 'reported') as basis,
        files.file as supplied_file,
        files.sha256 as supplied_file_sha256,
        supplied.line_number as supplied_line
    from supplied
    left join units on supplied.unit = units.unit_token
    left join files on true
)

select * from final
