"""The checked microdata into the candidate: the raw_microdata relations, the plan's carry-over,
the build's manifest."""

from __future__ import annotations

import json
import os
from pathlib import Path

from chengyu_cluster.inputs.reader import sql_text
from chengyu_cluster.microdata.checks import DEFAULT_MEMORY_LIMIT, Microdata
from chengyu_cluster.microdata.listing import TABLES, layout
from chengyu_cluster.microdata.plan import layer_fingerprint, plan_carry_over


def attach(
    con,
    micro: Microdata,
    project_dir: Path,
    build_id: str,
    previous_database: Path | None,
    seed_hashes: list[str],
    full_refresh: bool,
    lookback_months: int,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
) -> None:
    """Create the raw_microdata relations in the candidate, carry the facts over when the plan
    allows, write the load state (what dbt's run reads: the months to rebuild, DuckDB's memory
    limit and spill folder), write the build's manifest and collect the store's garbage.

    dbt reads them from the candidate rather than as `--vars`: a change of vars (the spill folder
    differs in every build) makes dbt parse the whole project again."""
    _create_raw_relations(con, micro, project_dir)

    fingerprint = layer_fingerprint(project_dir, seed_hashes)
    plan = plan_carry_over(con, micro, previous_database, fingerprint, full_refresh, lookback_months)
    # The spill folder carries this process's id: what a killed build leaves is removed by the next
    # load (remove_leftovers), never while this build runs.
    settings = {"memory_limit": memory_limit, "temp_directory": str(micro.store.tmp / f"dbt-spill-{os.getpid()}")}
    micro.state = _write_load_state(con, micro, fingerprint, plan, settings)
    _write_manifest(micro, build_id)


def _create_raw_relations(con, micro: Microdata, project_dir: Path) -> None:
    """raw_microdata.<table>: a view over the build's store files; raw_microdata.partitions lists them."""
    columns = layout(project_dir)
    con.execute("create schema if not exists raw_microdata")
    for table in TABLES:
        stored = [f for f in micro.files if f.table == table]
        cols = ", ".join(f'"{c}"' for c in columns[table])
        if stored:
            paths = ", ".join(sql_text(str(f.store_file)) for f in stored)
            con.execute(
                f"create or replace view raw_microdata.{table} as select {cols}, filename as source_file "
                f"from read_parquet([{paths}], filename = true)"
            )
        else:
            typed = ", ".join(f'cast(null as {t}) as "{c}"' for c, t in columns[table].items())
            con.execute(
                f"create or replace view raw_microdata.{table} as select {typed}, "
                "cast(null as varchar) as source_file where false"
            )
    con.execute("""create or replace table raw_microdata.partitions (table_name varchar, input_file varchar,
                   store_file varchar, sha256 varchar, size_bytes bigint, month date, row_count bigint)""")
    rows = []
    for f in micro.files:
        for month, n in f.months.items() if f.months else [(None, f.rows)]:
            rows.append((f.table, f.display, micro.store.relative(f.store_file), f.sha256, f.size_bytes, month, n))
    if rows:
        con.executemany("insert into raw_microdata.partitions values (?, ?, ?, ?, ?, ?, ?)", rows)


def _write_load_state(con, micro: Microdata, fingerprint: str, plan: dict, settings: dict) -> dict:
    """raw_microdata.load_state: what the next build's plan compares with, and what this build's
    dbt run reads (reprocess_from, the DuckDB settings: macros/microdata)."""
    state = {
        **settings,
        "layer_fingerprint": fingerprint,
        "microdata_dir": str(micro.directory),
        "basis": micro.basis,
        "carried_over": str(plan["carry"]).lower(),
        "reprocess_from": plan.get("reprocess_from") or "",
        "plan": plan["reason"],
    }
    con.execute("create or replace table raw_microdata.load_state (key varchar, value varchar)")
    con.executemany("insert into raw_microdata.load_state values (?, ?)", sorted(state.items()))
    return state


def _write_manifest(micro: Microdata, build_id: str) -> None:
    """The store files this build uses (a kept version's manifest keeps them from the GC)."""
    store = micro.store
    store.manifests.mkdir(parents=True, exist_ok=True)
    manifest = store.manifests / f"{build_id}.json"
    manifest.write_text(
        json.dumps(
            {"build_id": build_id, "store_files": sorted({store.relative(f.store_file) for f in micro.files})}, indent=1
        ),
        encoding="utf-8",
    )
