"""What an incremental build must rebuild: the layer fingerprint and the months from which the
carried-over facts are rebuilt."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from chengyu_cluster.inputs.reader import sql_text
from chengyu_cluster.microdata.checks import Microdata

# The incremental models a build carries over from the published version: the enterprise x
# month grid, the invoices per seller x buyer x month, the two facts (by month) and the cells
# of the three marts (by year; the marts apply disclosure control to them in every run).
INCREMENTAL_FACTS = (
    ("intermediate", "int_microdata_enterprise_months"),
    ("intermediate", "int_microdata_supply_pairs"),
    ("microdata", "fct_supply_flow"),
    ("microdata", "fct_enterprise_month"),
    ("intermediate", "int_local_sourcing_cells"),
    ("intermediate", "int_chain_linkage_cells"),
    ("intermediate", "int_firm_dynamics_cells"),
)


def layer_fingerprint(project_dir: Path, seed_hashes: list[str]) -> str:
    """What the incremental facts depend on besides the microdata: the layer's SQL and YAML, its
    macros, the generic tests and the project's vars (a carried-over month is not tested again, so
    the tests it passed must be today's), the seeds (areas, sectors), and the modules of this package."""
    digest = hashlib.sha256()
    parts = sorted(
        p
        for folder in (
            "models/staging/microdata",
            "models/intermediate/microdata",
            "models/marts/microdata",
            "macros/microdata",
        )
        for p in (project_dir / folder).rglob("*")
        if p.is_file()
    ) + [project_dir / "macros" / "generic_tests.sql", project_dir / "dbt_project.yml"]
    # Every module of this package (as the one module it was split from was hashed whole): a
    # change to how files are read, checked, kept or loaded rebuilds every month.
    package = sorted(Path(__file__).parent.glob("*.py"))
    for path in parts + package:
        digest.update(str(path.relative_to(project_dir) if path.is_relative_to(project_dir) else path.name).encode())
        digest.update(path.read_bytes())
    for sha in sorted(seed_hashes):
        digest.update(sha.encode())
    return digest.hexdigest()


def plan_carry_over(
    con, micro: Microdata, previous: Path | None, fingerprint: str, full_refresh: bool, lookback_months: int
) -> dict:
    """Carry the published version's facts over, and from which month to rebuild them."""
    import duckdb

    if full_refresh:
        return {"carry": False, "reason": "--full-refresh: every month rebuilt"}
    if previous is None:
        return {"carry": False, "reason": "no published version: every month built"}
    try:
        con.execute(f"attach {sql_text(str(previous))} as previous_version (read_only)")
    except duckdb.Error as exc:
        return {"carry": False, "reason": f"the published version cannot be read ({str(exc).splitlines()[0]})"}
    try:
        refusal = _why_not_carried(con, micro, fingerprint)
        if refusal is not None:
            return {"carry": False, "reason": refusal}
        changed = _changed_months(con, micro)
        if changed is None:
            return {"carry": False, "reason": "the published version's register is no longer in the store"}
        newest = con.execute("select max(month) from raw_microdata.partitions where month is not null").fetchone()[0]
        if newest is None:
            return {"carry": False, "reason": "no reports or invoices: every month built"}
        window = add_months(newest, -lookback_months)
        start = min(changed + [window])
        for schema, table in INCREMENTAL_FACTS:
            con.execute(f"create schema if not exists {schema}")
            con.execute(f"create table {schema}.{table} as select * from previous_version.{schema}.{table}")
        reason = (
            f"incremental: months from {start:%Y-%m} rebuilt (look-back {lookback_months} months from "
            f"{newest:%Y-%m}" + (f"; earliest changed input {min(changed):%Y-%m}" if changed else "") + ")"
        )
        return {"carry": True, "reprocess_from": start.isoformat(), "reason": reason}
    finally:
        con.execute("detach previous_version")


def _why_not_carried(con, micro: Microdata, fingerprint: str) -> str | None:
    """Why the attached published version's facts cannot be carried over, or None when they can."""
    tables = {
        (s, t)
        for s, t in con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'previous_version'"
        ).fetchall()
    }
    if ("raw_microdata", "load_state") not in tables or not all(f in tables for f in INCREMENTAL_FACTS):
        return "the published version has no microdata: every month built"
    old_state = dict(con.execute("select key, value from previous_version.raw_microdata.load_state").fetchall())
    if old_state.get("layer_fingerprint") != fingerprint:
        return "the microdata code or the seeds changed: every month rebuilt"
    if old_state.get("basis") != micro.basis:
        return "the basis changed: every month rebuilt"
    return None


def _changed_months(con, micro: Microdata) -> list[dt.date] | None:
    """The months whose inputs changed since the published version; None when its register is gone."""
    old = con.execute(
        "select table_name, sha256, month, store_file from previous_version.raw_microdata.partitions"
    ).fetchall()
    new_files = {(f.table, f.sha256) for f in micro.files}
    old_files = {(t, s) for t, s, _, _ in old}
    changed: list[dt.date] = []
    # Months of report and invoice files added, removed or replaced.
    for f in micro.files:
        if (f.table, f.sha256) not in old_files:
            changed += [dt.date.fromisoformat(m) for m in f.months]
    changed += [m for t, s, m, _ in old if (t, s) not in new_files and m is not None]
    old_register = sorted({str(micro.store.resolve(p)) for t, _, _, p in old if t == "enterprises"})
    new_register = sorted({str(f.store_file) for f in micro.files if f.table == "enterprises"})
    if old_register != new_register:
        if not old_register or not all(Path(p).is_file() for p in old_register):
            return None
        old_files_sql = f"read_parquet([{', '.join(sql_text(p) for p in old_register)}])"
        for earliest in (_earliest_record_change(con, old_files_sql), _earliest_date_change(con, old_files_sql)):
            if earliest is not None:
                changed.append(earliest.replace(day=1))
    return changed


def _earliest_record_change(con, old_files_sql: str) -> dt.date | None:
    """Register: the earliest record date among records added, removed or changed (what
    attributes a month is the latest record by its end)."""
    record = "credit_code, record_date, area_code, industry_class, above_scale"
    old_sql = f"select {record} from {old_files_sql}"
    return con.execute(f"""
        select min(record_date) from (
            (select {record} from raw_microdata.enterprises except select * from ({old_sql}))
            union all
            (select * from ({old_sql}) except select {record} from raw_microdata.enterprises)
        )""").fetchone()[0]


def _earliest_date_change(con, old_files_sql: str) -> dt.date | None:
    """An enterprise's opening and closing dates come from its latest record and hold for all its
    months (whether it is open, the month it enters or exits): when they change without a new
    record date (a closure filled in on the same record), the months from the earlier of the old
    and new date change. An enterprise new to the register or gone from it counts by its record
    dates (_earliest_record_change): it has no months before them."""
    latest = (
        "select credit_code, opened_on, closed_on from ({}) "
        "qualify row_number() over (partition by credit_code order by record_date desc) = 1"
    )
    old_sql = latest.format(f"select credit_code, record_date, opened_on, closed_on from {old_files_sql}")
    return con.execute(f"""
        select min(least(
            case when o.opened_on is distinct from n.opened_on then least(o.opened_on, n.opened_on) end,
            case when o.closed_on is distinct from n.closed_on then least(o.closed_on, n.closed_on) end))
        from ({old_sql}) as o
        inner join ({latest.format("select * from raw_microdata.enterprises")}) as n using (credit_code)
        where o.opened_on is distinct from n.opened_on or o.closed_on is distinct from n.closed_on
    """).fetchone()[0]


def add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)
