"""Calibration of the panel's intervals by leave-one-figure-out cross-validation.

Reads the fit's four inputs from a built warehouse (read-only, the version's internal file
beside the published link: intermediate.int_panel_prior_cells,
int_panel_prior_components, int_panel_constraints, int_panel_constraint_terms), refits the panel
without each fitted reported figure in turn and predicts it (calibration.cross_validate), and
prints the coverage of the 50 % and 90 % predictive intervals and the median error by level:
province (a province, its rest, or the two together), area total (one member, several
divisions), area x division (one member, one division).

    .venv/bin/python benchmarks/bench_calibration.py [--warehouse warehouse/chengyu.duckdb]
        [--draws 200] [--scale 'unit_year=1,2;mix_drift=1,3'] [--list] [--analytic] [--fit-widths]

--analytic predicts each figure in closed form from the central fit (what the build's
audit_panel_cross_validation holds) instead of refitting with posterior draws; --fit-widths
searches the one factor on the areas' widths at which the left-out figures' standardised
errors are calibrated and prints coverage before and after (docs/estimator.md, Calibration).
--scale multiplies the standard deviations of named uncertainty components (shares capped
below 1) before refitting, to show how coverage moves with the prior widths; without it the
build's own priors (seeds/estimation_priors.csv) are used. The target: 90 %
intervals covering >= 85 % of the left-out figures at every level with 10 or more of them.
"""

from __future__ import annotations

import argparse
import time

import duckdb
import numpy as np

from chengyu_cluster.estimation import calibration, panel_fit, panel_tables

TARGET_P90 = 0.85
MIN_FIGURES = 10


def internal_file(path: str) -> str:
    """The published link names the serving file (marts only); the fit's inputs are in the
    version's internal file beside it (versions/chengyu.<id>.internal.duckdb)."""
    from pathlib import Path

    target = Path(path).resolve()
    internal = target.with_name(target.name.removesuffix(".duckdb") + ".internal.duckdb")
    return str(internal) if internal.exists() else path


def read_inputs(path: str):
    con = duckdb.connect(internal_file(path), read_only=True)
    cells_cols, components_cols, constraints_cols, terms_cols = panel_tables.FIT_INPUT_COLUMNS
    read = lambda table, cols, where="true": con.execute(  # noqa: E731
        f"select {', '.join(cols)} from intermediate.{table} where {where}"
    ).df()
    out = (
        read("int_panel_prior_cells", cells_cols),
        read("int_panel_prior_components", components_cols),
        read("int_panel_constraints", constraints_cols, panel_tables.FIT_CONSTRAINT_FILTER),
        read("int_panel_constraint_terms", terms_cols),
    )
    con.close()
    return panel_tables.canonical_inputs(*out)


def scaled(components, factors: dict[str, float]):
    """The components with each named component's sd multiplied (shares capped below 1)."""
    comps = components.copy()
    for component_id, factor in factors.items():
        rows = comps["component_id"] == component_id
        if not rows.any():
            raise SystemExit(f"no component {component_id!r} (known: {', '.join(sorted(set(comps['component_id'])))})")
        cap = 0.95 if (comps.loc[rows, "component_kind"] == "share").all() else np.inf
        comps.loc[rows, "sd"] = np.minimum(comps.loc[rows, "sd"] * factor, cap)
    return comps


def settings(text: str) -> list[dict[str, float]]:
    """'unit_year=1,2;mix_drift=1,3' -> every combination of the factors."""
    import itertools

    if not text:
        return [{}]
    names, grids = [], []
    for part in text.split(";"):
        name, values = part.split("=")
        names.append(name.strip())
        grids.append([float(v) for v in values.split(",")])
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*grids)]


#: Area width factors tried (relative to the build's widths) in the calibration search.
SEARCH_FACTORS = tuple(round(1.0 + 0.1 * i, 1) for i in range(31))  # 1.0, 1.1, ..., 4.0
#: The median |z| of calibrated normal predictions: the standard normal's 75th percentile.
CALIBRATED_MEDIAN = 0.6744897501960817
#: The province's own level; every other component is an area's (a unit's level, its
#: year-to-year level, its division mix and the mix's drift: the rest of a province is a
#: unit too) and is scaled by the one area factor.
PROVINCE_COMPONENTS = ("province_level",)


def analytic_records(priors, components, cons, factors: dict[str, float]) -> list[dict]:
    panel = panel_tables.panel_from_tables(priors, scaled(components, factors))
    return calibration.cross_validate_analytic(panel_fit.fit_panel(panel, cons))


def median_abs_z(records: list[dict]) -> float:
    """Median |z| of the left-out equality figures at every level together (0.674 when the
    predictions' spread is right; the median, so the few figures no width explains do not
    set it)."""
    return float(np.median([z for zs in calibration.standardised_errors(records).values() for z in zs]))


def fit_widths(priors, components, cons) -> dict[str, float]:
    """The one factor on the areas' components (the province's level kept) at which the
    left-out figures' standardised errors are calibrated: median |z| closest to 0.674, on
    SEARCH_FACTORS (never narrower than the build's). One parameter from all the equality
    figures; the coverage of the 90 % intervals by level is the result, not the criterion."""
    ids = sorted(set(components["component_id"]))
    trials = []
    for area in SEARCH_FACTORS:
        factors = {cid: 1.0 if cid in PROVINCE_COMPONENTS else area for cid in ids}
        median = median_abs_z(analytic_records(priors, components, cons, factors))
        trials.append((abs(np.log(median / CALIBRATED_MEDIAN)), area, median, factors))
    _, area, median, factors = min(trials, key=lambda t: t[0])
    start = median_abs_z(analytic_records(priors, components, cons, {}))
    print(
        f"calibration: median |z| of the left-out equality figures {start:.3f} at the build's widths; "
        f"{median:.3f} with the areas' widths x{area:g} (calibrated: {CALIBRATED_MEDIAN:.3f})"
    )
    return factors


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--warehouse", default="warehouse/chengyu.duckdb")
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument(
        "--scale",
        default="",
        help="factors on components' sd: 'unit_year=1,2;mix_drift=1,3' "
        "(component ids of int_panel_prior_components; every combination is run)",
    )
    ap.add_argument("--list", action="store_true", help="print every left-out figure")
    ap.add_argument(
        "--analytic",
        action="store_true",
        help="closed-form leave-one-out from the central fit (what the build's "
        "audit_panel_cross_validation holds; milliseconds) instead of refits with posterior draws",
    )
    ap.add_argument(
        "--fit-widths",
        action="store_true",
        help="search the width factors that maximise the closed-form leave-one-out log predictive "
        "score and print coverage at the build's widths and at those (implies --analytic)",
    )
    args = ap.parse_args(argv)
    priors, components, constraints, terms = read_inputs(args.warehouse)
    cons = panel_tables.constraints_from_tables(constraints, terms)
    cons = [c for c in cons if not c.constraint_id.startswith(("user:", "microdata:"))]
    runs = settings(args.scale)
    if args.fit_widths:
        args.analytic = True
        runs = [{}, fit_widths(priors, components, cons)]
    for factors in runs:
        panel = panel_tables.panel_from_tables(priors, scaled(components, factors))
        t0 = time.perf_counter()
        if args.analytic:
            records = calibration.cross_validate_analytic(panel_fit.fit_panel(panel, cons))
        else:
            records = calibration.cross_validate(panel, cons, n_draws=args.draws, seed=args.seed)
        seconds = time.perf_counter() - t0
        label = ", ".join(f"{k} sd x{v:g}" for k, v in factors.items()) or "the build's priors"
        print(
            f"\n{label}: {len(records)} figures left out one at a time "
            f"in {seconds:.1f} s ({'closed form' if args.analytic else f'{args.draws} draws a refit'})"
        )
        print(
            "| level | figures | 50 % coverage | 90 % coverage | median abs error | "
            f"90 % target (>= {TARGET_P90:.0%}) |"
        )
        print("|---|---|---|---|---|---|")
        for row in calibration.coverage_by_level(records):
            if row["n"] == 0:
                print(f"| {row['level']} | 0 | - | - | - | no figures |")
                continue
            verdict = (
                ("met" if row["coverage_p90"] >= TARGET_P90 else "NOT met")
                if row["n"] >= MIN_FIGURES
                else f"fewer than {MIN_FIGURES} figures: not judged"
            )
            covered = round(row["coverage_p90"] * row["n"])
            print(
                f"| {row['level']} | {row['n']} | {row['coverage_p50']:.0%} | "
                f"{row['coverage_p90']:.1%} ({covered}) | {row['median_abs_error']:.3f} | {verdict} |"
            )
        if args.list:
            for r in records:
                if r["status"] != "left out":
                    print(f"  {r['constraint_id']}: {r['status']}")
                    continue
                print(
                    f"  {r['constraint_id']:<8} {r['level']:<13} {r['kind']:<6} {r['sense']:<2} "
                    f"target {r['target']:.4g}  P5 {r['p5']:.4g}  P50 {r['p50']:.4g}  P95 {r['p95']:.4g}  "
                    f"covered90 {r['covered_p90']}  error {r['median_error']:+.3f}"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
