"""The short summary `chengyu build` prints after publishing."""

from __future__ import annotations

from pathlib import Path

from chengyu_cluster.pipeline.guard import duckdb_connection


def warehouse_counts(database: Path) -> tuple[dict[str, int], int]:
    """Rows per fact table of the marts schema, and the number of rejected figures."""
    with duckdb_connection(database, read_only=True) as con:
        facts = [
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'marts' and table_name like 'fct_%' order by table_name"
            ).fetchall()
        ]
        rows = {name: con.execute(f"select count(*) from marts.{name}").fetchone()[0] for name in facts}
        rejected = con.execute("select count(*) from marts.audit_rejected_figures").fetchone()[0]
    return rows, rejected


def print_summary(published: Path, version, outcome, gate, timings: dict[str, float]) -> None:
    rows, rejected = warehouse_counts(version.database)
    print()
    print(f"Published {published} (version {version.build_id})")
    # The DuckDB build runs no unit tests (`make dbt-unit` does: dbt_build.py); a Spark build does.
    unit_tests = (
        f", {outcome.count('unit_test', 'pass')} of {outcome.count('unit_test')} unit tests passed"
        if outcome.count("unit_test")
        else ""
    )
    print(
        f"  dbt: {outcome.count('model')} models, "
        f"{outcome.count('test', 'pass')} of {outcome.count('test')} data tests passed "
        f"({outcome.count('test', 'warn')} warned){unit_tests}"
    )
    against = f"against version {gate.compared_with}" if gate.compared_with else f"no comparison ({gate.note})"
    print(
        f"  Great Expectations shift checks {against}: {gate.n_passed} passed, {gate.n_warned} warned, "
        f"{gate.n_critical_failed} failed; Data Docs {gate.report_dir / 'index.html'}"
    )
    print(f"  figures rejected: {rejected}")
    for name, n in rows.items():
        print(f"  {name}: {n} rows")
    print("  time: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
