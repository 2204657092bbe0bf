-- One row per reported figure, typed: entity resolved to an area (and a sector for
-- classification rows), unit split into token and note and normalised to a base unit,
-- lower bounds, rounded values and targets flagged. The period comes from the metric
-- (stg_reference__metrics).
-- Nothing is filtered here: a figure that does not parse keeps NULLs and is listed by
-- audit_rejected_figures and failed by the test assert_every_figure_parses.

with

figures as (
    select * from {{ ref('reported_figures') }}
),

aliases as (
    select * from {{ ref('entity_aliases') }}
),

units as (
    select * from {{ ref('unit_conversions') }}
),

qualifiers as (
    select * from {{ ref('value_qualifiers') }}
),

sources as (
    select * from {{ ref('sources') }}
),

split as (
    select
        figure_id,
        entity_name,
        nullif(trim(entity_code), '') as entity_code_raw,
        trim(metric) as metric_code,
        nullif(trim(year), '') as year_raw,
        trim(value) as value_raw,
        trim(unit) as unit_raw,
        -- '亿元 (stated 1万亿元)' -> token '亿元', note 'stated 1万亿元'
        trim(regexp_extract(unit, '^([^(]*)', 1)) as unit_token,
        nullif(trim(regexp_extract(unit, '\((.*)\)\s*$', 1)), '') as unit_note,
        source as source_text,
        quote,
        lower(trim(reliability)) as reliability
    from figures
),

entity_resolved as (
    select
        split.*,
        case
            when regexp_full_match(entity_code_raw, '[0-9]{6}') then entity_code_raw
            -- Classification rows name a GB/T 4754 division: a national standard.
            when regexp_full_match(entity_code_raw, 'C[0-9]{2}') then 'CN'
            else coalesce(by_code.area_code, by_name.area_code)
        end as area_code,
        case
            when regexp_full_match(entity_code_raw, 'C[0-9]{2}') then entity_code_raw
        end as sector_code,
        -- What the figure is about inside the area, e.g. an input-output sector of the
        -- national table; NULL when the figure describes the area as a whole.
        case
            when by_name.match_value is not null
                then nullif(trim(replace(split.entity_name, by_name.match_value, '')), '')
        end as subject_raw
    from split
    left join aliases as by_code
        on by_code.match_on = 'entity_code' and by_code.match_value = split.entity_code_raw
    left join aliases as by_name
        on by_name.match_on = 'entity_name_prefix'
        and split.entity_code_raw is null
        and starts_with(split.entity_name, by_name.match_value)
),

with_qualifier as (
    select
        entity_resolved.*,
        (
            select q.qualifier
            from qualifiers as q
            where contains(lower(coalesce(entity_resolved.unit_note, '')), lower(q.pattern))
            order by q.priority, q.pattern
            limit 1
        ) as value_qualifier
    from entity_resolved
),

final as (
    select
        f.figure_id,
        f.area_code,
        f.sector_code,
        f.subject_raw as subject,
        f.entity_name,
        f.entity_code_raw,
        f.metric_code,
        try_cast(f.year_raw as integer) as year,
        f.year_raw,
        f.value_raw,
        try_cast(f.value_raw as double) as value_original,
        f.unit_raw,
        f.unit_token,
        f.unit_note,
        u.base_unit,
        u.unit_family,
        u.factor_to_base,
        -- Rounded to 1/100 of the base unit so that 17571.1 x 10^8 is not stored as
        -- 1757109999999.9998; factors of 1 keep every decimal (coefficients).
        case
            when u.factor_to_base = 1 then try_cast(f.value_raw as double)
            else round(try_cast(f.value_raw as double) * u.factor_to_base, 2)
        end as value_base,
        coalesce(f.value_qualifier, 'exact') as value_qualifier,
        coalesce(f.value_qualifier = 'lower_bound', false) as is_lower_bound,
        s.source_id,
        f.source_text,
        f.quote,
        f.reliability
    from with_qualifier as f
    left join units as u on u.unit_token = f.unit_token
    left join sources as s on s.source_text = f.source_text
)

select * from final
