"""What the quality gate compares, read from one warehouse's marts on either engine.

The profile of a version is the columns and row count of every public mart and the
statistics of the key measures (quality/gate.yml); the frame of a candidate mart is what
Great Expectations validates. Each is defined once, as SQL, and rendered per engine by a
`Dialect` (quoting, the median): DuckDB reads a version file, Spark a schema of the build's
SparkSession.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

#: Reconciliation errors: compared as magnitudes (the gate's `max_abs` kind).
MAGNITUDES = ("relative_error", "exact_relative_error")
DISTRIBUTION_STATS = ("median", "mean", "stdev")


def duckdb_quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def spark_quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


@dataclass(frozen=True)
class Dialect:
    quote: Callable[[str], str]
    median: str  # the median of {x}


DUCKDB = Dialect(duckdb_quote, "median({x})")
# Spark's percentile(x, 0.5) interpolates between the two middle values as DuckDB's median does.
SPARK = Dialect(spark_quote, "percentile({x}, 0.5)")


@dataclass(frozen=True)
class Marts:
    """One warehouse's marts on one engine: its columns and a way to run a query."""

    dialect: Dialect
    schema: str
    columns: dict[str, list[str]]  # {mart: its columns in order}
    first_row: Callable[[str], tuple]  # SQL -> its first row

    def relation(self, name: str) -> str:
        return f"{self.dialect.quote(self.schema)}.{self.dialect.quote(name)}"


def statistic_sql(marts: Marts, kind: str, relation: str, column: str) -> str:
    """The statistic of a measure the gate compares. As double: a DECIMAL column would give
    Decimal values that do not mix with float limits."""
    x = f"cast({marts.dialect.quote(column)} as double)"
    if kind == "distribution":
        select = f"{marts.dialect.median.format(x=x)}, avg({x}), stddev_samp({x})"
    elif kind == "share":
        select = f"max({x})"
    else:  # max_abs
        select = f"max(abs({x}))"
    return f"select {select} from {marts.relation(relation)}"


def profile(marts: Marts, measures: list[dict]) -> dict:
    """Row counts and columns of every mart, and the statistics of each key measure."""
    counts = {t: marts.first_row(f"select count(*) from {marts.relation(t)}")[0] for t in marts.columns}
    stats = {}
    for m in measures:
        if m["column"] not in marts.columns.get(m["relation"], []):
            continue
        row = tuple(marts.first_row(statistic_sql(marts, m["kind"], m["relation"], m["column"])))
        value = dict(zip(DISTRIBUTION_STATS, row, strict=True)) if m["kind"] == "distribution" else row[0]
        stats[(m["relation"], m["column"])] = value
    return {"columns": marts.columns, "counts": counts, "stats": stats}


def frame_sql(marts: Marts, relation: str, measures: list[dict]) -> str:
    """A candidate mart as the gate validates it: each compared measure as double (the
    reconciliation errors as magnitudes), every other column as a typed null under its name
    (columns are compared by name only; their values need not be read)."""
    compared = {m["column"] for m in measures if m["relation"] == relation}
    items = []
    for column in marts.columns[relation]:
        name = marts.dialect.quote(column)
        if column not in compared:
            items.append(f"cast(null as int) as {name}")
            continue
        value = f"cast({name} as double)"
        items.append(f"abs({value}) as {name}" if column in MAGNITUDES else f"{value} as {name}")
    return f"select {', '.join(items) or '1 as present'} from {marts.relation(relation)}"


# ---- the two engines --------------------------------------------------------------------------


def duckdb_marts(con) -> Marts:
    """The `marts` schema of an open DuckDB file."""
    rows = con.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'marts' order by table_name, ordinal_position"
    ).fetchall()
    columns: dict[str, list[str]] = {}
    for table, column in rows:
        columns.setdefault(table, []).append(column)
    return Marts(DUCKDB, "marts", columns, lambda sql: con.execute(sql).fetchone())


def spark_marts(spark, schema: str) -> Marts:
    """Every table or view of a Spark database (none when it does not exist)."""
    columns = {}
    if spark.catalog.databaseExists(schema):
        names = sorted(
            row.tableName for row in spark.sql(f"show tables in {spark_quote(schema)}").collect() if not row.isTemporary
        )
        columns = {name: list(spark.table(f"{spark_quote(schema)}.{spark_quote(name)}").columns) for name in names}
    return Marts(SPARK, schema, columns, lambda sql: tuple(spark.sql(sql).first()))
