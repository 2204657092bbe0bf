"""The panel fit's table interface: the dbt Python models int_panel_fit_* hand it four long
tables (DuckDB relations or Spark DataFrames) and get pandas tables back (fit_relations).

The same inputs give the same tables on both engines: rows are sorted and numbers read to
INPUT_DIGITS significant digits before the fit (docs/estimator.md).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence

import numpy as np

from chengyu_cluster.estimation.calibration import cross_validate_analytic
from chengyu_cluster.estimation.panel_fit import (
    CommonFactor,
    Constraint,
    Independent,
    PriorPanel,
    ShareNoise,
    _terms,
    fit_panel,
    monte_carlo,
)

CELL_KEY = ("panel_unit", "sector_code", "year")


def _key(row) -> tuple:
    return (str(row.panel_unit), str(row.sector_code), int(row.year))


def panel_from_tables(priors, components) -> PriorPanel:
    """A PriorPanel from two long tables.

    priors: one row per cell - panel_unit, sector_code, year, prior_yuan (NULL where no
        defensible prior exists), null_reason.
    components: one row per cell x uncertainty component - panel_unit, sector_code, year,
        component_id, component_kind (independent | common_factor | share), group_label,
        sd, and for persistent shares block_label and part_label (else NULL). A cell
        missing from a component is outside it.
    """
    import pandas as pd

    priors = priors.sort_values(list(CELL_KEY)).reset_index(drop=True)
    keys = [_key(r) for r in priors.itertuples(index=False)]
    index = {k: i for i, k in enumerate(keys)}
    n = len(keys)
    prior = pd.to_numeric(priors["prior_yuan"], errors="coerce").to_numpy(dtype=float)
    reasons = [
        None if (r is None or (isinstance(r, float) and math.isnan(r))) else str(r)
        for r in priors["null_reason"].tolist()
    ]
    comps = []
    for cid, rows in components.groupby("component_id", sort=True):
        kinds = set(rows["component_kind"])
        if len(kinds) != 1:
            raise ValueError(f"component {cid} mixes kinds {sorted(kinds)}")
        kind = kinds.pop()
        pos = np.array([index[_key(r)] for r in rows.itertuples(index=False)], dtype=int)
        sd = rows["sd"].to_numpy(dtype=float)
        if kind == "independent":
            full = np.zeros(n)
            full[pos] = sd
            comps.append(Independent(full))
            continue
        groups: list = [None] * n
        sds: dict = {}
        for i, g, s in zip(pos, rows["group_label"].astype(str), sd, strict=True):
            groups[i] = g
            if sds.setdefault(g, s) != s:
                raise ValueError(f"component {cid}: group {g} has more than one sd")
        if kind == "common_factor":
            comps.append(CommonFactor(tuple(groups), sds))
        elif kind == "share":
            blocks = parts = None
            if rows["block_label"].notna().any():
                blocks, parts = [None] * n, [None] * n
                for i, b, q in zip(pos, rows["block_label"].astype(str), rows["part_label"].astype(str), strict=True):
                    blocks[i], parts[i] = b, q
                blocks, parts = tuple(blocks), tuple(parts)
            comps.append(ShareNoise(tuple(groups), sds, blocks, parts))
        else:
            raise ValueError(f"component {cid}: unknown kind {kind!r}")
    return PriorPanel(keys, prior, comps, reasons)


def constraints_from_tables(constraints, terms) -> list[Constraint]:
    """Constraints from two long tables.

    constraints: constraint_id, kind (level | growth | share), sense (= | >= | <=),
        target (yuan for levels, a rate or share otherwise), tolerance, is_hard, note.
    terms: constraint_id, role (numerator | denominator), panel_unit, sector_code, year,
        coefficient.
    """
    by_id: dict[str, dict[str, dict]] = {}
    for r in terms.itertuples(index=False):
        side = by_id.setdefault(str(r.constraint_id), {"numerator": {}, "denominator": {}})[str(r.role)]
        key = _key(r)
        side[key] = side.get(key, 0.0) + float(r.coefficient)
    out = []
    for r in constraints.sort_values("constraint_id").itertuples(index=False):
        sides = by_id.get(str(r.constraint_id), {"numerator": {}, "denominator": {}})
        note = "" if r.note is None or (isinstance(r.note, float) and math.isnan(r.note)) else str(r.note)
        out.append(
            Constraint(
                str(r.constraint_id),
                str(r.kind),
                str(r.sense),
                _terms(sides["numerator"]),
                float(r.target),
                float(r.tolerance),
                bool(r.is_hard),
                _terms(sides["denominator"]),
                note,
            )
        )
    return out


_TABLE_CACHE: dict = {}
#: From this many figures on, the fit prints a line per stage on stderr (a long fit is not silent).
PROGRESS_FROM_CONSTRAINTS = 500


def _progress(message: str) -> None:
    import sys

    print(message, file=sys.stderr, flush=True)


#: The int_panel_fit_* models share one fit per process. The three readers ref
#: int_panel_fit_cells and start after it; should two still run at once (dbt threads), the lock
#: makes the second wait for the first's fit instead of fitting again beside it.
_TABLE_LOCK = threading.Lock()


#: The columns the fit reads from each of its four inputs, and the one filter.
FIT_INPUT_COLUMNS = (
    ("panel_unit", "sector_code", "year", "prior_yuan", "null_reason"),
    (
        "panel_unit",
        "sector_code",
        "year",
        "component_id",
        "component_kind",
        "group_label",
        "sd",
        "block_label",
        "part_label",
    ),
    ("constraint_id", "kind", "sense", "target", "tolerance", "is_hard", "note"),
    ("constraint_id", "role", "panel_unit", "sector_code", "year", "coefficient"),
)
FIT_CONSTRAINT_FILTER = "exclusion is null"


def is_spark_frame(relation) -> bool:
    """True for a Spark DataFrame (what dbt.ref() gives on dbt-spark), False for anything
    else, e.g. a DuckDB relation (dbt-duckdb). Decided by the class's module, so DuckDB
    builds never import pyspark."""
    return any(cls.__module__.startswith("pyspark.") for cls in type(relation).__mro__)


def _read(relation, columns: Sequence[str], where: str | None = None):
    """The named columns of a dbt relation as a pandas DataFrame: through the Spark DataFrame
    API (selectExpr / filter / toPandas) or DuckDB's relational API (project / filter / df)."""
    if is_spark_frame(relation):
        import warnings

        if where is not None:
            relation = relation.filter(where)
        with warnings.catch_warnings():
            # Without pyarrow (not in the spark extra) toPandas warns on every call that it falls
            # back from Arrow, and pyspark 4.3 that pandas 3 is not fully supported: the columns
            # read here are strings, integers and doubles, converted row by row.
            warnings.filterwarnings("ignore", message=r".*(Arrow optimization|pandas >= 3)")
            return relation.selectExpr(*columns).toPandas()
    if where is not None:
        relation = relation.filter(where)
    return relation.project(", ".join(columns)).df()


#: Spark SQL types of the pandas dtypes fit_tables returns (the same SQL types DuckDB gives
#: them: string -> VARCHAR, int32 -> INTEGER, Float64/float64 -> DOUBLE, boolean -> BOOLEAN).
SPARK_TYPES = {
    "string": "string",
    "str": "string",
    "object": "string",
    "int32": "int",
    "int64": "bigint",
    "Float64": "double",
    "float64": "double",
    "boolean": "boolean",
    "bool": "boolean",
}


def spark_schema(frame) -> str:
    """A Spark DDL schema ("`a` string, `b` int, ...") for a pandas DataFrame of fit_tables.
    A column type with no Spark spelling here is a programming error of the fit's tables:
    it is named, not left to surface as a bare KeyError inside dbt."""
    unknown = {column: str(dtype) for column, dtype in frame.dtypes.items() if str(dtype) not in SPARK_TYPES}
    if unknown:
        raise TypeError(f"panel fit: no Spark column type for {unknown} (known: {', '.join(SPARK_TYPES)})")
    return ", ".join(f"`{column}` {SPARK_TYPES[str(dtype)]}" for column, dtype in frame.dtypes.items())


def plain_rows(frame) -> list[tuple]:
    """The rows of a pandas DataFrame as tuples of plain Python values for
    spark.createDataFrame: a missing value of a nullable column (pd.NA) becomes None (SQL
    NULL); a NaN of a plain float64 column stays NaN, as DuckDB stores it."""
    import pandas as pd

    columns = []
    for _, series in frame.items():
        values = series.tolist()
        if isinstance(series.dtype, pd.api.extensions.ExtensionDtype):
            values = [None if v is pd.NA or v is None else v for v in values]
        columns.append(values)
    return list(zip(*columns, strict=True)) if columns else []


class SparkTables(Mapping):
    """fit_tables' result with each pandas table handed out as a Spark DataFrame of the same
    columns and types (dbt-spark writes what a Python model returns with `df.write`); built
    on first access, so each int_panel_fit_* model converts only the table it returns."""

    def __init__(self, tables: Mapping, spark) -> None:
        self._tables, self._spark, self._converted = tables, spark, {}

    def __getitem__(self, key):
        value = self._tables[key]
        if key not in ("cells", "audit", "draws", "cross_validation"):
            return value
        if key not in self._converted:
            self._converted[key] = self._spark.createDataFrame(plain_rows(value), schema=spark_schema(value))
        return self._converted[key]

    def __iter__(self):
        return iter(self._tables)

    def __len__(self) -> int:
        return len(self._tables)


def fit_relations(prior_cells, prior_components, constraints, terms, n_draws, seed) -> Mapping:
    """fit_tables for the dbt Python models int_panel_fit_*: the columns each relation gives.
    The models name their refs and config keys themselves: dbt finds both by parsing the
    model file.

    The relations are DuckDB relations (dbt-duckdb) or Spark DataFrames (dbt-spark, chosen
    by type); on Spark the tables come back as Spark DataFrames (SparkTables)."""
    cells_cols, components_cols, constraints_cols, terms_cols = FIT_INPUT_COLUMNS
    tables = fit_tables(
        _read(prior_cells, cells_cols),
        _read(prior_components, components_cols),
        _read(constraints, constraints_cols, FIT_CONSTRAINT_FILTER),
        _read(terms, terms_cols),
        n_draws=int(n_draws),
        seed=int(seed),
    )
    if is_spark_frame(prior_cells):
        return SparkTables(tables, prior_cells.sparkSession)
    return tables


def fit_tables(priors, components, constraints, terms, *, n_draws: int = 200, seed: int = 20240601) -> dict:
    """Fit and Monte Carlo from the long tables; returns pandas DataFrames:

    cells: panel_unit, sector_code, year, prior_yuan, fitted_yuan, p5_yuan, p50_yuan,
        p95_yuan, adjustment (fitted / prior - 1), null_reason.
    audit: one row per constraint - constraint_id, kind, sense, is_hard, target,
        prior_value, fitted_value, residual, normalised_residual, tolerance, is_met,
        is_binding, multiplier, status, note.
    draws: draw_id (1..n), panel_unit, sector_code, year, value_yuan (no NULL cells).
    timing: seconds for the fit and for the draws.

    The result is cached per process on the inputs' contents, behind a lock, so the several
    dbt Python models that read it (in parallel threads) fit once per build.
    """
    import pandas as pd

    # Row order from a database is not guaranteed: sort, so the draws (which follow the
    # order of groups) and the cache key depend on the contents only. The numbers are read to
    # INPUT_DIGITS significant digits: DuckDB and Spark sum and take logarithms in different
    # orders and libraries, so their inputs differ in the last bit, and the Gibbs sampler's
    # chains carry a difference of 1e-16 to 1e-2 in single draws.
    priors, components, constraints, terms = canonical_inputs(priors, components, constraints, terms)
    token = (
        pd.util.hash_pandas_object(priors, index=False).sum(),
        pd.util.hash_pandas_object(components, index=False).sum(),
        pd.util.hash_pandas_object(constraints, index=False).sum(),
        pd.util.hash_pandas_object(terms, index=False).sum(),
        n_draws,
        seed,
    )
    with _TABLE_LOCK:
        if token not in _TABLE_CACHE:
            result = _fit_tables(priors, components, constraints, terms, n_draws, seed)
            _TABLE_CACHE.clear()
            _TABLE_CACHE[token] = result
        return _TABLE_CACHE[token]


#: Significant digits the fit reads its numbers to (far finer than any prior's or figure's precision).
INPUT_DIGITS = 10


def round_significant(values, digits: int = INPUT_DIGITS) -> np.ndarray:
    """``values`` rounded to ``digits`` significant digits; 0, NaN, infinities and numbers
    below 1e-250 as they are.
    Two inputs a few ulps apart round to the same number unless they straddle a rounding
    point (odds about 1e-6 per differing value at 10 digits)."""
    x = np.asarray(values, dtype=float)
    finite = np.isfinite(x) & (np.abs(x) > 1e-250)  # below that, the scale below overflows
    exponent = np.floor(np.log10(np.abs(np.where(finite, x, 1.0))))
    scale = 10.0 ** (digits - 1 - exponent)
    return np.where(finite, np.round(x * scale) / scale, x)


def canonical_inputs(priors, components, constraints, terms) -> tuple:
    """The fit's four input tables as the fit reads them (fit_tables; and the calibration
    benchmark, so its refits see the build's numbers): rows sorted, numbers to INPUT_DIGITS."""
    return (
        _canonical(priors, list(CELL_KEY), ["prior_yuan"]),
        _canonical(components, ["component_id", *CELL_KEY], ["sd"]),
        _canonical(constraints, ["constraint_id"], ["target", "tolerance"]),
        _canonical(terms, ["constraint_id", "role", *CELL_KEY], ["coefficient"]),
    )


def _canonical(frame, order: Sequence[str], numbers: Sequence[str]):
    """``frame`` sorted by ``order``, its ``numbers`` columns rounded to INPUT_DIGITS."""
    import pandas as pd

    out = frame.sort_values(list(order)).reset_index(drop=True)
    for column in numbers:
        values = pd.to_numeric(out[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        out[column] = round_significant(values)
    return out


#: Columns of the leave-one-out table (int_panel_fit_cross_validation) and their pandas types.
CROSS_VALIDATION_COLUMNS = {
    "constraint_id": "string",
    "level": "string",
    "kind": "string",
    "sense": "string",
    "is_hard": "boolean",
    "reported_value": "Float64",
    "predicted_value": "Float64",
    "p5_value": "Float64",
    "p25_value": "Float64",
    "p75_value": "Float64",
    "p95_value": "Float64",
    "is_inside_50": "boolean",
    "is_inside_90": "boolean",
    "prediction_error": "Float64",
}


def cross_validation_table(records: Sequence[dict]):
    """cross_validate(_analytic) records as the leave-one-out table: the figure (reported_value
    = its target), its prediction (P50) and interval, whether the 50 % / 90 % intervals hold it."""
    import pandas as pd

    renamed = [
        {
            "constraint_id": r["constraint_id"],
            "level": r["level"],
            "kind": r["kind"],
            "sense": r["sense"],
            "is_hard": r["is_hard"],
            "reported_value": r["target"],
            "predicted_value": r["p50"],
            "p5_value": r["p5"],
            "p25_value": r["p25"],
            "p75_value": r["p75"],
            "p95_value": r["p95"],
            "is_inside_50": r["covered_p50"],
            "is_inside_90": r["covered_p90"],
            "prediction_error": r["median_error"],
        }
        for r in records
        if r.get("status") == "left out"
    ]
    return pd.DataFrame(renamed, columns=list(CROSS_VALIDATION_COLUMNS)).astype(CROSS_VALIDATION_COLUMNS)


def _fit_tables(priors, components, constraints, terms, n_draws: int, seed: int) -> dict:
    import time

    import pandas as pd

    panel = panel_from_tables(priors, components)
    cons = constraints_from_tables(constraints, terms)
    # A fit with many figures (thousands of user rows) says what it is doing.
    say = _progress if len(cons) >= PROGRESS_FROM_CONSTRAINTS else (lambda _message: None)
    say(f"panel fit: {len(panel.keys)} cells, {len(cons)} figures; feasibility check and central fit ...")
    t0 = time.perf_counter()
    fit = fit_panel(panel, cons)
    t1 = time.perf_counter()
    say(f"panel fit: central fit in {t1 - t0:.1f} s ({len(fit._rows.b)} rows kept); {n_draws} draws ...")
    mc = monte_carlo(panel, cons, n_draws=n_draws, seed=seed, fit=fit)
    t2 = time.perf_counter()
    say(f"panel fit: draws in {t2 - t1:.1f} s")
    q = mc.quantiles((5, 50, 95))
    units, sectors, years = zip(*panel.keys, strict=True) if panel.keys else ((), (), ())
    with np.errstate(divide="ignore", invalid="ignore"):
        adjustment = np.where(panel.prior > 0, fit.value / panel.prior - 1.0, np.nan)

    def nullable(values):  # NaN becomes SQL NULL, not a floating-point NaN
        return pd.Series(values, dtype="float64").astype("Float64")

    is_null = np.isnan(fit.value)
    cells = pd.DataFrame(
        {
            "panel_unit": pd.Series(units, dtype="string"),
            "sector_code": pd.Series(sectors, dtype="string"),
            "year": np.asarray(years, dtype=np.int32),
            "prior_yuan": nullable(panel.prior),
            "fitted_yuan": nullable(fit.value),
            "p5_yuan": nullable(q[0]),
            "p50_yuan": nullable(q[1]),
            "p95_yuan": nullable(q[2]),
            "adjustment": nullable(adjustment),
            "null_reason": pd.Series(
                [r if null else None for r, null in zip(fit.basis_reason, is_null, strict=True)], dtype="string"
            ),
            "fit_note": pd.Series(
                [None if null else r for r, null in zip(fit.basis_reason, is_null, strict=True)], dtype="string"
            ),
        }
    )
    audit = pd.DataFrame(
        [
            {
                "constraint_id": c.constraint_id,
                "kind": c.kind,
                "sense": c.sense,
                "is_hard": c.hard,
                "target": c.target,
                "prior_value": c.prior_value,
                "fitted_value": c.fitted,
                "residual": c.residual,
                "normalised_residual": c.normalised_residual,
                "tolerance": c.tolerance,
                "is_met": c.met,
                "is_binding": c.binding,
                "multiplier": c.multiplier,
                "status": c.status,
                "note": c.note,
            }
            for c in fit.constraints
        ],
        columns=[
            "constraint_id",
            "kind",
            "sense",
            "is_hard",
            "target",
            "prior_value",
            "fitted_value",
            "residual",
            "normalised_residual",
            "tolerance",
            "is_met",
            "is_binding",
            "multiplier",
            "status",
            "note",
        ],
    )
    audit = audit.astype(
        {
            "constraint_id": "string",
            "kind": "string",
            "sense": "string",
            "is_hard": "boolean",
            "target": "Float64",
            "prior_value": "Float64",
            "fitted_value": "Float64",
            "residual": "Float64",
            "normalised_residual": "Float64",
            "tolerance": "Float64",
            "is_met": "boolean",
            "is_binding": "boolean",
            "multiplier": "Float64",
            "status": "string",
            "note": "string",
        }
    )
    t3 = time.perf_counter()
    cross_validation = cross_validation_table(cross_validate_analytic(fit))
    t4 = time.perf_counter()
    known = ~np.all(np.isnan(mc.draws), axis=0)
    cols = np.flatnonzero(known)
    draws = pd.DataFrame(
        {
            "draw_id": np.repeat(np.arange(1, n_draws + 1, dtype=np.int32), len(cols)),
            "panel_unit": pd.Series(np.tile(np.asarray(units, dtype=object)[cols], n_draws), dtype="string"),
            "sector_code": pd.Series(np.tile(np.asarray(sectors, dtype=object)[cols], n_draws), dtype="string"),
            "year": np.tile(np.asarray(years, dtype=np.int32)[cols], n_draws),
            "value_yuan": mc.draws[:, cols].reshape(-1),
        }
    )
    return {
        "cells": cells,
        "audit": audit,
        "draws": draws,
        "cross_validation": cross_validation,
        "timing": {
            "fit_seconds": t1 - t0,
            "draws_seconds": t2 - t1,
            "cross_validation_seconds": t4 - t3,
            "n_draws": n_draws,
            "objective": fit.objective,
        },
    }
