"""The constrained fit of the sector-output panel: its audit (see docs/estimator.md and
src/chengyu_cluster/panel_fit.py). The three int_panel_fit_* models read the same inputs;
the fit runs once per build process and is shared through a cache."""

from chengyu_cluster.panel_fit import fit_tables


def model(dbt, session):
    dbt.config(materialized="table")
    priors = dbt.ref("int_panel_prior_cells").project(
        "panel_unit, sector_code, year, prior_yuan, null_reason").df()
    components = dbt.ref("int_panel_prior_components").project(
        "panel_unit, sector_code, year, component_id, component_kind, group_label, sd, block_label, part_label").df()
    fitted = dbt.ref("int_panel_constraints").filter("exclusion is null").project(
        "constraint_id, kind, sense, target, tolerance, is_hard, note").df()
    terms = dbt.ref("int_panel_constraint_terms").project(
        "constraint_id, role, panel_unit, sector_code, year, coefficient").df()
    out = fit_tables(priors, components, fitted, terms,
                     n_draws=int(dbt.config.get("panel_draws")), seed=int(dbt.config.get("panel_seed")))
    return out["audit"]
