"""Compare the tables of two warehouse files, schema by schema: rows, and rows that differ.

    .venv/bin/python benchmarks/compare_warehouses.py BEFORE.duckdb AFTER.duckdb \
        [--schema marts] [--rename microdata.mart_x=fct_x] [--rel-tol 1e-12] [--show 5]

Rows are compared with EXCEPT ALL both ways, columns matched by name. A row that differs
only in floating-point columns, each within --rel-tol relative (or both NULL), from a row
of the other side with the same other columns counts as equal. Prints per table: rows
before and after, rows differing beyond the tolerance (before-only, after-only), and up to
--show of them. Exit 0 when every table is identical within the tolerance, 1 otherwise.
Both files are opened read-only: a published warehouse can be compared while readers use it.
"""

from __future__ import annotations

import argparse
import sys

import duckdb

FLOAT_TYPES = {"DOUBLE", "FLOAT", "REAL"}


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def tables(con: duckdb.DuckDBPyConnection, catalog: str, schema: str) -> list[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_catalog = ? and table_schema = ?",
        [catalog, schema],
    ).fetchall()
    return sorted(name for (name,) in rows)


def columns(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> dict[str, str]:
    rows = con.execute(
        "select column_name, data_type from information_schema.columns"
        " where table_catalog = ? and table_schema = ? and table_name = ? order by ordinal_position",
        [catalog, schema, table],
    ).fetchall()
    return dict(rows)


def beyond_tolerance(con, side: str, other: str, exact: list[str], floats: list[str], rel_tol: float) -> int:
    """Rows of `side` (a temp table) with no row of `other` equal on `exact` and close on `floats`."""
    conditions = [f"s.{c} is not distinct from o.{c}" for c in exact]
    conditions += [
        f"(s.{c} is null and o.{c} is null or abs(s.{c} - o.{c}) <= {rel_tol} * greatest(abs(s.{c}), abs(o.{c})))"
        for c in floats
    ]
    match = " and ".join(conditions) or "true"
    con.execute(
        f"create or replace temp table {side}_far as select * from {side} as s"
        f" where not exists (select 1 from {other} as o where {match})"
    )
    return con.execute(f"select count(*) from {side}_far").fetchone()[0]


def compare_table(con, before: str, after: str, rel_tol: float, show: int) -> tuple[int, int, int, int]:
    schema_b, table_b = before.split(".")
    schema_a, table_a = after.split(".")
    cols_b = columns(con, "before", schema_b, table_b)
    cols_a = columns(con, "after", schema_a, table_a)
    if cols_b.keys() != cols_a.keys():
        print(
            f"  columns differ: only before {sorted(cols_b.keys() - cols_a.keys())},"
            f" only after {sorted(cols_a.keys() - cols_b.keys())}"
        )
    shared = [c for c in cols_b if c in cols_a]
    select = ", ".join(quoted(c) for c in shared)
    floats = [quoted(c) for c in shared if cols_b[c] in FLOAT_TYPES or cols_a[c] in FLOAT_TYPES]
    exact = [quoted(c) for c in shared if quoted(c) not in floats]
    ref_b = f"before.{quoted(schema_b)}.{quoted(table_b)}"
    ref_a = f"after.{quoted(schema_a)}.{quoted(table_a)}"
    con.execute(
        f"create or replace temp table only_before as select {select} from {ref_b}"
        f" except all select {select} from {ref_a}"
    )
    con.execute(
        f"create or replace temp table only_after as select {select} from {ref_a}"
        f" except all select {select} from {ref_b}"
    )
    far_before = beyond_tolerance(con, "only_before", "only_after", exact, floats, rel_tol)
    far_after = beyond_tolerance(con, "only_after", "only_before", exact, floats, rel_tol)
    for side, count in (("only_before", far_before), ("only_after", far_after)):
        if count and show:
            print(f"  {side}:")
            for row in con.execute(f"select * from {side}_far limit {show}").fetchall():
                print("   ", dict(zip(shared, row, strict=True)))
    n_before = con.execute(f"select count(*) from {ref_b}").fetchone()[0]
    n_after = con.execute(f"select count(*) from {ref_a}").fetchone()[0]
    return n_before, n_after, far_before, far_after


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--schema", action="append", help="schema to compare (repeatable; default marts)")
    parser.add_argument(
        "--rename",
        action="append",
        default=[],
        metavar="SCHEMA.OLD=NEW",
        help="a table renamed between the two files (repeatable)",
    )
    parser.add_argument("--rel-tol", type=float, default=1e-12)
    parser.add_argument("--show", type=int, default=5, help="differing rows to print per table and side")
    args = parser.parse_args(argv)
    renames = dict(item.split("=", 1) for item in args.rename)

    con = duckdb.connect()
    for alias, path in (("before", args.before), ("after", args.after)):
        # ATTACH takes no bind parameter: the path becomes a string literal, its quotes doubled.
        con.execute(f"attach {sql_string(path)} as {alias} (read_only)")
    identical = True
    for schema in args.schema or ["marts"]:
        after_tables = set(tables(con, "after", schema))
        for table in tables(con, "before", schema):
            new_name = renames.get(f"{schema}.{table}", table)
            label = table if new_name == table else f"{table} -> {new_name}"
            if new_name not in after_tables:
                print(f"{schema}.{label}: missing after")
                identical = False
                continue
            after_tables.discard(new_name)
            n_before, n_after, far_before, far_after = compare_table(
                con, f"{schema}.{table}", f"{schema}.{new_name}", args.rel_tol, args.show
            )
            differing = far_before + far_after
            identical = identical and differing == 0 and n_before == n_after
            print(
                f"{schema}.{label}: rows {n_before} -> {n_after}, rows differing {differing}"
                f" (before only {far_before}, after only {far_after})"
            )
        for table in sorted(after_tables):
            print(f"{schema}.{table}: new after")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
