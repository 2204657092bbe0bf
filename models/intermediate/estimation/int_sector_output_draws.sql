-- One row per Monte Carlo draw x area (members and provinces) x division x panel year:
-- the refitted panel of each draw (int_panel_fit_draws; a province is the sum of its
-- units in the same draw). NULL cells (no defensible prior, no figure) have no rows.
-- The measures' intervals and the share of draws in which a flag holds are read from it.

with

draws as (
    select * from {{ ref('int_panel_fit_draws') }}
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
        sum(draws.value_yuan) as output_value_yuan
    from draws
    inner join units on draws.panel_unit = units.panel_unit
    group by draws.draw_id, units.province_code, draws.sector_code, draws.year
)

select * from final
