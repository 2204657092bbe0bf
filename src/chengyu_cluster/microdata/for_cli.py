"""The build and validate commands' use of the microdata layer (`--microdata DIR`)."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from chengyu_cluster.microdata.checks import DEFAULT_MEMORY_LIMIT, Microdata, check_microdata
from chengyu_cluster.microdata.listing import TABLES, print_new_findings
from chengyu_cluster.microdata.load import attach
from chengyu_cluster.microdata.store import Store, collect_garbage

MEMORY_SIZE = re.compile(r"[0-9]+(\.[0-9]+)? ?(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)


def memory_limit_setting() -> str:
    """CHENGYU_MEMORY_LIMIT (default 3GB), checked: it goes into DuckDB's settings and, through
    the load state, into dbt's `set memory_limit`, so only a plain size is accepted."""
    value = os.environ.get("CHENGYU_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT)
    if not MEMORY_SIZE.fullmatch(value):
        from chengyu_cluster.publish.versions import BadSetting

        raise BadSetting(f"CHENGYU_MEMORY_LIMIT={value!r} is not a size such as 3GB or 1536MiB")
    return value


def check_for_cli(args, project_dir: Path, accepted, paths=None) -> Microdata | None:
    """`--microdata DIR` of build and validate: check (a build also takes the files into the store),
    print the problems found, and add them to the inputs' findings (so exit 3 follows)."""
    if not getattr(args, "microdata", None):
        return None
    findings = accepted.findings
    kept_before, total_before = len(findings.kept), findings.n_total
    from chengyu_cluster.publish import versions as wh

    store = Store.of(paths) if paths is not None else None
    started = time.perf_counter()
    with wh.storage_errors("check the microdata" + (f" and keep them in {store.root}" if store else "")):
        micro = check_microdata(
            project_dir, Path(os.path.expanduser(args.microdata)), findings, store, memory_limit_setting()
        )
    print_new_findings(findings, kept_before, total_before)
    if micro is not None:
        n_new = sum(not f.reused for f in micro.files)
        rows = {t: sum(f.rows for f in micro.files if f.table == t) for t in TABLES}
        print(
            f"microdata ({micro.basis}): {len(micro.files)} files ({n_new} new, {len(micro.files) - n_new} "
            f"already in the store), {rows['enterprises']:,} register rows, {rows['enterprise_month']:,} reports, "
            f"{rows['supply_invoices']:,} invoices checked in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
    return micro


def attach_for_cli(con, micro: Microdata, args, project_dir: Path, paths, build_id: str, accepted) -> None:
    """After the inputs are in the candidate: the microdata relations, the plan, the store's GC."""
    previous = None
    try:
        current = paths.current()
        previous = current.internal_database() if current is not None else None  # its microdata
    except Exception:  # a broken pointer: build everything, the build reports the pointer itself
        previous = None
    import yaml as _yaml

    lookback = int(
        _yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8"))["vars"].get(
            "microdata_lookback_months", 3
        )
    )
    from chengyu_cluster.publish import versions as wh

    seed_hashes = [f.sha256 for f in accepted.files if f.kind == "seed"]
    with wh.storage_errors(f"load the microdata into the candidate from {micro.store.root}"):
        attach(
            con,
            micro,
            project_dir,
            build_id,
            previous,
            seed_hashes,
            bool(getattr(args, "full_refresh", False)),
            lookback,
            memory_limit_setting(),
        )
    print(f"microdata: {micro.state['plan']}", flush=True)
    kept = {v.build_id for v in paths.versions()} | {build_id}
    removed = collect_garbage(micro.store, kept)
    if removed:
        print(f"microdata store: removed {len(removed)} file(s) no kept version uses", flush=True)
