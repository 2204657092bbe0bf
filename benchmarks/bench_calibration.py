"""Calibration of the panel's intervals by leave-one-figure-out cross-validation.

Reads the fit's four inputs from a built warehouse (read-only: intermediate.int_panel_prior_cells,
int_panel_prior_components, int_panel_constraints, int_panel_constraint_terms), refits the panel
without each fitted reported figure in turn and predicts it (panel_fit.cross_validate), and
prints the coverage of the 50 % and 90 % predictive intervals and the median error by level:
province (a province, its rest, or the two together), area total (one member, several
divisions), area x division (one member, one division).

    .venv/bin/python benchmarks/bench_calibration.py [--warehouse warehouse/chengyu.duckdb]
        [--draws 200] [--scales 1] [--mix-scales 1]

--scales / --mix-scales multiply the standard deviations of the level components (common
factors) and of the division-mix components (shares, capped below 1) before refitting, to
show how coverage moves with the prior widths; the build's own widths are scale 1 (they
already include var panel_prior_level_scale / panel_prior_mix_scale). The target: 90 %
intervals covering >= 85 % of the left-out figures at every level with 10 or more of them.
"""

from __future__ import annotations

import argparse
import time

import duckdb
import numpy as np

from chengyu_cluster import panel_fit

TARGET_P90 = 0.85
MIN_FIGURES = 10


def read_inputs(path: str):
    con = duckdb.connect(path, read_only=True)
    cells_cols, components_cols, constraints_cols, terms_cols = panel_fit.FIT_INPUT_COLUMNS
    read = lambda table, cols, where="true": con.execute(  # noqa: E731
        f"select {', '.join(cols)} from intermediate.{table} where {where}").df()
    out = (read("int_panel_prior_cells", cells_cols), read("int_panel_prior_components", components_cols),
           read("int_panel_constraints", constraints_cols, panel_fit.FIT_CONSTRAINT_FILTER),
           read("int_panel_constraint_terms", terms_cols))
    con.close()
    return out


def scaled(components, level_scale: float, mix_scale: float):
    comps = components.copy()
    level = comps["component_kind"] == "common_factor"
    comps.loc[level, "sd"] = comps.loc[level, "sd"] * level_scale
    mix = comps["component_kind"] == "share"
    comps.loc[mix, "sd"] = np.minimum(comps.loc[mix, "sd"] * mix_scale, 0.95)
    return comps


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--warehouse", default="warehouse/chengyu.duckdb")
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--scales", default="1", help="comma-separated factors on the level components' sd")
    ap.add_argument("--mix-scales", default="1", help="comma-separated factors on the division-mix sd")
    ap.add_argument("--list", action="store_true", help="print every left-out figure")
    args = ap.parse_args(argv)
    priors, components, constraints, terms = read_inputs(args.warehouse)
    cons = panel_fit.constraints_from_tables(constraints, terms)
    cons = [c for c in cons if not c.constraint_id.startswith(("user:", "microdata:"))]
    for level_scale in map(float, args.scales.split(",")):
        for mix_scale in map(float, args.mix_scales.split(",")):
            panel = panel_fit.panel_from_tables(priors, scaled(components, level_scale, mix_scale))
            t0 = time.perf_counter()
            records = panel_fit.cross_validate(panel, cons, n_draws=args.draws, seed=args.seed)
            seconds = time.perf_counter() - t0
            print(f"\nlevel sd x{level_scale:g}, mix sd x{mix_scale:g}: {len(records)} figures left out one at a time "
                  f"in {seconds:.1f} s ({seconds / max(len(records), 1):.2f} s a refit, {args.draws} draws)")
            print(f"| level | figures | 50 % coverage | 90 % coverage | median abs error | 90 % target (>= {TARGET_P90:.0%}) |")
            print("|---|---|---|---|---|---|")
            for row in panel_fit.coverage_by_level(records):
                if row["n"] == 0:
                    print(f"| {row['level']} | 0 | - | - | - | no figures |")
                    continue
                verdict = ("met" if row["coverage_p90"] >= TARGET_P90 else "NOT met") if row["n"] >= MIN_FIGURES \
                    else f"fewer than {MIN_FIGURES} figures: not judged"
                print(f"| {row['level']} | {row['n']} | {row['coverage_p50']:.0%} | {row['coverage_p90']:.0%} | "
                      f"{row['median_abs_error']:.3f} | {verdict} |")
            if args.list:
                for r in records:
                    if r["status"] != "left out":
                        print(f"  {r['constraint_id']}: {r['status']}")
                        continue
                    print(f"  {r['constraint_id']:<8} {r['level']:<13} {r['kind']:<6} {r['sense']:<2} "
                          f"target {r['target']:.4g}  P5 {r['p5']:.4g}  P50 {r['p50']:.4g}  P95 {r['p95']:.4g}  "
                          f"covered90 {r['covered_p90']}  error {r['median_error']:+.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
