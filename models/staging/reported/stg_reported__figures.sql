-- One row per row of seeds/reported_figures.csv, every column as stated and typed where
-- it parses: the year and the value as numbers (NULL when they are not), the unit split
-- into its token and its note. Nothing is resolved, converted or filtered here: the
-- entity is resolved in int_figures_resolved, the unit normalised in
-- int_figures_normalised, and a figure that cannot be used is listed by
-- audit_rejected_figures.

with

figures as (
    select * from {{ ref('reported_figures') }}
),

final as (
    select
        figure_id,
        entity_name,
        nullif(trim(entity_code), '') as entity_code_raw,
        trim(metric) as metric_code,
        try_cast(nullif(trim(year), '') as integer) as year,
        nullif(trim(year), '') as year_raw,
        trim(value) as value_raw,
        try_cast(trim(value) as double) as value_original,
        trim(unit) as unit_raw,
        -- '亿元 (stated 1万亿元)' -> token '亿元', note 'stated 1万亿元'
        trim({{ regexp_extract_group('unit', '^([^(]*)') }}) as unit_token,
        nullif(trim({{ regexp_extract_group('unit', '\\((.*)\\)\\s*$') }}), '') as unit_note,
        source as source_text,
        quote,
        lower(trim(reliability)) as reliability
    from figures
)

select * from final
