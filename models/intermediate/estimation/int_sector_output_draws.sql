-- One row per Monte Carlo draw x area (members and provinces) x division x panel year. Draw 0 is the fitted panel
-- (int_panel_fit_cells, NULL cells included); draws 1..var('panel_draws') are the refitted panels
-- (int_panel_fit_draws, which have no rows for NULL cells). A province is the sum of its units in the same draw,
-- NULL when one of them is. Every measure is computed on every draw: its value is draw 0, its interval the others.

with

fitted as (
    select
        0 as draw_id,
        panel_unit,
        sector_code,
        year,
        fitted_yuan as value_yuan
    from {{ ref('int_panel_fit_cells') }}
),

refitted as (
    select
        draw_id,
        panel_unit,
        sector_code,
        year,
        value_yuan
    from {{ ref('int_panel_fit_draws') }}
),

draws as (
    select * from fitted
    union all
    select * from refitted
),

units as (
    select distinct
        panel_unit,
        area_code,
        province_code,
        unit_role
    from {{ ref('int_panel_prior_cells') }}
),

final as (
    select
        draws.draw_id,
        units.area_code,
        'member' as cluster_role,
        draws.sector_code,
        draws.year,
        draws.value_yuan as output_value_yuan
    from draws
    inner join units on draws.panel_unit = units.panel_unit and units.unit_role = 'member'
    union all
    select
        draws.draw_id,
        units.province_code as area_code,
        'parent' as cluster_role,
        draws.sector_code,
        draws.year,
        case when bool_and(draws.value_yuan is not null) then sum(draws.value_yuan) end as output_value_yuan
    from draws
    inner join units on draws.panel_unit = units.panel_unit
    group by draws.draw_id, units.province_code, draws.sector_code, draws.year
)

select * from final
