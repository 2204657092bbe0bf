"""`chengyu`: build, check and publish the cluster warehouse.

Exit codes (also in the README):
  0   success
  1   unexpected error (a bug: please report it with the output)
  2   wrong command-line usage (an empty --out, a --project-dir that is not the repository)
  3   an input file was rejected (file, line, column and rule are printed)
  4   the dbt build failed: a model did not build or a dbt test failed
  5   the quality gate found a large shift from the published version, or a public mart
      or column disappeared (`build --accept-shift REASON` publishes and records why)
  6   locked: another build or rollback of the same warehouse is running, or a process
      holds the warehouse file open for writing (a build stops then: its quality gate
      cannot compare; `--accept-shift REASON` publishes without a comparison)
  7   no such version: the publish log records no kept version live before the current
      one, or the version asked for does not exist
  8   `sql` / `analyses` / `metrics`: a statement was refused (not a read) or failed, an
      unknown analysis or metric; any reading command: there is no published warehouse yet
  9   the warehouse path holds something chengyu did not publish, a reader left a .wal
      beside it (opened it read-write), its file name is not <name>.duckdb, or a
      version with the build id exists; an output path holds a link, FIFO, device, the
      wrong kind or (export) a non-empty folder; publish-postgres --schema is not
      chengyu's own publication: nothing is overwritten
  10  storage: the warehouse folder is read-only, not permitted, or the disk is full; an
      output path the file system refuses (a name too long, a file on the way, /proc)
  11  a version is damaged: it does not match its recorded size or checksum, or does not
      open; for the published one, every command that opens it and the build say so and
      name `chengyu rollback --to <the last version that verifies>`
  12  PostgreSQL refused (no connection, missing privilege or role, or a lock wait
      timed out); after `build --publish-postgres` the DuckDB version is published
  13  out of memory: DuckDB reached its limit (`sql`: its --memory-limit)
  14  `build --target spark`: Spark cannot start here (pyspark / dbt-spark not installed,
      no Java runtime)
  130 interrupted (Ctrl-C / SIGINT); 143 terminated (SIGTERM): the build's child
      processes are stopped, its candidate removed, the published warehouse unchanged
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import yaml

from . import warehouse as wh
from .inputs import DEFAULT_MAX_INPUT_BYTES, AcceptedInputs, load_inputs, read_inputs

EXIT_OK, EXIT_BUG, EXIT_USAGE, EXIT_INPUT, EXIT_DBT, EXIT_QUALITY = 0, 1, 2, 3, 4, 5
EXIT_QUERY = 8
EXIT_POSTGRES_REFUSED = 12  # PostgreSQL refused: connection, missing privilege/role or lock timeout
EXIT_SIGINT, EXIT_SIGTERM = 130, 143


class ChengyuExit(Exception):
    """End the command with a one-line message and an exit code."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived (a BaseException, like KeyboardInterrupt)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.code = 128 + signum


@contextmanager
def stop_on_signals():
    """Turn SIGTERM (and SIGINT) into Interrupted, so `finally` blocks clean up.

    DbtBuild kills its child when an exception passes through it, so the dbt child stops
    with the build.
    """
    def handler(signum, _frame):
        # A second signal while cleaning up must not interrupt the clean-up.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def find_project_dir(explicit: str | None) -> Path:
    """--project-dir, else $CHENGYU_PROJECT_DIR, else the current folder or this package's repository.
    A folder named by the first two must be a project: never another one instead."""
    for given, name in ((explicit, "--project-dir"), (os.environ.get("CHENGYU_PROJECT_DIR"), "CHENGYU_PROJECT_DIR")):
        if given is None:
            continue
        folder = Path(os.path.expanduser(given))
        # os.path's tests, unlike Path's, answer False for a name too long or a loop of links.
        if not given.strip() or not os.path.isdir(folder):
            raise ChengyuExit(EXIT_USAGE, f"{name} {given!r} does not exist or is not a folder")
        if not os.path.isfile(folder / "dbt_project.yml"):
            raise ChengyuExit(EXIT_USAGE, f"{name} {given!r} has no dbt_project.yml: not the repository")
        return folder.resolve()
    for candidate in (os.getcwd(), str(Path(__file__).resolve().parents[2])):
        if (Path(candidate) / "dbt_project.yml").is_file():
            return Path(candidate).resolve()
    raise ChengyuExit(EXIT_USAGE, "no dbt_project.yml found; run from the repository or pass --project-dir")


def project_vars(project_dir: Path) -> dict:
    return yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]


# The commands that copy the published file out check its whole checksum, the others its size.
COPYING_COMMANDS = frozenset({"export", "publish-postgres"})


def published_warehouse(args: argparse.Namespace) -> tuple[Path, wh.WarehousePaths]:
    """The project and the published warehouse that a read-only command works on, checked:
    a damaged file is exit 11 naming `rollback --to` the last version that verifies, a
    file held open for writing exit 6."""
    project_dir = find_project_dir(args.project_dir)
    paths = wh.WarehousePaths.from_env(project_dir)
    if wh.check_published(paths, full=getattr(args, "command", None) in COPYING_COMMANDS) is None:
        raise ChengyuExit(EXIT_QUERY, f"no published warehouse at {paths.published}; run `make build` first")
    return project_dir, paths


def code_version(project_dir: Path) -> str:
    from importlib.metadata import version

    try:
        commit = subprocess.run(["git", "-C", str(project_dir), "describe", "--always", "--dirty"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{version('chengyu-cluster')}+{commit or 'unknown'}"


def stage(name: str) -> None:
    print(f"[stage] {name}", flush=True)
    wh.pause_for_fault_test(name)


def report_inputs(accepted: AcceptedInputs) -> None:
    for line in accepted.findings.lines():
        print(line, file=sys.stderr if line.startswith("ERROR") else sys.stdout)


def read_checked_inputs(args: argparse.Namespace, project_dir: Path) -> AcceptedInputs:
    settings = project_vars(project_dir)
    if args.sheet is not None and not args.sector_output:
        raise ChengyuExit(EXIT_USAGE, "--sheet names a sheet of the --sector-output workbook; give that too")
    sector_output = Path(args.sector_output).absolute() if args.sector_output else None
    max_bytes = int(args.max_input_mb * 2**20) if args.max_input_mb else DEFAULT_MAX_INPUT_BYTES
    accepted = read_inputs(project_dir, sector_output, settings["panel_start_year"], settings["panel_end_year"],
                           max_bytes, args.sheet)
    report_inputs(accepted)
    return accepted


def cmd_build(args: argparse.Namespace) -> int:
    project_dir = find_project_dir(args.project_dir)
    os.environ.setdefault("DBT_PROFILES_DIR", str(project_dir))
    if args.target == "spark":
        from .spark_publish import build_on_spark

        with stop_on_signals():
            return build_on_spark(args, project_dir, stage, {})
    if args.select or args.selector:
        raise ChengyuExit(EXIT_USAGE, "--select and --selector are for --target spark; the DuckDB build "
                                      "builds the whole project")
    paths = wh.WarehousePaths.from_env(project_dir)
    started = time.perf_counter()
    timings: dict[str, float] = {}

    wh.check_publishable(paths)  # before anything is created next to the warehouse path
    with stop_on_signals(), wh.build_lock(paths):
        for leftover in wh.remove_leftovers(paths):
            print(f"removed what an interrupted build left: {leftover.name}", flush=True)
        wh.check_publishable(paths)
        wh.adopt_legacy_file(paths)
        live, no_comparison = wh.live_for_build(paths, args.accept_shift)  # fails closed on a damaged live file
        needed_bytes = wh.check_free_space(paths, live)

        stage("validate-inputs")
        t = time.perf_counter()
        accepted = read_checked_inputs(args, project_dir)
        from .microdata import check_for_cli

        microdata = check_for_cli(args, project_dir, accepted, paths)
        timings["input checks"] = time.perf_counter() - t
        if not accepted.ok:
            print(f"\nInput rejected: {accepted.findings.n_errors} problem(s). Nothing was built; "
                  f"the published warehouse {paths.published} is unchanged.", file=sys.stderr)
            return EXIT_INPUT

        context = {"build_id": wh.unique_build_id(paths), "code_version": code_version(project_dir)}
        candidate = paths.candidate()
        try:
            dbt_vars = write_candidate_inputs(args, project_dir, paths, candidate, accepted, context, microdata)
            code, outcome, gate = build_and_check(args, project_dir, paths, candidate, needed_bytes, timings,
                                                  dbt_vars, live, no_comparison)
            if code != EXIT_OK:
                return code
            t = time.perf_counter()
            version = seal_and_publish(args, paths, candidate, accepted, context, gate, microdata)
            timings["seal and publish"] = time.perf_counter() - t
        finally:
            for leftover in (candidate, candidate.with_name(candidate.name + ".wal")):
                leftover.unlink(missing_ok=True)

    timings["total"] = time.perf_counter() - started
    from .summary import print_summary

    # The version's own file, not the pointer: another build or rollback may move the pointer now.
    print_summary(paths.published, version, outcome, gate, timings)
    if args.publish_postgres:
        return refresh_postgres_copy(args, paths, version)
    return EXIT_OK


def write_candidate_inputs(args: argparse.Namespace, project_dir: Path, paths: wh.WarehousePaths,
                           candidate: Path, accepted: AcceptedInputs, context: dict[str, str], microdata) -> dict:
    """The checked inputs and the build's identity, as raw tables of a new candidate file,
    and the microdata when given: returns the dbt vars the microdata run needs ({} without)."""
    from .microdata import attach_for_cli

    with wh.storage_errors(f"write the candidate warehouse in {paths.versions_dir}"):
        import duckdb

        con = duckdb.connect(str(candidate))
        try:
            load_inputs(con, accepted, context)
            if not microdata:
                return {}
            return attach_for_cli(con, microdata, args, project_dir, paths, context["build_id"], accepted)
        finally:
            con.close()


def build_and_check(args: argparse.Namespace, project_dir: Path, paths: wh.WarehousePaths, candidate: Path,
                    needed_bytes: int, timings: dict[str, float], dbt_vars: dict, current: wh.Version | None,
                    no_comparison: str | None):
    """dbt builds and tests the candidate, then the quality gate compares it with the
    published version `current` (None: `no_comparison` says why): (exit code, dbt outcome, gate result)."""
    from .dbt_build import DbtBuild
    from .quality import gate_report_dir, prepare_gate, run_quality_gate

    stage("dbt-build")
    t = time.perf_counter()
    with DbtBuild(project_dir, candidate, dbt_vars, quiet=not args.verbose) as dbt:
        # Meanwhile, on the other core.
        baseline = prepare_gate(project_dir, current.database if current else None, args.accept_shift,
                                no_comparison or "nothing is published yet")
        outcome = dbt.wait()
    timings["dbt build"] = time.perf_counter() - t
    for item in outcome.warnings:
        print(f"WARNING dbt {item.kind} {item.name}: {item.message}")
        for row in item.sample_rows:
            print(f"    row: {row}")
    if not outcome.success:
        if any("No space left" in item.message for item in outcome.failures):
            raise wh.StorageError(f"cannot write the candidate warehouse in {paths.versions_dir}: no space "
                                  f"left on the device; a build needs about {needed_bytes / 2**20:.0f} MiB")
        for item in outcome.failures:
            print(f"ERROR dbt {item.kind} {item.name}: {item.message}", file=sys.stderr)
            for row in item.sample_rows:
                print(f"    offending row: {row}", file=sys.stderr)
        print(f"\nBuild failed in dbt. The published warehouse {paths.published} is unchanged.", file=sys.stderr)
        return EXIT_DBT, outcome, None

    stage("quality-gate")
    t = time.perf_counter()
    gate = run_quality_gate(candidate, baseline, gate_report_dir(project_dir), args.accept_shift)
    timings["quality gate"] = time.perf_counter() - t
    for line in gate.messages():
        print(line, file=sys.stderr if line.startswith("CRITICAL") else sys.stdout)
    if not gate.passed:
        print(f"\nQuality gate failed: {gate.n_critical_failed} critical check(s). "
              f"The published warehouse {paths.published} is unchanged. Reports: {gate.report_dir}. "
              "If the shift is expected, build again with --accept-shift \"<reason>\".", file=sys.stderr)
        return EXIT_QUALITY, outcome, gate
    return EXIT_OK, outcome, gate


def seal_and_publish(args: argparse.Namespace, paths: wh.WarehousePaths, candidate: Path,
                     accepted: AcceptedInputs, context: dict[str, str], gate, microdata) -> wh.Version:
    stage("seal")
    wh.seal(candidate)
    stage("publish")
    record = {"build_id": context["build_id"], "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "code_version": context["code_version"],
              "inputs": [{"file": f.display, "sha256": f.sha256, "size_bytes": f.size_bytes}
                         for f in accepted.files],
              "microdata": microdata.record_inputs() if microdata else [],
              "row_counts": table_row_counts(candidate),
              "compared_with": gate.compared_with,
              "accepted_shift": gate.accepted_shift}
    # No signal between the version's rename and the pointer's: the outcome stays what we report.
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        command = "build" + (" --accept-shift" if args.accept_shift else "")
        version = wh.publish(paths, candidate, context["build_id"], record, keep=args.keep_versions, command=command)
        # Published: a signal that came meanwhile is dropped, the build reports success.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    return version


def postgres_copy_name(dsn: str, schema: str) -> str:
    """Where a PostgreSQL copy lives, without secrets: schema, database, host and port."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.Error:  # a DSN psycopg cannot parse: publishing refuses it anyway
        parts = {}
    where = " ".join(f"{k}={parts[k]}" for k in ("dbname", "host", "port") if parts.get(k))
    return f"schema {schema}" + (f" ({where})" if where else "")


def note_copy(paths: wh.WarehousePaths, kind: str, target: str, command: str) -> None:
    """After export / publish-postgres: the publish log records which build the copy holds."""
    version = paths.pointed_version()
    if version is not None:
        wh.record_copy(paths, kind, target, version.build_id, command)


def refresh_postgres_copy(args: argparse.Namespace, paths: wh.WarehousePaths, version: wh.Version) -> int:
    """After a publish or rollback: replace the PostgreSQL copy in the same atomic way as
    publish-postgres, and record in the publish log which build it now holds."""
    from .postgres import PostgresRefused, publish_postgres

    build_id = version.build_id
    try:
        counts = publish_postgres(version.database, args.publish_postgres, args.pg_schema, args.pg_reader_role or None,
                                  lock_timeout=args.pg_lock_timeout)
    except PostgresRefused as exc:
        print(f"chengyu: PostgreSQL refused: {exc} (version {build_id} is published in DuckDB; "
              "the PostgreSQL copy still holds the one before)", file=sys.stderr)
        return EXIT_POSTGRES_REFUSED
    wh.record_copy(paths, "postgres", postgres_copy_name(args.publish_postgres, args.pg_schema), build_id,
                   args.command)
    print(f"  PostgreSQL copy: {len(counts)} marts into schema {args.pg_schema} (build {build_id})")
    return EXIT_OK


def table_row_counts(database: Path) -> dict[str, int]:
    import duckdb

    con = duckdb.connect(str(database), read_only=True)
    try:
        names = con.execute("select table_name from duckdb_tables() where schema_name = 'marts' "
                            "order by table_name").fetchall()
        return {n: con.execute(f'select count(*) from marts."{n}"').fetchone()[0] for (n,) in names}
    finally:
        con.close()


def cmd_rollback(args: argparse.Namespace) -> int:
    project_dir = find_project_dir(args.project_dir)
    paths = wh.WarehousePaths.from_env(project_dir)
    command = "rollback" + (f" --to {args.to}" if args.to else "")
    with stop_on_signals(), wh.build_lock(paths):
        wh.remove_leftovers(paths)
        wh.adopt_legacy_file(paths)
        left, now = wh.rollback(paths, args.to, command)
    if left == now:
        print(f"{paths.published} points at version {now.build_id} already; the pointer is unchanged")
    else:
        was = left.build_id if left else "a broken pointer"
        print(f"{paths.published} now points at version {now.build_id} (was {was}; `chengyu versions` lists them all)")
    from .quality import gate_report_dir, show_live_report

    try:  # the gate report (reports/index.html) follows the live version
        shown = show_live_report(gate_report_dir(project_dir), now.build_id)
    except OSError as exc:
        shown = f"the gate report could not be updated ({exc.strerror}): it may show another build"
    if shown:
        print(f"  {shown}")
    copy = postgres_copy_name(args.publish_postgres, args.pg_schema) if args.publish_postgres else None
    for (kind, target), event in sorted(wh.read_history(paths).copies.items()):
        if event["build_id"] != now.build_id and (kind, target) != ("postgres", copy):
            print(f"  the {'PostgreSQL copy' if kind == 'postgres' else kind} {target} holds build "
                  f"{event['build_id']}, not the published one")
    if args.publish_postgres:
        return refresh_postgres_copy(args, paths, now)
    return EXIT_OK


def cmd_versions(args: argparse.Namespace) -> int:
    project_dir = find_project_dir(args.project_dir)
    paths = wh.WarehousePaths.from_env(project_dir)
    try:
        current = paths.current()
    except wh.CorruptVersion as exc:  # list them anyway: rollback --to needs their ids
        current = None
        print(f"WARNING {exc}", file=sys.stderr)
    history = wh.read_history(paths)
    versions = history.ranked(paths.versions())
    if not versions:
        print(f"no versions at {paths.versions_dir}")
        return EXIT_OK
    on_path = set(history.rollback_path())
    for version in versions:
        mark = "*" if current is not None and version.build_id == current.build_id else " "
        print(f"{mark} {version.build_id}  {version_state(history, version.build_id, mark == '*', on_path)}  "
              f"{version_summary(version)}")
    print(f"* = published (what {paths.published} points at); versions listed most recently live first")
    path = [b for b in history.rollback_path() if b in {v.build_id for v in versions}]
    print(f"`chengyu rollback` returns to {path[0] if path else 'nothing (name a version with --to)'}")
    for (kind, target), event in sorted(history.copies.items()):
        stale = "" if current is not None and event["build_id"] == current.build_id else "  (not the published build)"
        print(f"copy: {'PostgreSQL' if kind == 'postgres' else kind} {target} holds build {event['build_id']} "
              f"(since {event['at']}, `chengyu {event['command']}`){stale}")
    if history.skipped or history.unknown:
        print(f"WARNING the publish log {paths.publish_log.name} has {history.skipped} unreadable line(s) and "
              f"{history.unknown} unknown event(s), ignored", file=sys.stderr)
    return EXIT_OK


def version_state(history: wh.History, build_id: str, live: bool, on_path: set[str]) -> str:
    """Published at / withdrawn at, and by which command, from the publish log."""
    first, last, ended = history.made_live(build_id)
    if first is None:
        return "not in the publish log"
    text = f"published {first['at']} by `{first['command']}`"
    if last is not first:
        text += f", live again {last['at']} by `{last['command']}`"
    if live:
        return text + ", live"
    until = f" {ended['at']} by `{ended['command']}`" if ended is not None else ""
    if build_id in on_path:  # superseded by a publish: a plain rollback returns to it
        return text + f", live until{until}"
    return text + f", withdrawn{until} (comes back only with rollback --to)"


def version_summary(version: wh.Version) -> str:
    try:
        record = version.read_record()
    except wh.CorruptVersion as exc:
        return str(exc)
    inputs = record.get("inputs") if isinstance(record.get("inputs"), list) else []
    user = next((i for i in inputs if isinstance(i, dict) and not str(i.get("file", "")).startswith("seeds/")), None)
    rows = record.get("row_counts") if isinstance(record.get("row_counts"), dict) else {}
    return (f"built {record.get('built_at', '?')}  code {record.get('code_version', '?')}  "
            f"{len(inputs)} input files  fct_sector_output {rows.get('fct_sector_output', '?')} rows"
            + (f"  user file {user.get('file')} sha256 {str(user.get('sha256'))[:12]}" if user else "")
            + (f"  ({record['note']})" if "note" in record else ""))


def cmd_verify(args: argparse.Namespace) -> int:
    project_dir = find_project_dir(args.project_dir)
    paths = wh.WarehousePaths.from_env(project_dir)
    bad = 0
    for version in paths.versions():
        try:
            wh.verify_version(paths, version)
            print(f"ok       {version.build_id}")
        except wh.CorruptVersion as exc:
            bad += 1
            print(f"CORRUPT  {version.build_id}: {exc}", file=sys.stderr)
    history = wh.read_history(paths)
    print(f"publish log: {len(history.events) - (history.pending is not None)} event(s)"
          + (f", {history.skipped} unreadable line(s) ignored" if history.skipped else "")
          + (f"; the pointer's version {history.pending['build_id']} is not in it yet (the next build or "
             "rollback records it)" if history.pending else ""))
    paths.current()  # the pointer itself must name a complete version
    return wh.CorruptVersion.exit_code if bad else EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    project_dir = find_project_dir(args.project_dir)
    accepted = read_checked_inputs(args, project_dir)
    from .microdata import check_for_cli

    check_for_cli(args, project_dir, accepted)
    n_errors = accepted.findings.n_errors
    print(f"{n_errors} error(s), {accepted.findings.n_warnings} warning(s)")
    return EXIT_INPUT if n_errors else EXIT_OK


def cmd_sql(args: argparse.Namespace) -> int:
    from .access import default_memory_limit, interactive, open_published, run_script

    _, paths = published_warehouse(args)
    con = open_published(paths.published, args.memory_limit or default_memory_limit())
    try:
        if args.query is None:
            return interactive(con, args.format, args.max_rows)
        return run_script(con, args.query, args.format, args.max_rows)
    finally:
        con.close()


def cmd_export(args: argparse.Namespace) -> int:
    from .access import export_parquet
    from .outputs import check_folder_target, output_path

    _, paths = published_warehouse(args)
    out = output_path(args.out)
    with wh.storage_errors(f"write the export to {out}", any_io=True):
        check_folder_target(out)  # before a mart is read: a refusal costs nothing
        manifest = export_parquet(paths.published, out)
    note_copy(paths, "export", str(out), "export")
    print(f"wrote every public mart as Parquet; manifest: {manifest}")
    return EXIT_OK


def cmd_publish_postgres(args: argparse.Namespace) -> int:
    from .postgres import ForeignSchema, PostgresRefused, publish_postgres

    _, paths = published_warehouse(args)
    try:
        counts = publish_postgres(paths.published, args.dsn, args.schema, args.reader_role or None,
                                  lock_timeout=args.lock_timeout)
    except PostgresRefused as exc:
        print(f"chengyu: {'' if isinstance(exc, ForeignSchema) else 'PostgreSQL refused: '}{exc}", file=sys.stderr)
        return exc.exit_code
    note_copy(paths, "postgres", postgres_copy_name(args.dsn, args.schema), "publish-postgres")
    print(f"published {len(counts)} marts ({sum(counts.values())} rows) into schema {args.schema}"
          + (f"; role {args.reader_role} may read them" if args.reader_role else ""))
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from .outputs import check_file_target, output_path
    from .report import build_report

    project_dir, paths = published_warehouse(args)
    out = output_path(args.out) if args.out else project_dir / "reports" / "cluster_report.html"
    with wh.storage_errors(f"write the report to {out}", any_io=True):
        check_file_target(out)  # before the charts are drawn
        print(f"wrote {build_report(paths.published, out)}")
    return EXIT_OK


def cmd_docs(args: argparse.Namespace) -> int:
    from .dbt_build import generate_docs
    from .outputs import check_docs_folder, output_path

    project_dir, paths = published_warehouse(args)
    out = output_path(args.out) if args.out else project_dir / "reports" / "docs"
    internal = paths.current().internal_database()  # the docs describe every model, not only the served ones
    with wh.storage_errors(f"write the docs to {out}", any_io=True):
        check_docs_folder(out)  # before dbt runs
        print(f"wrote {generate_docs(project_dir, internal, out)} (open it in a browser; no server needed)")
    return EXIT_OK


def cmd_analyses(args: argparse.Namespace) -> int:
    from .access import format_result
    from .analyses import AnalysisError, find_analysis, list_analyses, run_analysis

    project_dir = find_project_dir(args.project_dir)
    if args.name is None:
        for analysis in list_analyses(project_dir):
            print(f"{analysis.short:4} {analysis.question}  ({analysis.path.relative_to(project_dir)})")
        print("\nrun one: chengyu analyses q1   (--format table|csv|json)")
        return EXIT_OK
    try:
        analysis = find_analysis(project_dir, args.name)
        _, paths = published_warehouse(args)
        columns, rows = run_analysis(paths.published, analysis)
    except AnalysisError as exc:
        print(f"chengyu: {exc}", file=sys.stderr)
        return EXIT_QUERY
    if args.format == "table":
        print(f"{analysis.short}: {analysis.question}\n(how to read it: {analysis.path.relative_to(project_dir)})\n")
    sys.stdout.write(format_result(columns, rows, args.format))
    return EXIT_OK


def cmd_metrics(args: argparse.Namespace) -> int:
    from .semantic import run_metricflow

    project_dir, paths = published_warehouse(args)
    return run_metricflow(project_dir, paths.published, args.mf_args or ["--help"])


def cmd_synth(args: argparse.Namespace) -> int:
    from .synth import run_synth

    return run_synth(find_project_dir(args.project_dir), args)


def positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (value > 0 and value < 1e9):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number of MiB")
    return value


def count_at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} must be at least {minimum}")
        return value
    return parse


def memory_size(text: str) -> str:
    """A DuckDB memory size such as 2GB or 1536MiB (it becomes a DuckDB setting)."""
    from .microdata import MEMORY_SIZE

    if not MEMORY_SIZE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 2GB or 1536MiB")
    return text


def pg_identifier(text: str) -> str:
    """A schema or role name as PostgreSQL keeps it unquoted ('' for none, where allowed)."""
    import re

    from .postgres import MAX_SCHEMA_NAME

    if text and not re.fullmatch(r"[a-z_][a-z0-9_]*", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a plain lower-case PostgreSQL name")
    if len(text) > MAX_SCHEMA_NAME:  # PostgreSQL cuts names at 63 bytes; a schema needs room for __incoming
        raise argparse.ArgumentTypeError(f"{text!r} is longer than {MAX_SCHEMA_NAME} characters")
    return text


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value < 1e7:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 (wait without limit) or more seconds")
    return value


def file_path(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("the path is empty")
    return os.path.expanduser(text)  # unlike Path.expanduser, never raises for an unknown ~user


def _add_input_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sector-output", metavar="PATH", type=file_path,
                        help="CSV of your own area x sector x year output figures, or a yearbook-style Excel sheet "
                             "(.xlsx; layouts in docs/inputs.md); they replace the estimates cell by cell")
    parser.add_argument("--sheet", metavar="NAME", help="the sheet of an .xlsx --sector-output (default: its only one)")
    parser.add_argument("--max-input-mb", type=positive_number, metavar="MB",
                        help=f"refuse input files larger than this (default {DEFAULT_MAX_INPUT_BYTES // 2**20})")
    parser.add_argument("--microdata", metavar="DIR", type=file_path,
                        help="enterprise microdata (enterprises/, enterprise_month/, supply_invoices/ of Parquet or "
                             "CSV files; layout in docs/microdata_layout.md) for the microdata marts")


class OneLineParser(argparse.ArgumentParser):
    """A usage error is one line on stderr, like every other refusal (exit 2)."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (`{self.prog} --help` lists the options)\n")


def _add_postgres_copy_options(parser: argparse.ArgumentParser, when: str) -> None:
    parser.add_argument("--publish-postgres", metavar="DSN", default=os.environ.get("CHENGYU_PUBLISH_POSTGRES"),
                        help=f"{when}, refresh the PostgreSQL copy as publish-postgres does "
                             "(default: $CHENGYU_PUBLISH_POSTGRES; unset: no copy)")
    parser.add_argument("--pg-schema", type=pg_identifier, default="chengyu",
                        help="schema of the PostgreSQL copy (default chengyu)")
    parser.add_argument("--pg-reader-role", type=pg_identifier, default="chengyu_reader",
                        help="as publish-postgres --reader-role")
    parser.add_argument("--pg-lock-timeout", type=seconds, default=30, metavar="SECONDS",
                        help="as publish-postgres --lock-timeout")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="chengyu", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project-dir", help="repository with dbt_project.yml (default: current directory); "
                                              "it must exist and hold dbt_project.yml (exit 2 otherwise)")
    sub = parser.add_subparsers(dest="command", required=True)

    build = sub.add_parser("build", help="build into a candidate, check it, publish it as a new version")
    _add_input_options(build)
    build.add_argument("--keep-versions", type=count_at_least(1), default=wh.DEFAULT_KEEP_VERSIONS, metavar="N",
                       help=f"published versions to keep (default {wh.DEFAULT_KEEP_VERSIONS}; the current one always)")
    _add_postgres_copy_options(build, "after publishing")
    build.add_argument("--accept-shift", metavar="REASON",
                       help="publish although the quality gate finds a large shift from the published version; "
                            "the reason is recorded in the version's record")
    build.add_argument("--full-refresh", action="store_true",
                       help="rebuild every month of the microdata facts instead of carrying the published ones over")
    build.add_argument("--verbose", action="store_true", help="show dbt's progress lines")
    build.add_argument("--target", choices=["duckdb", "spark"], default="duckdb",
                       help="duckdb (default): a new version file; spark: candidate schemas on the local Spark of "
                            "the dbt target `spark`, published by switching views (docs/spark.md)")
    spark_selection = build.add_mutually_exclusive_group()
    spark_selection.add_argument("--selector", metavar="NAME",
                                 help="with --target spark: a dbt selector (selectors.yml), not the whole project")
    spark_selection.add_argument("--select", nargs="+", metavar="NODE",
                                 help="with --target spark: a dbt node selection instead of a selector")
    build.set_defaults(func=cmd_build)

    back = sub.add_parser("rollback", help="point the warehouse at the version live before the current one "
                                           "(per the publish log)")
    back.add_argument("--to", metavar="BUILD_ID",
                      help="a build id from `chengyu versions` instead (also a withdrawn one)")
    _add_postgres_copy_options(back, "after the rollback")
    back.set_defaults(func=cmd_rollback)

    versions = sub.add_parser("versions", help="list the kept versions, most recently live first (* = published), "
                                               "when each was published and withdrawn, and what each copy holds")
    versions.set_defaults(func=cmd_versions)

    verify = sub.add_parser("verify", help="check every kept version against its recorded checksum")
    verify.set_defaults(func=cmd_verify)

    sql = sub.add_parser("sql", help="read-only SQL against the published warehouse (no QUERY: interactive)")
    sql.add_argument("query", nargs="?", help="SQL; several statements separated by ';'. Omit for a prompt")
    sql.add_argument("--format", choices=["table", "csv", "json"], default="table")
    sql.add_argument("--max-rows", type=count_at_least(0), default=1000, metavar="N",
                     help="rows printed in the table format (default 1000; 0: all); csv and json print all")
    sql.add_argument("--memory-limit", type=memory_size, metavar="SIZE",
                     help="most memory a query may use, e.g. 2GB (default: a quarter of this machine's); "
                          "a query that needs more stops with exit 13")
    sql.set_defaults(func=cmd_sql)

    export = sub.add_parser("export", help="write every public mart as Parquet with a manifest")
    export.add_argument("--format", choices=["parquet"], default="parquet")
    export.add_argument("--out", required=True, metavar="DIR", type=file_path,
                        help="a new or empty folder (a link is refused, never followed)")
    export.set_defaults(func=cmd_export)

    pg = sub.add_parser("publish-postgres", help="copy the public marts into a PostgreSQL schema (atomic, idempotent)")
    pg.add_argument("--dsn", required=True, help="libpq connection string, e.g. 'host=127.0.0.1 dbname=bi user=loader'")
    pg.add_argument("--schema", type=pg_identifier, default="chengyu")
    pg.add_argument("--reader-role", type=pg_identifier, default="chengyu_reader",
                    help="role given read access ('' for none); created only if the login may create roles, "
                         "otherwise it must exist")
    pg.add_argument("--lock-timeout", type=seconds, default=30, metavar="SECONDS",
                    help="how long to wait for readers of the previous publication before giving up "
                         "(exit 12, naming the blocking sessions; default 30, 0 waits without limit)")
    pg.set_defaults(func=cmd_publish_postgres)

    report = sub.add_parser("report", help="an offline HTML report with charts (default reports/cluster_report.html)")
    report.add_argument("--out", metavar="FILE", type=file_path,
                        help="a new file, or a regular file to replace (a link, folder or FIFO is refused)")
    report.set_defaults(func=cmd_report)

    docs = sub.add_parser("docs", help="dbt docs with lineage as one static HTML page (default reports/docs/)")
    docs.add_argument("--out", metavar="DIR", type=file_path,
                      help="a folder (not a link); its three files are replaced")
    docs.set_defaults(func=cmd_docs)

    analyses = sub.add_parser("analyses", help="the planners' questions (analyses/*.sql): list them, or run one "
                                               "read-only against the published warehouse")
    analyses.add_argument("name", nargs="?", help="q1 ... q5 (or the file name); omit it to list them")
    analyses.add_argument("--format", choices=["table", "csv", "json"], default="table")
    analyses.set_defaults(func=cmd_analyses)

    metrics = sub.add_parser("metrics", help="MetricFlow (mf) against the published warehouse, read-only, "
                                             "e.g. chengyu metrics query --metrics sector_output_yuan "
                                             "--group-by metric_time__year")
    metrics.add_argument("mf_args", nargs=argparse.REMAINDER,
                         help="the arguments of mf: query ..., list metrics, validate-configs")
    metrics.set_defaults(func=cmd_metrics)

    synth = sub.add_parser("synth", help="write synthetic enterprise microdata (register, monthly reports, "
                                         "invoices) in the documented layout, deterministic from the seed")
    synth.add_argument("--enterprises", type=count_at_least(1), required=True, metavar="N")
    synth.add_argument("--months", type=count_at_least(2), required=True, metavar="M")
    synth.add_argument("--invoices", type=count_at_least(0), required=True, metavar="K",
                       help="ordinary invoices; red-letter invoices come on top (about 1.5 %%)")
    synth.add_argument("--seed", type=int, default=1, metavar="S")
    synth.add_argument("--out", type=file_path, required=True, metavar="DIR", help="a directory that does not exist")
    synth.add_argument("--start-year", type=count_at_least(2000), default=2019, metavar="YYYY")
    synth.add_argument("--as-of", metavar="YYYY-MM", help="write only what was delivered up to this month")
    synth.add_argument("--threads", type=count_at_least(1), metavar="T", help="DuckDB threads (default: all cores)")
    synth.add_argument("--memory-limit", type=memory_size, default="3GB", metavar="SIZE",
                       help="DuckDB memory limit (default 3GB)")
    synth.set_defaults(func=cmd_synth)

    check = sub.add_parser("validate", help="check the input files only, build nothing")
    _add_input_options(check)
    check.set_defaults(func=cmd_validate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ChengyuExit as exc:
        print(f"chengyu: {exc}", file=sys.stderr)
        return exc.code
    except wh.WarehouseError as exc:
        print(f"chengyu: {exc}", file=sys.stderr)
        return exc.exit_code
    except Interrupted as exc:
        print(f"chengyu: stopped by {exc}; the published warehouse is unchanged", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("chengyu: interrupted; the published warehouse is unchanged", file=sys.stderr)
        return EXIT_SIGINT
    except BrokenPipeError:
        # The reader of our output went away (e.g. `| head`): nothing more to say.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
