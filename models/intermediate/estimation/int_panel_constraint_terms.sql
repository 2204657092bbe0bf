-- One row per fitted constraint (int_panel_constraints without an exclusion) x role x
-- panel cell: the cells a figure sums, with coefficient 1.
--   numerator:   the figure's area's units x the divisions its scope covers x its year;
--   denominator: growth - the same cells base_year; share - the province's units.
-- An area's units: a member is its own unit; a province is its members and its rest; the
-- two provinces together are all ten units.

with

constraints as (
    select * from {{ ref('int_panel_constraints') }}
    where exclusion is null
),

units as (
    select distinct
        panel_unit,
        area_code,
        province_code,
        unit_role
    from {{ ref('int_panel_prior_cells') }}
),

areas as (
    select * from {{ ref('stg_reference__areas') }}
),

area_units as (
    select
        units.area_code,
        units.panel_unit
    from units
    where units.unit_role = 'member'
    union all
    select
        units.province_code,
        units.panel_unit
    from units
    union all
    select
        '{{ var("two_province_area_code") }}',
        units.panel_unit
    from units
),

covered as (
    select
        constraint_id,
        area_code,
        kind,
        year,
        base_year,
        {{ unnest_list('sector_codes') }} as sector_code
    from constraints
),

numerator as (
    select
        covered.constraint_id,
        'numerator' as role,
        area_units.panel_unit,
        covered.sector_code,
        covered.year
    from covered
    inner join area_units on covered.area_code = area_units.area_code
),

growth_base as (
    select
        covered.constraint_id,
        'denominator' as role,
        area_units.panel_unit,
        covered.sector_code,
        covered.base_year as year
    from covered
    inner join area_units on covered.area_code = area_units.area_code
    where covered.kind = 'growth'
),

share_whole as (
    select
        covered.constraint_id,
        'denominator' as role,
        area_units.panel_unit,
        covered.sector_code,
        covered.year
    from covered
    inner join areas on covered.area_code = areas.area_code
    inner join area_units on areas.province_code = area_units.area_code
    where covered.kind = 'share'
),

final as (
    select
        *,
        cast(1 as double) as coefficient
    from numerator
    union all
    select
        *,
        cast(1 as double) as coefficient
    from growth_base
    union all
    select
        *,
        cast(1 as double) as coefficient
    from share_whole
)

select * from final
