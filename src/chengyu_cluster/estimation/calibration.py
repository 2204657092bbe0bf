"""Calibration of the panel fit's intervals: leave one figure out.

cross_validate refits the panel without each fitted figure in turn and predicts it from the
posterior draws; cross_validate_analytic predicts each in closed form from the central fit
(what the build's audit_panel_cross_validation holds). docs/estimator.md, Calibration.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
from scipy import linalg

from chengyu_cluster.estimation.panel_fit import (
    EQ,
    GE,
    LE,
    SOFT_SD_PER_TOLERANCE,
    Z90,
    Constraint,
    FitResult,
    InfeasibleConstraintsError,
    PriorPanel,
    fit_panel,
    monte_carlo,
)

#: Central intervals whose coverage the cross-validation reports (as a share, and the
#: percentiles that bound it).
CV_INTERVALS = {"p50": (25.0, 75.0), "p90": (5.0, 95.0)}


def _figure_fields(c: Constraint) -> dict:
    """What a cross-validation record says of the figure left out, before its prediction."""
    return {
        "constraint_id": c.constraint_id,
        "kind": c.kind,
        "sense": c.sense,
        "is_hard": c.hard,
        "level": figure_level(c),
        "target": c.target,
        "tolerance": c.tolerance,
    }


def figure_level(constraint: Constraint, unit_of_rest=lambda key: str(key[0]).startswith("rest_")) -> str:
    """'province' (the figure sums more than one panel unit, or a province's rest),
    'area_division' (one member, one division) or 'area_total' (one member, several)."""
    keys = [k for k, _ in constraint.numerator]
    units = {k[0] for k in keys}
    if len(units) > 1 or any(unit_of_rest(k) for k in keys):
        return "province"
    return "area_division" if len({k[1] for k in keys}) == 1 else "area_total"


def _predictive(c: Constraint, draws: np.ndarray, index, rng: np.random.Generator) -> np.ndarray:
    """The left-out figure's quantity in every draw, plus the figure's own error (a soft
    figure's sd, tolerance / 2, relative to the target for levels, in rate units otherwise):
    what the figure itself is predicted to read."""
    num = sum(coef * draws[:, index[k]] for k, coef in c.numerator)
    if c.kind == "level":
        q = num
    else:
        den = sum(coef * draws[:, index[k]] for k, coef in c.denominator)
        with np.errstate(divide="ignore", invalid="ignore"):
            q = num / den - 1.0 if c.kind == "growth" else num / den
    if not c.hard:
        sd = c.tolerance / SOFT_SD_PER_TOLERANCE
        q = q + rng.standard_normal(len(q)) * sd * (abs(c.target) if c.kind == "level" else 1.0)
    return q


def _covered(c: Constraint, low: float, high: float) -> bool:
    """An equality is covered when its target lies in [low, high]; a lower bound when the
    interval reaches it (high >= target), an upper bound when low <= target."""
    if c.sense == GE:
        return high >= c.target
    if c.sense == LE:
        return low <= c.target
    return low <= c.target <= high


def cross_validate(
    panel: PriorPanel,
    constraints: Sequence[Constraint],
    *,
    n_draws: int = 200,
    seed: int = 20240601,
    leave_out: Iterable[str] | None = None,
    progress=None,
) -> list[dict]:
    """Refit the panel without each fitted figure in turn and predict it: one record per
    figure with its level, the predictive P5/P25/P50/P75/P95 of what it reads, whether the
    50 % and 90 % intervals cover it and the error of the median (relative to the target
    for levels, in rate units otherwise; for a bound only its violation). ``leave_out``
    limits the figures (default: every fitted one). ``progress(i, n, id)`` is called per
    figure. A refit whose remaining hard rows cannot hold is recorded with its reason."""
    constraints = list(constraints)
    central = fit_panel(panel, constraints)
    fitted = [r.constraint_id for r in central.constraints if r.status == "fitted"]
    chosen = [cid for cid in fitted if leave_out is None or cid in set(leave_out)]
    rng = np.random.default_rng(seed)
    out = []
    for i, cid in enumerate(chosen):
        if progress:
            progress(i, len(chosen), cid)
        c = next(x for x in constraints if x.constraint_id == cid)
        rest = [x for x in constraints if x.constraint_id != cid]
        record = _figure_fields(c)
        try:
            mc = monte_carlo(panel, rest, n_draws=n_draws, seed=seed)
        except InfeasibleConstraintsError as exc:  # pragma: no cover - the full set was feasible
            out.append({**record, "status": f"refit failed: {exc}"})
            continue
        q = _predictive(c, mc.draws, panel.index, rng)
        out.append({**record, **_scored(c, np.nanpercentile(q, [5, 25, 50, 75, 95]))})
    return out


def _scored(c: Constraint, percentiles) -> dict:
    """A left-out figure's predictive P5/P25/P50/P75/P95, whether the 50 % and 90 %
    intervals cover it and the error of the median (relative to the target for levels, in
    rate units otherwise; for a bound only its violation)."""
    p5, p25, p50, p75, p95 = (float(v) for v in percentiles)
    if c.sense == EQ:
        error = p50 - c.target
    elif c.sense == GE:
        error = min(p50 - c.target, 0.0)
    else:
        error = max(p50 - c.target, 0.0)
    if c.kind == "level" and c.target != 0:
        error /= abs(c.target)
    return {
        "status": "left out",
        "p5": p5,
        "p25": p25,
        "p50": p50,
        "p75": p75,
        "p95": p95,
        "covered_p50": _covered(c, p25, p75),
        "covered_p90": _covered(c, p5, p95),
        "median_error": float(error),
    }


#: Standard normal quantiles of the percentiles the cross-validation reports.
_Z_PERCENTILES = np.array([-Z90, -0.6744897501960817, 0.0, 0.6744897501960817, Z90])


def cross_validate_analytic(fit: FitResult) -> list[dict]:
    """Leave-one-figure-out predictions of every fitted row from the central fit alone, in
    closed form (Rasmussen & Williams, Gaussian Processes for Machine Learning, 2006, eq.
    5.12): the rows the fit holds on (equalities, binding bounds and positivity cuts) are
    Gaussian observations with covariance K = A S A' + D; row j left out is predicted from
    the others with mean y_j - [K^-1 r]_j / [K^-1]_jj and variance 1 / [K^-1]_jj (r = y - A p;
    the variance includes a soft figure's own error), a row the fit does not hold on from
    all of them (mean a_j x, variance a_j S a_j' - g_j K^-1 g_j' + sd_j^2).

    What it is not: a refit. The active set is the full fit's, the priors are Gaussian at
    their linearisation (no lognormal skew, no truncation at a bound), and hard equalities
    that repeat others (left out of the solve) are not scored. It costs one factorisation,
    so it runs in every build; cross_validate refits with posterior draws (the benchmark).
    Records as cross_validate's."""
    rows, solver = fit._rows, fit._solver
    m = len(rows.b)
    if m == 0:
        return []
    extra, active = fit._warm
    M, _, _ = solver.system(list(extra))
    r0 = solver.rhs(solver.prior, rows.b, list(extra))
    held = np.flatnonzero(np.asarray(active, dtype=bool))
    K = M[np.ix_(held, held)]
    try:
        K_inv = linalg.cho_solve(linalg.cho_factor(K), np.eye(len(held))) if len(held) else np.zeros((0, 0))
    except linalg.LinAlgError:  # rows that repeat each other exactly
        K_inv = linalg.pinvh(K)
    alpha = K_inv @ r0[held]
    cross = M[:m][:, held]  # A S A_O' (off-diagonal: no noise)
    mean = (rows.b - r0[:m]) + cross @ alpha  # a_j p + g_j K^-1 r
    var = np.diag(M)[:m] - np.einsum("ij,jk,ik->i", cross, K_inv, cross)
    position = {j: k for k, j in enumerate(held)}
    out = []
    for j, c in enumerate(rows.constraints):
        if j in position:  # held on: predicted from the others
            k = position[j]
            precision = max(K_inv[k, k], 1e-300)
            mean_j, var_j = rows.b[j] - alpha[k] / precision, 1.0 / precision
        else:
            mean_j, var_j = mean[j], var[j]
        unit = rows.scale[j] if c.kind == "level" else 1.0  # a normalised unit in the figure's terms
        centre = c.target + rows.sign[j] * (mean_j - rows.b[j]) * unit
        spread = math.sqrt(max(var_j, 0.0)) * unit
        record = _figure_fields(c)
        # The normal is cut where the quantity cannot go: a level or share below 0, a growth below -100 %.
        floor = -1.0 if c.kind == "growth" else 0.0
        scored = _scored(c, np.maximum(centre + spread * _Z_PERCENTILES, floor))
        out.append({**record, **scored, "predictive_mean": float(centre), "predictive_sd": spread})
    return out


def standardised_errors(records: Sequence[dict]) -> dict[str, list[float]]:
    """Per level, |target - mean| / sd of the left-out equality figures under the normal
    predictions of cross_validate_analytic (bounds are left out: one that holds says
    nothing about the spread). Calibrated predictions have a median of 0.674 (the 75th
    percentile of the standard normal): the median is robust to the few figures far off."""
    out: dict[str, list[float]] = {}
    for r in records:
        if r.get("status") == "left out" and r["sense"] == EQ and r["predictive_sd"] > 0:
            out.setdefault(r["level"], []).append(abs(r["target"] - r["predictive_mean"]) / r["predictive_sd"])
    return out


def coverage_by_level(records: Sequence[dict]) -> list[dict]:
    """Per level (and 'all'): the number of figures left out, the share covered by the 50 %
    and 90 % intervals and the median absolute error of the median."""
    rows = [r for r in records if r.get("status") == "left out"]
    out = []
    for level in ("province", "area_total", "area_division", "all"):
        sel = [r for r in rows if level == "all" or r["level"] == level]
        if not sel:
            out.append({"level": level, "n": 0, "coverage_p50": None, "coverage_p90": None, "median_abs_error": None})
            continue
        out.append(
            {
                "level": level,
                "n": len(sel),
                "coverage_p50": float(np.mean([r["covered_p50"] for r in sel])),
                "coverage_p90": float(np.mean([r["covered_p90"] for r in sel])),
                "median_abs_error": float(np.median([abs(r["median_error"]) for r in sel])),
            }
        )
    return out
