"""The panel fit with many user figures: 100 / 1,000 / 10,000 rows.

    .venv/bin/python benchmarks/bench_fit.py [--rows 100,1000,10000] [--draws 200]

The synthetic panel of benchmarks/bench_panel_fit.py (810 cells, ~80 constraints of every
kind) plus N user figures as `chengyu build --sector-output` passes them: hard levels, each
the sum of two divisions of one area in one year (like `C34+C35`), all consistent with one
panel (the central fit of the synthetic figures), so many repeat or combine each other. Prints wall seconds
of the feasibility check and central fit, of the Monte Carlo draws, the number of hard rows
the dual keeps after the dependent ones are left out, and the peak memory; figures, not
assertions.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
from bench_panel_fit import AREAS, DIVISIONS, YEARS, build
from results_file import recorded

from chengyu_cluster.panel_fit import Constraint, _without_dependent_equalities, fit_panel, monte_carlo


def user_rows(panel, truth_panel, n: int, seed: int = 11) -> list[Constraint]:
    rng = np.random.default_rng(seed)
    truth = dict(zip(panel.keys, truth_panel, strict=True))
    out = []
    for i in range(n):
        area = AREAS[rng.integers(len(AREAS))]
        year = YEARS[rng.integers(len(YEARS))]
        pair = rng.choice(len(DIVISIONS), size=2, replace=False)
        cells = [(area, DIVISIONS[k], year) for k in pair]
        out.append(Constraint.level(f"user:{i}", cells, sum(truth[c] for c in cells)))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="100,1000,10000")
    ap.add_argument("--draws", type=int, default=200)
    args = ap.parse_args(argv)
    print("| user rows | hard rows kept in the dual | feasibility + central fit s | draws s | peak MiB |")
    print("|---|---|---|---|---|")
    for n in map(int, args.rows.split(",")):
        panel, cons = build()
        cons = cons + user_rows(panel, fit_panel(panel, cons).value, n)
        t0 = time.perf_counter()
        fit = fit_panel(panel, cons)
        t1 = time.perf_counter()
        monte_carlo(panel, cons, n_draws=args.draws, seed=1, fit=fit)
        t2 = time.perf_counter()
        kept = int(np.sum(fit._rows.hard & ~fit._rows.ineq))
        assert all(c.met for c in fit.constraints if c.hard), "a hard row is not met"
        assert _without_dependent_equalities(fit._rows) is fit._rows
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"| {n:,} | {kept} | {t1 - t0:.2f} | {t2 - t1:.2f} | {peak:,.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    with recorded(__file__):
        raise SystemExit(main())
