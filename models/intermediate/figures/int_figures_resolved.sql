-- One row per reported figure: the entity resolved to an area, and for a classification
-- row to the nation and the division it names.
--   * a six-digit code is the area's own GB/T 2260 code;
--   * a code like C34 names a GB/T 4754 division, a national standard: the area is the
--     nation (seeds/areas.csv, cluster_role 'nation') and the division is kept;
--   * other codes, and empty codes by the start of the entity name, go through
--     seeds/entity_aliases.csv (510000+500000 = Sichuan and Chongqing together, ...).
-- A figure whose entity cannot be resolved keeps area_code NULL and is rejected in
-- int_reported_figures_checked.

with

figures as (
    select * from {{ ref('stg_reported__figures') }}
),

aliases as (
    select * from {{ ref('stg_reference__entity_aliases') }}
),

nation as (
    select area_code from {{ ref('stg_reference__areas') }}
    where cluster_role = 'nation'
),

final as (
    select
        figures.*,
        case
            when {{ regexp_full_match('figures.entity_code_raw', '[0-9]{6}') }} then figures.entity_code_raw
            when {{ regexp_full_match('figures.entity_code_raw', 'C[0-9]{2}') }} then nation.area_code
            else coalesce(by_code.area_code, by_name.area_code)
        end as area_code,
        case
            when {{ regexp_full_match('figures.entity_code_raw', 'C[0-9]{2}') }} then figures.entity_code_raw
        end as sector_code,
        -- What the figure is about inside the area, e.g. an input-output sector of the
        -- national table; NULL when the figure describes the area as a whole.
        case
            when by_name.match_value is not null
                then nullif(trim(replace(figures.entity_name, by_name.match_value, '')), '')
        end as subject
    from figures
    left join nation on true
    left join aliases as by_code
        on by_code.match_on = 'entity_code' and figures.entity_code_raw = by_code.match_value
    left join aliases as by_name
        on by_name.match_on = 'entity_name_prefix'
            and figures.entity_code_raw is null
            and {{ starts_with('figures.entity_name', 'by_name.match_value') }}
)

select * from final
