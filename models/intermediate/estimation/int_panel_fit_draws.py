"""The constrained fit of the sector-output panel: its draws (see docs/estimator.md and
src/chengyu_cluster/estimation/panel_fit.py). The four int_panel_fit_* models read the same inputs;
the fit runs once per build process and is shared through a cache (panel_tables.fit_tables)."""

from chengyu_cluster.estimation.panel_tables import fit_relations


def model(dbt, session):
    dbt.config(materialized="table")
    # Built after int_panel_fit_cells, which fits: this model then reads the cached fit instead of
    # holding a second dbt thread while it waits for the fit beside it.
    dbt.ref("int_panel_fit_cells")
    return fit_relations(dbt.ref("int_panel_prior_cells"), dbt.ref("int_panel_prior_components"),
                         dbt.ref("int_panel_constraints"), dbt.ref("int_panel_constraint_terms"),
                         dbt.config.get("panel_draws"), dbt.config.get("panel_seed"))["draws"]
