-- One row per panel unit (members and the rest of each province) x division x panel year: the constrained fit
-- (int_panel_fit_cells) with the cell's prior, lineage (int_panel_cell_lineage) and whether a synthetic supplied
-- figure entered the fit. The common base of the two grains, int_sector_output_members and _provinces.

with

fit as (
    select * from {{ ref('int_panel_fit_cells') }}
),

prior_cells as (
    select * from {{ ref('int_panel_prior_cells') }}
),

lineage as (
    select * from {{ ref('int_panel_cell_lineage') }}
),

synthetic_in_fit as (
    -- The fit is one joint solve: a synthetic user figure in it moves every estimated cell.
    select count(*) > 0 as fit_uses_synthetic
    from {{ ref('int_sector_output_supplied') }}
    where basis = 'synthetic'
),

final as (
    select
        prior_cells.panel_unit,
        prior_cells.area_code,
        prior_cells.province_code,
        prior_cells.unit_role,
        prior_cells.sector_code,
        prior_cells.year,
        prior_cells.prior_ids,
        prior_cells.specialty_ids,
        {{ concat_lists('prior_cells.figure_ids', 'lineage.figure_ids') }} as figure_ids,
        lineage.figure_ids as fitted_figure_ids,
        lineage.n_area_figures,
        lineage.is_distinguished,
        fit.fitted_yuan,
        fit.p5_yuan,
        fit.p50_yuan,
        fit.p95_yuan,
        fit.prior_yuan,
        fit.null_reason,
        synthetic_in_fit.fit_uses_synthetic
    from prior_cells
    inner join fit
        on prior_cells.panel_unit = fit.panel_unit
            and prior_cells.sector_code = fit.sector_code
            and prior_cells.year = fit.year
    inner join lineage
        on prior_cells.panel_unit = lineage.panel_unit
            and prior_cells.sector_code = lineage.sector_code
            and prior_cells.year = lineage.year
    cross join synthetic_in_fit
)

select * from final
