"""The panel estimator (chengyu_cluster.estimation.panel_fit) on small cases worked out by hand.

Notation of the comments: p the prior, v_i = (sd_i p_i)^2 a cell's prior variance, a the
constraint's coefficients, r = b - a'p what the prior misses. With one equality the fit
is the weighted least-squares projection
    x = p + V a (a'V a)^-1 r,
i.e. the Lagrange conditions (x_i - p_i) / v_i = lambda a_i with lambda = r / (a'V a).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from chengyu_cluster.estimation.calibration import cross_validate_analytic
from chengyu_cluster.estimation.panel_fit import (
    CommonFactor,
    Constraint,
    Independent,
    InfeasibleConstraintsError,
    PriorPanel,
    ShareNoise,
    fit_panel,
    log_sd_from_range,
    monte_carlo,
)
from chengyu_cluster.estimation.panel_tables import FIT_INPUT_COLUMNS

A1, A2, B1, B2 = ("A", "k1"), ("A", "k2"), ("B", "k1"), ("B", "k2")


def two_by_two(sd=0.1) -> PriorPanel:
    # Areas A and B x divisions k1 and k2; priors 10, 20, 30, 40, each with an
    # independent relative sd of 10 %: variances (0.1 x 10)^2 = 1, (0.1 x 20)^2 = 4, 9, 16.
    return PriorPanel([A1, A2, B1, B2], [10.0, 20.0, 30.0, 40.0], [Independent(np.full(4, sd))])


def test_one_equality_is_the_weighted_least_squares_projection():
    # A's total = 36; the prior gives 30, so r = 6; a'Va = 1 + 4 = 5; lambda = 6/5 = 1.2.
    # x_A1 = 10 + 1 x 1.2 = 11.2; x_A2 = 20 + 4 x 1.2 = 24.8; B untouched.
    fit = fit_panel(two_by_two(), [Constraint.level("A_total", [A1, A2], 36)])
    assert fit.value == pytest.approx([11.2, 24.8, 30.0, 40.0], rel=1e-9)
    c = fit.constraint("A_total")
    assert c.met and c.binding and c.prior_value == pytest.approx(30.0)
    assert abs(c.residual) < 1e-8
    # Objective 1/2 sum (x - p)^2 / v = 1/2 (1.2^2 / 1 + 4.8^2 / 4) = 1/2 (1.44 + 5.76) = 3.6.
    assert fit.objective == pytest.approx(3.6, rel=1e-9)


def test_a_lower_bound_that_binds_and_one_that_does_not():
    # A >= 33: the prior's 30 is short by 3, so the bound acts as an equality at 33:
    # lambda = 3/5 = 0.6, x_A1 = 10 + 0.6 = 10.6, x_A2 = 20 + 4 x 0.6 = 22.4.
    # B >= 25: the prior's 70 already exceeds it; multiplier 0, B untouched.
    fit = fit_panel(
        two_by_two(),
        [Constraint.lower_bound("A_over_33", [A1, A2], 33), Constraint.lower_bound("B_over_25", [B1, B2], 25)],
    )
    assert fit.value == pytest.approx([10.6, 22.4, 30.0, 40.0], rel=1e-9)
    assert fit.constraint("A_over_33").binding and fit.constraint("A_over_33").met
    b = fit.constraint("B_over_25")
    assert not b.binding and b.multiplier == 0.0 and b.met and b.fitted == pytest.approx(70.0)


def test_an_upper_bound_that_binds():
    # B <= 60: 70 is 10 too much; a'Va = 9 + 16 = 25, lambda = -10/25 = -0.4:
    # x_B1 = 30 - 9 x 0.4 = 26.4, x_B2 = 40 - 16 x 0.4 = 33.6 (sum 60).
    fit = fit_panel(two_by_two(), [Constraint.upper_bound("B_under_60", [B1, B2], 60)])
    assert fit.value == pytest.approx([10.0, 20.0, 26.4, 33.6], rel=1e-9)


def test_a_growth_rate_constraint():
    # Two years of one area, priors 100 and 100 (sd 10 %: variances 100 and 100), growth
    # +10 %: x16 - 1.1 x15 = 0, a = (-1.1, 1), prior value 100 - 110 = -10, r = 10,
    # a'Va = 1.21 x 100 + 100 = 221, lambda = 10/221.
    # x15 = 100 - 110 x 10/221 = 100 - 1100/221 = 95.0226...
    # x16 = 100 + 100 x 10/221 = 100 + 1000/221 = 104.5249...; 104.5249 / 95.0226 = 1.1.
    panel = PriorPanel([2015, 2016], [100.0, 100.0], [Independent(np.full(2, 0.1))])
    fit = fit_panel(panel, [Constraint.growth("g", [2016], [2015], 0.10)])
    assert fit.value == pytest.approx([100 - 1100 / 221, 100 + 1000 / 221], rel=1e-9)
    c = fit.constraint("g")
    assert c.fitted == pytest.approx(0.10, abs=1e-10) and c.prior_value == pytest.approx(0.0)


def test_a_share_constraint():
    # a = 30, b = 70 (variances 9 and 49); a / (a + b) = 0.4: 0.6 a - 0.4 b = 0,
    # prior value 18 - 28 = -10, r = 10, a'Va = 0.36 x 9 + 0.16 x 49 = 11.08.
    # x_a = 30 + 9 x 0.6 x 10/11.08 = 34.8736..., x_b = 70 - 49 x 0.4 x 10/11.08 = 52.3105...
    panel = PriorPanel(["a", "b"], [30.0, 70.0], [Independent(np.full(2, 0.1))])
    fit = fit_panel(panel, [Constraint.share("s", ["a"], ["a", "b"], 0.4)])
    assert fit.value == pytest.approx([30 + 54 / 11.08, 70 - 196 / 11.08], rel=1e-9)
    assert fit.constraint("s").fitted == pytest.approx(0.4, abs=1e-10)


def test_a_soft_constraint_is_pulled_towards_but_not_met_when_the_priors_resist():
    # Soft A = 40 with tolerance 10 %: sd = 10 % / 2 = 5 % of 40 = 2, variance 4 added to
    # a'Va = 5: lambda = 10 / 9; x_A1 = 10 + 10/9 = 11.111, x_A2 = 20 + 40/9 = 24.444.
    # Fitted 35.556, residual -4.444 = -11.1 % of 40: outside the 10 % tolerance.
    fit = fit_panel(two_by_two(), [Constraint.level("soft_A", [A1, A2], 40, tolerance=0.10, hard=False)])
    assert fit.value[:2] == pytest.approx([10 + 10 / 9, 20 + 40 / 9], rel=1e-9)
    c = fit.constraint("soft_A")
    assert c.residual == pytest.approx(-40 / 9) and c.normalised_residual == pytest.approx(-1 / 9)
    assert c.met is False and not c.hard


def test_an_area_total_figure_spreads_across_divisions_in_proportion_to_the_priors():
    # Area A has divisions 30, 60, 10 (total 100); the user reports A's total as 120.
    # Its uncertainty is an area-wide factor (sd 20 %) plus a Dirichlet reallocation
    # among divisions (sd 10 %), whose covariance sums to zero over the area. Then
    # V a = 0.04 x 100 x p + 0 and a'Va = 0.04 x 100^2, so x = p + p x (20 / 100) =
    # 1.2 p: 36, 72, 12 - the area's mix is kept. Area B is untouched.
    keys = [("A", "k1"), ("A", "k2"), ("A", "k3"), ("B", "k1"), ("B", "k2")]
    areas = tuple(k[0] for k in keys)
    panel = PriorPanel(keys, [30.0, 60.0, 10.0, 50.0, 50.0], [CommonFactor(areas, 0.2), ShareNoise(areas, 0.1)])
    user = Constraint.level("user_A_total", [k for k in keys if k[0] == "A"], 120)
    fit = fit_panel(panel, [user])
    assert fit.value == pytest.approx([36.0, 72.0, 12.0, 50.0, 50.0], rel=1e-9)
    # The same figure with independent cell noise only would give x_i = p_i + p_i^2 x
    # 20 / (900 + 3600 + 100): 33.913, 75.652, 10.435 - the mix would shift to the
    # largest division, which is why area priors are given a common factor.
    indep = PriorPanel(keys, [30.0, 60.0, 10.0, 50.0, 50.0], [Independent(np.full(5, 0.2))])
    fit_i = fit_panel(indep, [user])
    assert fit_i.value[:3] == pytest.approx([30 + 900 * 20 / 4600, 60 + 3600 * 20 / 4600, 10 + 100 * 20 / 4600])


def test_share_noise_moves_cells_but_not_the_group_total():
    # Covariance of P x Dirichlet shares: sd^2 (P diag(p) - p p'); every row sums to
    # sd^2 (P p_i - p_i P) = 0. For p = (30, 70), sd = 0.1: 0.01 x (100 x 30 - 900) = 21.
    panel = PriorPanel(["a", "b"], [30.0, 70.0], [ShareNoise(("g", "g"), 0.1)])
    cov = panel.covariance()
    assert cov == pytest.approx(np.array([[21.0, -21.0], [-21.0, 21.0]]))
    assert cov.sum(axis=1) == pytest.approx([0.0, 0.0])


def test_positivity_binds_when_a_figure_would_push_a_cell_below_zero():
    # p = (10, 1), variances (0.1 x 10)^2 = 1 and (1.0 x 1)^2 = 1; x1 - x2 = 12.
    # Unbounded projection: r = 12 - 9 = 3, a'Va = 2, x = (11.5, -0.5): negative.
    # With x >= 0 the second cell stops at 0 and the first carries the rest: (12, 0).
    panel = PriorPanel(["x1", "x2"], [10.0, 1.0], [Independent(np.array([0.1, 1.0]))])
    fit = fit_panel(panel, [Constraint.level("diff", {"x1": 1.0, "x2": -1.0}, 12)])
    assert fit.value == pytest.approx([12.0, 0.0], abs=1e-7)
    free = fit_panel(panel, [Constraint.level("diff", {"x1": 1.0, "x2": -1.0}, 12)], nonnegative=False)
    assert free.value == pytest.approx([11.5, -0.5], rel=1e-9)


def test_an_infeasible_hard_set_raises_a_clear_error():
    # A = 10 exactly and A >= 12 cannot both hold.
    with pytest.raises(InfeasibleConstraintsError) as err:
        fit_panel(
            two_by_two(), [Constraint.level("A_is_10", [A1, A2], 10), Constraint.lower_bound("A_over_12", [A1, A2], 12)]
        )
    text = str(err.value)
    assert "A_is_10" in text and "A_over_12" in text and "cannot all hold" in text
    # A negative level for a non-negative cell: 100 % short of the target.
    with pytest.raises(InfeasibleConstraintsError) as err:
        fit_panel(two_by_two(), [Constraint.level("negative", [A1], -5)])
    assert err.value.violations == {"negative": pytest.approx(1.0)}
    # The same pair made soft fits, and the audit says which one is not met.
    fit = fit_panel(
        two_by_two(),
        [
            Constraint.level("A_is_10", [A1, A2], 10, tolerance=0.01, hard=False),
            Constraint.lower_bound("A_over_12", [A1, A2], 12),
        ],
    )
    assert fit.constraint("A_over_12").met and fit.constraint("A_is_10").met is False


def test_cells_without_a_prior_are_null_with_their_reason_unless_a_figure_gives_them():
    keys = ["c39_area", "c39_other", "c36"]
    panel = PriorPanel(
        keys,
        [np.nan, np.nan, 50.0],
        [Independent(np.full(3, 0.1))],
        null_reason=["no figure splits C39 by area", None, None],
    )
    fit = fit_panel(
        panel,
        [
            Constraint.level("sum_with_null", ["c39_area", "c36"], 80),  # names a NULL cell
            Constraint.level("user_c39_other", ["c39_other"], 5),  # gives a cell exactly
            Constraint.level("with_fixed", ["c39_other", "c36"], 60),  # 5 + c36 = 60 -> c36 = 55
        ],
    )
    assert math.isnan(fit["c39_area"]) and fit.basis_reason[0] == "no figure splits C39 by area"
    assert fit["c39_other"] == 5.0 and fit.basis_reason[1].startswith("no prior; given exactly")
    assert fit["c36"] == pytest.approx(55.0)
    c = fit.constraint("sum_with_null")
    assert c.status.startswith("not evaluable") and c.met is None and "c39_area" in c.status


def test_an_exact_figure_for_a_cell_collapses_its_interval():
    panel = two_by_two(sd=0.2)
    cons = [Constraint.level("user_A2", [A2], 25.0)]
    mc = monte_carlo(panel, cons, n_draws=300, seed=11)
    p5, p50, p95 = mc.quantiles()
    assert p5[1] == p95[1] == 25.0  # exactly: the cell is set to the figure in every draw
    # The other cells keep their prior spread: a 90 % interval of about
    # exp(+-1.645 x 0.2) = 0.72x .. 1.39x, i.e. width about 0.67 of the median.
    for i in (0, 2, 3):
        assert 0.5 < (p95[i] - p5[i]) / p50[i] < 0.85


def test_hard_constraints_hold_in_every_draw_and_soft_ones_vary():
    cons = [
        Constraint.level("A_total", [A1, A2], 36),
        Constraint.level("B_soft", [B1, B2], 80, tolerance=0.05, hard=False),
    ]
    mc = monte_carlo(two_by_two(), cons, n_draws=200, seed=3)
    assert mc.draws[:, 0] + mc.draws[:, 1] == pytest.approx(np.full(200, 36.0), rel=1e-9)
    b = mc.draws[:, 2] + mc.draws[:, 3]
    assert b.std() > 0.5
    assert np.all(mc.draws >= 0)


def test_the_monte_carlo_is_deterministic_with_its_seed():
    cons = [
        Constraint.lower_bound("A_over_33", [A1, A2], 33),
        Constraint.growth("g", [B2], [B1], 0.2, tolerance=0.02, hard=False),
    ]
    one = monte_carlo(two_by_two(0.3), cons, n_draws=50, seed=42)
    two = monte_carlo(two_by_two(0.3), cons, n_draws=50, seed=42)
    other = monte_carlo(two_by_two(0.3), cons, n_draws=50, seed=43)
    assert np.array_equal(one.draws, two.draws)
    assert not np.array_equal(one.draws, other.draws)
    # The lower bound holds in every draw.
    assert np.all(one.draws[:, 0] + one.draws[:, 1] >= 33 - 1e-8)


def test_share_of_draws_in_which_a_flag_holds():
    mc = monte_carlo(two_by_two(0.3), [], n_draws=400, seed=5)
    # B1 > B2 needs 30 e^(0.3 z1) > 40 e^(0.3 z2): z1 - z2 > ln(4/3)/0.3 = 0.959, with
    # z1 - z2 ~ N(0, 2): P = 1 - Phi(0.959 / 1.414) = 1 - Phi(0.678) = 0.249.
    share = mc.share_of_draws(mc.draws[:, 2] > mc.draws[:, 3])
    assert share == pytest.approx(0.249, abs=0.06)


def test_log_sd_from_a_range():
    # 0.5x .. 2x as a 90 % interval: ln(4) / (2 x 1.6449) = 1.3863 / 3.2897 = 0.4214.
    assert float(log_sd_from_range(0.5, 2.0)) == pytest.approx(0.4214, abs=1e-4)
    panel = PriorPanel.from_ranges(["a"], [100.0], [50.0], [200.0])
    assert panel.covariance()[0, 0] == pytest.approx((0.4214 * 100) ** 2, rel=1e-3)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="not in the panel"):
        fit_panel(two_by_two(), [Constraint.level("x", [("C", "k1")], 1)])
    with pytest.raises(ValueError, match="soft constraint needs a tolerance"):
        Constraint.level("x", [A1], 1, hard=False)
    with pytest.raises(ValueError, match="unique"):
        fit_panel(two_by_two(), [Constraint.level("x", [A1], 11), Constraint.level("x", [A2], 21)])


def test_a_persistent_division_mix_carries_a_share_figure_to_other_years():
    # Area A in 2015 (total 100) and 2016 (total 200), divisions k1 and k2 with the same
    # mix 0.3 / 0.7 in both years; one Dirichlet share vector (sd 0.1) applies to both
    # years, each year keeping its total. Covariance sd^2 P_b P_b' (delta s_k - s_k s_l):
    #   (2015 k1, 2016 k1): 0.01 x 100 x 200 x (0.3 - 0.09) = 42
    #   (2015 k1, 2015 k2): 0.01 x 100 x 100 x (-0.21)     = -21
    keys = [(2015, "k1"), (2015, "k2"), (2016, "k1"), (2016, "k2")]
    comp = ShareNoise(("A",) * 4, 0.1, blocks=tuple(t for t, _ in keys), parts=tuple(k for _, k in keys))
    panel = PriorPanel(keys, [30.0, 70.0, 60.0, 140.0], [comp])
    cov = panel.covariance()
    assert cov[0, 2] == pytest.approx(42.0) and cov[0, 1] == pytest.approx(-21.0)
    # The covariance has one direction J = p_i (e_k - w) = (21, -21, 42, -42): a 2015 share
    # of 0.4 (30 + 21 t = 40, t = 10/21) moves 2016's k1 to 60 + 42 x 10/21 = 80 = 0.4 x 200.
    fit = fit_panel(panel, [Constraint.share("k1_2015", [(2015, "k1")], [(2015, "k1"), (2015, "k2")], 0.4)])
    assert fit.value == pytest.approx([40.0, 60.0, 80.0, 120.0], rel=1e-6)
    # Draws: each year keeps its total, and the mix is the same in both years.
    draws = panel.draw(100, np.random.default_rng(0))
    assert draws[:, 0] + draws[:, 1] == pytest.approx(np.full(100, 100.0))
    assert draws[:, 2] + draws[:, 3] == pytest.approx(np.full(100, 200.0))
    assert draws[:, 2] / draws[:, 0] == pytest.approx(np.full(100, 2.0))
    assert draws[:, 0].std() > 1.0


def test_the_table_interface_of_the_dbt_models():
    import pandas as pd

    from chengyu_cluster.estimation.panel_tables import fit_tables

    # Member M (C33 30, C36 70) and the rest of its province R (C33 50, C36 50), one
    # year. M has no C39 prior. Components: one factor per unit (sd 0.2) and a mix
    # (sd 0.1) within each unit. Figures: the province's C33 + C36 = 240 (hard; prior
    # 200) and a user's total for M of 120 (hard; prior 100).
    # The user figure fixes M at 1.2 x its prior (36, 84): the factor-plus-mix covariance
    # spreads a unit total in proportion. R then carries 240 - 120 = 120 = 1.2 x 100:
    # (60, 60).
    cells = [
        ("M", "C33", 2020, 30.0, None),
        ("M", "C36", 2020, 70.0, None),
        ("M", "C39", 2020, None, "no figure splits C39 by area"),
        ("R", "C33", 2020, 50.0, None),
        ("R", "C36", 2020, 50.0, None),
    ]
    priors = pd.DataFrame(cells, columns=FIT_INPUT_COLUMNS[0])
    comp_rows = []
    for unit, sector, year, prior, _ in cells:
        if prior is not None:
            comp_rows.append((unit, sector, year, "level", "common_factor", unit, 0.2, None, None))
            comp_rows.append((unit, sector, year, "mix", "share", unit, 0.1, None, None))
    components = pd.DataFrame(
        comp_rows,
        columns=FIT_INPUT_COLUMNS[1],
    )
    constraints = pd.DataFrame(
        [
            ("F1", "level", "=", 240.0, 0.0, True, "province total"),
            ("U1", "level", "=", 120.0, 0.0, True, "user area total"),
            ("F2", "level", "=", 50.0, 0.1, False, "names C39"),
        ],
        columns=FIT_INPUT_COLUMNS[2],
    )
    terms = pd.DataFrame(
        [("F1", "numerator", u, s, 2020, 1.0) for u in ("M", "R") for s in ("C33", "C36")]
        + [("U1", "numerator", "M", s, 2020, 1.0) for s in ("C33", "C36")]
        + [("F2", "numerator", "M", "C39", 2020, 1.0)],
        columns=FIT_INPUT_COLUMNS[3],
    )
    out = fit_tables(priors, components, constraints, terms, n_draws=50, seed=1)
    got = out["cells"].set_index(["panel_unit", "sector_code"])
    assert got.loc[("M", "C33"), "fitted_yuan"] == pytest.approx(36.0)
    assert got.loc[("M", "C36"), "fitted_yuan"] == pytest.approx(84.0)
    assert got.loc[("R", "C33"), "fitted_yuan"] == pytest.approx(60.0)
    assert got.loc[("M", "C39"), "fitted_yuan"] is pd.NA
    assert got.loc[("M", "C39"), "null_reason"] == "no figure splits C39 by area"
    audit = out["audit"].set_index("constraint_id")
    assert audit.loc["F1", "is_met"] and audit.loc["U1", "is_met"]
    assert audit.loc["F2", "status"].startswith("not evaluable")
    # Draws: 4 known cells x 50 draws; the user total holds in each.
    draws = out["draws"]
    assert len(draws) == 200 and set(draws["draw_id"]) == set(range(1, 51))
    m_total = draws[draws.panel_unit == "M"].groupby("draw_id")["value_yuan"].sum()
    assert m_total.to_numpy() == pytest.approx(np.full(50, 120.0))


def test_fit_relations_reads_duckdb_relations_and_gives_pandas_tables():
    """dbt-duckdb hands the Python models DuckDB relations: fit_relations projects the fit's
    columns (dropping the others), keeps constraints whose exclusion is NULL and returns the
    pandas tables of fit_tables. One unit, two cells with priors 40 and 60 (factor sd 0.2),
    one hard total of 120 and one excluded total of 500: the fit scales both cells by
    120 / 100 -> 48 and 72; the excluded figure does not appear in the audit."""
    import duckdb
    import pandas as pd

    from chengyu_cluster.estimation.panel_tables import fit_relations, is_spark_frame

    con = duckdb.connect()
    con.execute(
        "create table cells as select * from (values ('U', 'C33', 2020, 40.0, null, 'x'), "
        "('U', 'C36', 2020, 60.0, null, 'y')) t(panel_unit, sector_code, year, prior_yuan, null_reason, "
        "extra)"
    )
    con.execute(
        "create table components as select panel_unit, sector_code, year, 'level' as component_id, "
        "'common_factor' as component_kind, 'U' as group_label, 0.2 as sd, null as block_label, "
        "null as part_label, 'ignored' as prior_ids from cells"
    )
    con.execute(
        "create table constraints as select * from (values ('T', 'level', '=', 120.0, 0.0, true, 'total', "
        "null), ('X', 'level', '=', 500.0, 0.0, true, 'excluded', 'not this scope')) "
        "t(constraint_id, kind, sense, target, tolerance, is_hard, note, exclusion)"
    )
    con.execute(
        "create table terms as select id as constraint_id, 'numerator' as role, panel_unit, sector_code, "
        "year, 1.0 as coefficient from cells, (values ('T'), ('X')) v(id)"
    )
    relations = [con.table(name) for name in ("cells", "components", "constraints", "terms")]
    assert not is_spark_frame(relations[0])
    out = fit_relations(*relations, 20, 7)
    assert isinstance(out["cells"], pd.DataFrame)
    fitted = out["cells"].set_index("sector_code")["fitted_yuan"]
    assert fitted["C33"] == pytest.approx(48.0) and fitted["C36"] == pytest.approx(72.0)
    assert list(out["audit"]["constraint_id"]) == ["T"]
    assert len(out["draws"]) == 40


def test_the_fit_tables_as_spark_rows_and_schema():
    """What SparkTables hands to spark.createDataFrame: the SQL types DuckDB gives the same
    pandas dtypes, and plain Python values with pd.NA as None (NULL), a float64 NaN kept."""
    import pandas as pd

    from chengyu_cluster.estimation.panel_tables import is_spark_frame, plain_rows, spark_schema

    frame = pd.DataFrame(
        {
            "unit": pd.Series(["a", None], dtype="string"),
            "year": np.array([2020, 2021], dtype=np.int32),
            "value": pd.Series([1.5, None], dtype="Float64"),
            "flag": pd.Series([True, None], dtype="boolean"),
            "draw": np.array([0.5, np.nan]),
        }
    )
    assert spark_schema(frame) == "`unit` string, `year` int, `value` double, `flag` boolean, `draw` double"
    rows = plain_rows(frame)
    assert rows[0] == ("a", 2020, 1.5, True, 0.5)
    assert [type(v) for v in rows[0]] == [str, int, float, bool, float]
    assert rows[1][:4] == (None, 2021, None, None) and math.isnan(rows[1][4])
    assert not is_spark_frame(frame)
    # A dtype with no Spark spelling (datetime64) is named with its column, not a KeyError.
    with pytest.raises(TypeError, match=r"no Spark column type for \{'when': 'datetime64\[\w+\]'\}"):
        spark_schema(frame.assign(when=pd.to_datetime(["2020-01-01", "2021-01-01"])))


def test_a_not_evaluable_figure_names_its_missing_cells_in_panel_order():
    """The status lists the first four cells without a prior in the panel's order, whatever
    the order of the figure's terms, so two runs (two engines) write the same text. Before,
    it followed a set of tuples of strings, whose order changes with each process's hash seed.
    Cells m1..m6 have no prior, c has 10: the figure names them in reverse."""
    keys = ["m1", "m2", "m3", "m4", "m5", "m6", "c"]
    panel = PriorPanel(keys, [np.nan] * 6 + [10.0], [Independent(np.full(7, 0.1))])
    fit = fit_panel(panel, [Constraint.level("f", list(reversed(keys)), 100, hard=False, tolerance=0.1)])
    assert fit.constraint("f").status == "not evaluable: names cells without a prior or figure: m1, m2, m3, m4 ..."


def test_a_lower_bound_gives_the_truncated_normal_posterior_not_a_pile_at_the_bound():
    # One cell, prior N(10, 2^2) (Independent sd 0.2 at p = 10: variance (0.2 x 10)^2 = 4),
    # hard bound x >= 12. The posterior is the normal truncated at 12:
    #   alpha = (12 - 10) / 2 = 1; phi(1) = 0.24197, 1 - Phi(1) = 0.15866;
    #   mean = 10 + 2 x phi(1) / (1 - Phi(1)) = 10 + 2 x 0.24197 / 0.15866 = 13.0503;
    #   quantile q: 10 + 2 x Phi^-1(Phi(1) + q (1 - Phi(1))), Phi(1) = 0.84134:
    #     q = 0.05: Phi^-1(0.84134 + 0.05 x 0.15866 = 0.84928) = 1.03334 -> 12.0667
    #     q = 0.50: Phi^-1(0.84134 + 0.50 x 0.15866 = 0.92067) = 1.40961 -> 12.8192
    #     q = 0.95: Phi^-1(0.84134 + 0.95 x 0.15866 = 0.99207) = 2.41199 -> 14.8240
    # Monte Carlo tolerance with 20,000 draws (standard errors: mean sd/sqrt(n) = 0.892/141 =
    # 0.0063; quantile sqrt(q(1-q)/n) / density: P5 0.0021, P50 0.0076, P95 0.0224), about
    # five standard errors each: mean 0.03, P5 0.015, P50 0.04, P95 0.11. Projecting each
    # prior draw onto the bound instead would put 84 % of the draws at exactly 12 (P50 = 12).
    panel = PriorPanel(["x"], [10.0], [Independent(np.array([0.2]))])
    cons = [Constraint.lower_bound("x_at_least_12", ["x"], 12.0)]
    draws = monte_carlo(panel, cons, n_draws=20_000, seed=7).draws[:, 0]
    assert draws.min() >= 12.0 - 1e-9
    assert draws.mean() == pytest.approx(13.0503, abs=0.03)
    p5, p50, p95 = np.percentile(draws, [5, 50, 95])
    assert p5 == pytest.approx(12.0667, abs=0.015)
    assert p50 == pytest.approx(12.8192, abs=0.04)
    assert p95 == pytest.approx(14.8240, abs=0.11)
    assert np.mean(np.isclose(draws, 12.0, atol=1e-6)) < 0.01


def test_positivity_gives_the_half_truncated_normal_with_every_draw_distinct():
    # One cell, prior N(1, 2^2) (Independent sd 2 at p = 1: variance (2 x 1)^2 = 4), no figure;
    # x >= 0 truncates it: alpha = (0 - 1) / 2 = -0.5, Phi(-0.5) = 0.30854, mass kept
    # 1 - Phi(-0.5) = 0.69146, phi(-0.5) = 0.35207;
    #   mean = 1 + 2 x 0.35207 / 0.69146 = 2.01832;
    #   quantile q: 1 + 2 x Phi^-1(0.30854 + q x 0.69146):
    #     q = 0.05: Phi^-1(0.34311) = -0.40399 -> 0.19202
    #     q = 0.50: Phi^-1(0.65427) =  0.39687 -> 1.79374
    #     q = 0.95: Phi^-1(0.96543) =  1.81746 -> 4.63493
    # 31 % of unconstrained draws would be negative. Tolerances, about five standard errors
    # with 20,000 draws (sd of the truncated normal 1.3945; density at P5/P50/P95 0.266,
    # 0.267, 0.0555): mean 0.05, P5 0.03, P50 0.07, P95 0.14.
    panel = PriorPanel(["x"], [1.0], [Independent(np.array([2.0]))])
    draws = monte_carlo(panel, [], n_draws=20_000, seed=11).draws[:, 0]
    assert draws.min() >= 0.0
    assert len(np.unique(draws)) == len(draws)
    assert draws.mean() == pytest.approx(2.01832, abs=0.05)
    p5, p50, p95 = np.percentile(draws, [5, 50, 95])
    assert p5 == pytest.approx(0.19202, abs=0.03)
    assert p50 == pytest.approx(1.79374, abs=0.07)
    assert p95 == pytest.approx(4.63493, abs=0.14)


def test_an_equality_that_pushes_a_cell_below_zero_in_most_draws_gives_its_truncated_posterior():
    # Cells a ~ N(1, 2^2) (sd 2 at p = 1) and b ~ N(10, 2^2) (sd 0.2 at p = 10), hard a + b = 8.
    # Given the sum, a ~ N(1 + 4/8 x (8 - 11), 4 - 4^2/8) = N(-0.5, 2): negative in
    # Phi(0.5 / 1.41421) = Phi(0.35355) = 63.8 % of the unconstrained draws. With a >= 0 and
    # b = 8 - a >= 0 it is N(-0.5, 2) truncated to [0, 8] (the upper end 6.01 sd away: no mass):
    #   alpha = 0.35355, phi(alpha) = 0.37477, 1 - Phi(alpha) = 0.36184;
    #   mean = -0.5 + 1.41421 x 0.37477 / 0.36184 = 0.96477;
    #   quantile q: -0.5 + 1.41421 x Phi^-1(0.63816 + q x 0.36184):
    #     q = 0.05: Phi^-1(0.65626) = 0.40226 -> 0.06889
    #     q = 0.50: Phi^-1(0.81908) = 0.91187 -> 0.78958
    #     q = 0.95: Phi^-1(0.98191) = 2.09486 -> 2.46258
    # Tolerances, about five standard errors with 20,000 draws (sd 0.766; density at
    # P5/P50/P95 0.719, 0.515, 0.0868): mean 0.03, P5 0.011, P50 0.035, P95 0.09.
    panel = PriorPanel(["a", "b"], [1.0, 10.0], [Independent(np.array([2.0, 0.2]))])
    draws = monte_carlo(panel, [Constraint.level("sum", ["a", "b"], 8.0)], n_draws=20_000, seed=5).draws
    a, b = draws[:, 0], draws[:, 1]
    assert a + b == pytest.approx(np.full(len(a), 8.0), rel=1e-9)
    assert a.min() >= 0.0 and b.min() >= 0.0
    assert len(np.unique(draws, axis=0)) == len(draws)
    assert a.mean() == pytest.approx(0.96477, abs=0.03)
    p5, p50, p95 = np.percentile(a, [5, 50, 95])
    assert p5 == pytest.approx(0.06889, abs=0.011)
    assert p50 == pytest.approx(0.78958, abs=0.035)
    assert p95 == pytest.approx(2.46258, abs=0.09)


def test_thousands_of_repeated_hard_figures_reduce_to_one_row_per_cell():
    # 3,000 user figures over the 4 cells of two_by_two, all consistent with 12, 18, 30, 40:
    # every one of A1+A2 = 30, B1 = 30, A2 = 18 repeated 1,000 times. The dual keeps 3 rows
    # (the rank of the system), every figure is met, and A1 = 30 - 18 = 12 exactly.
    cons = [
        Constraint.level(f"u{i}-{j}", cells, target)
        for i in range(1000)
        for j, (cells, target) in enumerate((([A1, A2], 30.0), ([B1], 30.0), ([A2], 18.0)))
    ]
    fit = fit_panel(two_by_two(), cons)
    assert int(np.sum(fit._rows.hard)) == 3
    assert all(c.met for c in fit.constraints)
    assert fit[A1] == pytest.approx(12.0, rel=1e-9) and fit[A2] == pytest.approx(18.0, rel=1e-9)


def test_hard_levels_checked_on_their_own_like_a_users_file():
    from chengyu_cluster.estimation.panel_fit import check_levels_feasible

    check_levels_feasible([("a", [A1, A2], 1200.0), ("b", [A1], 500.0)])
    with pytest.raises(InfeasibleConstraintsError, match="misses by"):
        check_levels_feasible([("a", [A1, A2], 1200.0), ("b", [A2, A1], 900.0)])


def test_leave_one_out_in_closed_form_predicts_each_figure_from_the_others():
    # One cell, prior 10 with sd 10 % (variance 1). F1: the cell reads 12, soft, tolerance
    # 2/12 (sd = tolerance / 2 = 1/12 of 12 = 1, variance 1). F2: the cell is 14, hard.
    # F2 left out: the posterior given F1 is N((10 + 12) / 2, 1 / (1 + 1)) = N(11, 0.5) and a
    # hard figure has no error of its own: P50 11, P95 = 11 + 1.645 x sqrt(0.5) = 12.163,
    # so 14 lies outside; median error (11 - 14) / 14 = -0.2143.
    # F1 left out: F2 fixes the cell at 14; F1 reads it with its own sd 1: P5 = 14 - 1.645
    # = 12.355, P25 = 14 - 0.674 = 13.326: 12 lies outside both; error (14 - 12) / 12 = 0.1667.
    panel = PriorPanel([A1], [10.0], [Independent(np.array([0.1]))])
    fit = fit_panel(
        panel, [Constraint.level("F1", [A1], 12.0, tolerance=2 / 12, hard=False), Constraint.level("F2", [A1], 14.0)]
    )
    by_id = {r["constraint_id"]: r for r in cross_validate_analytic(fit)}
    f2, f1 = by_id["F2"], by_id["F1"]
    assert f2["level"] == "area_division" and f2["status"] == "left out"
    assert f2["p50"] == pytest.approx(11.0, rel=1e-6)
    assert f2["p95"] == pytest.approx(11.0 + 1.6448536 * math.sqrt(0.5), rel=1e-6)
    assert not f2["covered_p90"] and f2["median_error"] == pytest.approx(-3 / 14, rel=1e-6)
    assert f1["p50"] == pytest.approx(14.0, rel=1e-6)
    assert f1["p5"] == pytest.approx(14.0 - 1.6448536, rel=1e-5)
    assert not f1["covered_p50"] and not f1["covered_p90"]
    assert f1["median_error"] == pytest.approx(2 / 12, rel=1e-6)


def test_leave_one_out_of_a_bound_the_fit_does_not_hold_on():
    # Prior 10, variance 1; a lower bound >= 8 does not bind (multiplier 0), so it is
    # predicted from the prior alone: N(10, 1), P5 = 8.355 >= 8, covered, error 0 (a bound's
    # error is only its violation).
    panel = PriorPanel([A1], [10.0], [Independent(np.array([0.1]))])
    (record,) = cross_validate_analytic(fit_panel(panel, [Constraint.lower_bound("L", [A1], 8.0)]))
    assert record["p50"] == pytest.approx(10.0) and record["p5"] == pytest.approx(10.0 - 1.6448536, rel=1e-6)
    assert record["covered_p90"] and record["median_error"] == 0.0


@pytest.mark.parametrize(
    ("above_scale", "expected"),
    [
        # Above the prior of 100: the cell rises to the figure, 120 (the bound binds).
        (120.0, 120.0),
        # Below it: the bound holds already and the cell keeps its prior, 100.
        (80.0, 100.0),
    ],
)
def test_an_above_scale_user_figure_bounds_the_cell_from_below(above_scale, expected):
    import pandas as pd

    from chengyu_cluster.estimation.panel_tables import fit_tables

    # One member cell M/C34 with prior 100 (sd 20 %), and a user's above-scale (规模以上)
    # figure for it, as int_panel_constraints writes it: a hard '>=' level of the cell.
    priors = pd.DataFrame([("M", "C34", 2022, 100.0, None)], columns=FIT_INPUT_COLUMNS[0])
    components = pd.DataFrame(
        [("M", "C34", 2022, "cell", "independent", None, 0.2, None, None)],
        columns=FIT_INPUT_COLUMNS[1],
    )
    constraints = pd.DataFrame(
        [("user:M:C34:2022:above_scale", "level", ">=", above_scale, 0.0, True, "规模以上")],
        columns=FIT_INPUT_COLUMNS[2],
    )
    terms = pd.DataFrame(
        [("user:M:C34:2022:above_scale", "numerator", "M", "C34", 2022, 1.0)],
        columns=FIT_INPUT_COLUMNS[3],
    )
    out = fit_tables(priors, components, constraints, terms, n_draws=20, seed=1)
    assert out["cells"]["fitted_yuan"].iloc[0] == pytest.approx(expected)
    audit = out["audit"].iloc[0]
    assert audit["is_met"] and bool(audit["is_binding"]) == (above_scale > 100.0)
    # The bound holds in every draw: no draw below the figure.
    assert out["draws"]["value_yuan"].min() >= above_scale - 1e-6


def test_inputs_a_few_ulps_apart_in_any_row_order_give_the_same_draws():
    """DuckDB and Spark give the fit the same tables with numbers a few ulps apart (they sum and
    take logarithms in different orders) and rows in any order; the Gibbs sampler's chains
    would carry such a difference into single draws (seen: 1e-9 to 1e-2 relative), so the fit
    reads its numbers to 10 significant digits and sorts the rows: the draws are identical.
    Six cells with the same prior sd (a repeated eigenvalue, whose eigenvectors LAPACK may
    return in any basis), a hard total, a binding lower bound on two of them and a soft level."""
    import pandas as pd

    from chengyu_cluster.estimation.panel_tables import _TABLE_CACHE, fit_tables

    sectors = ["C33", "C34", "C35", "C36", "C37", "C38"]
    priors = pd.DataFrame(
        [("M", s, 2020, 1.0e10 / 3.0 * (1 + i % 2), None) for i, s in enumerate(sectors)],
        columns=FIT_INPUT_COLUMNS[0],
    )
    components = pd.DataFrame(
        [("M", s, 2020, "cell", "independent", None, 0.7, None, None) for s in sectors],
        columns=FIT_INPUT_COLUMNS[1],
    )
    constraints = pd.DataFrame(
        [
            ("F1", "level", "=", 3.0e10, 0.0, True, "area total"),
            ("F2", "level", ">=", 1.2e10, 0.0, True, "C33 + C34 at least (above scale)"),
            ("F3", "level", "=", 0.4e10, 0.1, False, "C38"),
        ],
        columns=FIT_INPUT_COLUMNS[2],
    )
    terms = pd.DataFrame(
        [("F1", "numerator", "M", s, 2020, 1.0) for s in sectors]
        + [("F2", "numerator", "M", s, 2020, 1.0) for s in ("C33", "C34")]
        + [("F3", "numerator", "M", "C38", 2020, 1.0)],
        columns=FIT_INPUT_COLUMNS[3],
    )

    def nudged(frame, column, ulps):  # every number moved by a few ulps, rows reversed
        out = frame.copy()
        values = out[column].to_numpy(dtype=float)
        for _ in range(ulps):
            values = np.nextafter(values, np.inf)
        out[column] = values
        return out.iloc[::-1].reset_index(drop=True)

    first = fit_tables(priors, components, constraints, terms, n_draws=40, seed=3)["draws"]
    _TABLE_CACHE.clear()
    second = fit_tables(
        nudged(priors, "prior_yuan", 2),
        nudged(components, "sd", 1),
        nudged(constraints, "target", 3),
        nudged(terms, "coefficient", 1),
        n_draws=40,
        seed=3,
    )["draws"]
    assert first["value_yuan"].nunique() > 100  # the chains moved: 40 distinct draws of 6 cells
    pd.testing.assert_frame_equal(first, second, check_exact=True)


def test_round_significant_keeps_ten_digits_and_leaves_what_it_cannot_round():
    from chengyu_cluster.estimation.panel_tables import round_significant

    # 732,780,000,000 (F0039) and its neighbours 1 ulp either side (1.2e-4 apart) give the
    # same number; 0.0619... to 10 digits is 0.06191234568; 0, NaN, +-inf and 1e-300 stay.
    f0039 = 7.3278e11
    near = [np.nextafter(f0039, 0.0), f0039, np.nextafter(f0039, np.inf)]
    assert list(round_significant(near)) == [f0039] * 3
    assert round_significant([0.061912345678]) == pytest.approx([0.06191234568], rel=0, abs=1e-17)
    kept = round_significant([0.0, np.nan, np.inf, -np.inf, 1e-300])
    assert kept[0] == 0.0 and np.isnan(kept[1]) and kept[2] == np.inf and kept[3] == -np.inf and kept[4] == 1e-300


def test_a_hard_total_holds_in_every_draw_beside_a_figure_far_below_its_prior():
    # Two big cells (prior 5e11 each, sd 30 %) with a hard total of 1e12, and a small cell
    # (prior 1e8, sd 100 %) with a soft figure of 1e5, a thousandth of its prior. Rows are
    # scaled by their targets, so the small figure's row has a variance of (1e8 / 1e5)^2 =
    # 1e6 against the total's (2 x 1.5e11^2) / 1e12^2 = 0.045; the ridge that keeps the hard
    # system invertible (1e-12 x the largest row variance = 1e-6) would leave the total a
    # spread of about 0.1 % in the draws unless the hard rows are met by projection.
    panel = PriorPanel(["big1", "big2", "small"], [5e11, 5e11, 1e8], [Independent(np.array([0.3, 0.3, 1.0]))])
    constraints = [
        Constraint.level("total", ["big1", "big2"], 1e12),
        Constraint.level("small", ["small"], 1e5, tolerance=0.1, hard=False),
    ]
    draws = monte_carlo(panel, constraints, n_draws=200, seed=2).draws
    assert draws[:, 0] + draws[:, 1] == pytest.approx(np.full(200, 1e12), rel=1e-9)
    assert np.std(draws[:, 0]) > 1e10  # the split of the total still varies


def test_an_upper_bound_far_above_the_mean_still_holds_once_positivity_pushes_the_sum_up():
    # 1,000 cells, prior 1, sd 5 (500 %), hard sum <= 3,500. Before truncation the sum is
    # N(1,000, (5 x sqrt(1000))^2 = 158^2): the bound lies 15.8 sd above the mean, where it
    # "cannot bind". But x >= 0 makes each cell a half-normal-like N(1, 25) cut at 0, whose
    # mean is 1 + 5 x phi(0.2) / Phi(0.2) = 1 + 5 x 0.3910 / 0.5793 = 4.37: the sum of the
    # truncated cells would be about 4,370, past the bound. The bound must still hold.
    n = 1000
    panel = PriorPanel([f"c{i}" for i in range(n)], [1.0] * n, [Independent(np.full(n, 5.0))])
    bound = Constraint.upper_bound("cap", [f"c{i}" for i in range(n)], 3500.0)
    draws = monte_carlo(panel, [bound], n_draws=20, seed=4).draws
    assert draws.min() >= 0.0
    assert draws.sum(axis=1).max() <= 3500.0 * (1 + 1e-9)
