-- Users' own area x sector x year output figures, from the CSV given with
-- `chengyu build --sector-output PATH` (dbt var sector_output_path). The CLI has checked
-- the file line by line before dbt runs; the dbt and GX tests check it again as loaded.
-- Without a file this model is empty with the same columns.
{%- set path = var('sector_output_path', '') | replace("'", "''") %}

with

units as (
    select * from {{ ref('unit_conversions') }}
),

{% if path %}
supplied as (
    -- The basis column is optional: union by name gives it NULL when the file lacks it.
    select *
    from read_csv(
        '{{ path }}',
        header = true,
        all_varchar = true,
        delim = ','
    )
    union all by name
    select null::varchar as basis
    where false
),
{% else %}
supplied as (
    select
        null::varchar as area_code,
        null::varchar as sector_code,
        null::varchar as year,
        null::varchar as value,
        null::varchar as unit,
        null::varchar as measure,
        null::varchar as source,
        null::varchar as basis
    where false
),
{% endif %}

final as (
    select
        trim(supplied.area_code) as area_code,
        trim(supplied.sector_code) as sector_code,
        cast(supplied.year as integer) as year,
        cast(supplied.value as double) as value_original,
        trim(supplied.unit) as unit_original,
        round(cast(supplied.value as double) * units.factor_to_base, 2) as output_value_yuan,
        trim(supplied.measure) as measure,
        trim(supplied.source) as source,
        -- reported (the default) or synthetic (generated test data).
        coalesce(nullif(trim(supplied.basis), ''), 'reported') as basis,
        '{{ path }}' as supplied_file
    from supplied
    left join units on units.unit_token = trim(supplied.unit)
)

select * from final
