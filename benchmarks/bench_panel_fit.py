"""The panel estimator at the warehouse's size: central fit and Monte Carlo timings.

    .venv/bin/python benchmarks/bench_panel_fit.py [--draws 200] [--repeat 3] [--warehouse FILE]

A synthetic panel shaped like the real one - 10 areas (2 provinces' remainders and 8
members) x 9 divisions x 9 years = 810 cells, priors with an area factor, an
area x division factor, an area x year factor and cell noise - and about 80 constraints
of every kind: levels (hard), lower bounds, growth rates, shares and soft area totals,
some of which bind. With --warehouse, also the real problem: the priors, components and
constraints a build wrote (intermediate.int_panel_*), refitted here. Prints wall seconds;
figures, not assertions.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from results_file import recorded

from chengyu_cluster.estimation.panel_fit import (
    CommonFactor,
    Constraint,
    Independent,
    PriorPanel,
    ShareNoise,
    fit_panel,
    monte_carlo,
)

AREAS = [f"A{i}" for i in range(10)]
PROVINCE = {a: ("P1" if i < 5 else "P2") for i, a in enumerate(AREAS)}
DIVISIONS = [f"C{k}" for k in (33, 34, 35, 36, 37, 38, 39, 40, 43)]
YEARS = list(range(2015, 2024))


def build(seed: int = 7):
    rng = np.random.default_rng(seed)
    keys = [(a, k, t) for a in AREAS for k in DIVISIONS for t in YEARS]
    level = {a: rng.uniform(200, 3000) for a in AREAS}
    mix = {a: rng.dirichlet(np.full(len(DIVISIONS), 2.0)) for a in AREAS}
    prior = np.array([level[a] * mix[a][DIVISIONS.index(k)] * 1.07 ** (t - 2015) for a, k, t in keys])
    comps = [
        CommonFactor(tuple(a for a, _, _ in keys), 0.25),
        CommonFactor(tuple((a, k) for a, k, _ in keys), 0.30),
        ShareNoise(tuple((a, t) for a, _, t in keys), 0.10),
        Independent(np.full(len(keys), 0.05)),
    ]
    panel = PriorPanel(keys, prior, comps)

    def cells(pred) -> list:
        return [key for key in keys if pred(*key)]

    def total(prov: str, t: int) -> float:
        return float(sum(prior[i] for i, (a, _, tt) in enumerate(keys) if PROVINCE[a] == prov and tt == t))

    def in_province(prov: str, t: int):
        return lambda a, k, tt: PROVINCE[a] == prov and tt == t

    def in_area(area: str, t: int, division: str | None = None):
        return lambda a, k, tt: a == area and tt == t and division in (None, k)

    def in_division(division: str, t: int):
        return lambda a, k, tt: k == division and tt == t

    cons = []
    for prov in ("P1", "P2"):
        for t in (2017, 2020, 2023):
            cons.append(
                Constraint.level(f"{prov}-{t}", cells(in_province(prov, t)), total(prov, t) * 1.08, tolerance=0.001)
            )
        cons.append(Constraint.lower_bound(f"{prov}-lb-2021", cells(in_province(prov, 2021)), total(prov, 2021) * 1.12))
        for t in range(2016, 2024):
            cons.append(
                Constraint.growth(
                    f"{prov}-g{t}",
                    cells(in_province(prov, t)),
                    cells(in_province(prov, t - 1)),
                    0.06,
                    tolerance=0.01,
                    hard=False,
                )
            )
    for a in AREAS:
        for t in (2019, 2022):
            cons.append(
                Constraint.share(
                    f"{a}-C36-{t}", cells(in_area(a, t, "C36")), cells(in_area(a, t)), 0.3, tolerance=0.02, hard=False
                )
            )
        cons.append(
            Constraint.level(f"{a}-2020", cells(in_area(a, 2020)), level[a] * 1.07**5 * 0.95, tolerance=0.1, hard=False)
        )
    for k in DIVISIONS[:6]:
        cons.append(
            Constraint.growth(
                f"{k}-g2022", cells(in_division(k, 2022)), cells(in_division(k, 2021)), 0.10, tolerance=0.02, hard=False
            )
        )
    return panel, cons


def real(warehouse: str, draws: int, repeat: int) -> None:
    import duckdb

    from chengyu_cluster.estimation.panel_tables import _TABLE_CACHE, fit_tables

    con = duckdb.connect(warehouse, read_only=True)
    try:
        priors = con.execute(
            "select panel_unit, sector_code, year, prior_yuan, null_reason from intermediate.int_panel_prior_cells"
        ).df()
        components = con.execute(
            "select panel_unit, sector_code, year, component_id, component_kind, group_label, "
            "sd, block_label, part_label from intermediate.int_panel_prior_components"
        ).df()
        constraints = con.execute(
            "select constraint_id, kind, sense, target, tolerance, is_hard, note "
            "from intermediate.int_panel_constraints where exclusion is null"
        ).df()
        terms = con.execute(
            "select constraint_id, role, panel_unit, sector_code, year, coefficient "
            "from intermediate.int_panel_constraint_terms"
        ).df()
    finally:
        con.close()
    print(f"warehouse {warehouse}: cells {len(priors)}, constraints {len(constraints)}, draws {draws}")
    for r in range(repeat):
        _TABLE_CACHE.clear()
        t0 = time.perf_counter()
        out = fit_tables(priors, components, constraints, terms, n_draws=draws, seed=20240601 + r)
        total = time.perf_counter() - t0
        t = out["timing"]
        print(
            f"run {r}: fit {t['fit_seconds']:6.3f} s | {draws} draws {t['draws_seconds']:6.3f} s "
            f"({t['draws_seconds'] / draws * 1000:5.1f} ms/draw) | "
            f"tables in and out, total {total:6.3f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--warehouse", help="a built DuckDB file with intermediate.int_panel_* tables")
    args = parser.parse_args()
    if args.warehouse:
        real(args.warehouse, args.draws, args.repeat)
    panel, cons = build()
    print(f"cells {len(panel.keys)}, constraints {len(cons)}, draws {args.draws}")
    for r in range(args.repeat):
        t0 = time.perf_counter()
        fit = fit_panel(panel, cons)
        t1 = time.perf_counter()
        mc = monte_carlo(panel, cons, n_draws=args.draws, seed=r, fit=fit)
        t2 = time.perf_counter()
        q = mc.quantiles()
        t3 = time.perf_counter()
        n_binding = sum(bool(c.binding) for c in fit.constraints)
        n_unmet = sum(c.met is False for c in fit.constraints)
        print(
            f"run {r}: covariance+fit {t1 - t0:6.3f} s | {args.draws} draws {t2 - t1:6.3f} s "
            f"({(t2 - t1) / args.draws * 1000:5.1f} ms/draw) | "
            f"quantiles {t3 - t2:5.3f} s | binding {n_binding}, soft not met {n_unmet}, "
            f"median P90 width {np.nanmedian((q[2] - q[0]) / q[1]):.3f}"
        )


if __name__ == "__main__":
    with recorded(__file__):
        main()
