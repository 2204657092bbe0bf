-- One row per reported figure: the unit token converted to its base unit
-- (seeds/unit_conversions.csv) and the value qualified by the words of the unit note
-- (seeds/value_qualifiers.csv: a target, a lower bound such as '超' or 'exceed', a rounded
-- value). The original value and unit stay beside the normalised ones. An unknown unit
-- leaves base_unit and value_base NULL; the figure is rejected in
-- int_reported_figures_checked.

with

figures as (
    select * from {{ ref('int_figures_resolved') }}
),

units as (
    select * from {{ ref('stg_reference__unit_conversions') }}
),

qualifiers as (
    select * from {{ ref('stg_reference__value_qualifiers') }}
),

qualified as (
    -- The first matching pattern by priority, then pattern; none: the value is exact.
    select
        figures.figure_id,
        qualifiers.qualifier
    from figures
    inner join qualifiers
        on contains(lower(coalesce(figures.unit_note, '')), lower(qualifiers.pattern))
    qualify row_number() over (
            partition by figures.figure_id
            order by qualifiers.priority, qualifiers.pattern
        ) = 1
),

final as (
    select
        figures.*,
        units.base_unit,
        units.unit_family,
        units.factor_to_base,
        -- Rounded to 1/100 of the base unit so that 17571.1 x 10^8 is not stored as
        -- 1757109999999.9998; factors of 1 keep every decimal (coefficients).
        case
            when units.factor_to_base = 1 then figures.value_original
            else round(figures.value_original * units.factor_to_base, 2)
        end as value_base,
        coalesce(qualified.qualifier, 'exact') as value_qualifier,
        coalesce(qualified.qualifier = 'lower_bound', false) as is_lower_bound
    from figures
    left join units on figures.unit_token = units.unit_token
    left join qualified on figures.figure_id = qualified.figure_id
)

select * from final
