"""`chengyu`: build, check and publish the cluster warehouse.

Exit codes (also in the README):
  0 success
  1 unexpected error (a bug: please report it with the output)
  2 wrong command-line usage
  3 an input file was rejected (file, line, column and rule are printed)
  4 the dbt build failed: a model did not build or a dbt test failed
  5 the quality gate failed: a critical Great Expectations check failed
  6 another build or rollback of the same warehouse is running
  7 nothing to roll back to
  8 a query was refused (it would write) or failed; or there is no published warehouse
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import yaml

from .inputs import ERROR, validate_inputs
from .warehouse import (BuildLocked, NothingToRollBack, WarehousePaths, build_lock, pause_for_fault_test,
                        publish, remove_stale_candidates, rollback, seal)

EXIT_OK, EXIT_BUG, EXIT_USAGE, EXIT_INPUT, EXIT_DBT, EXIT_QUALITY, EXIT_LOCKED, EXIT_NO_PREVIOUS, EXIT_QUERY = range(9)


def find_project_dir(explicit: str | None) -> Path:
    candidates = [explicit, os.environ.get("CHENGYU_PROJECT_DIR"), os.getcwd(),
                  str(Path(__file__).resolve().parents[2])]
    for candidate in candidates:
        if candidate and (Path(candidate) / "dbt_project.yml").exists():
            return Path(candidate).resolve()
    raise SystemExit("chengyu: no dbt_project.yml found; run from the repository or pass --project-dir")


def project_vars(project_dir: Path) -> dict:
    return yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]


def published_warehouse(args: argparse.Namespace) -> tuple[Path, WarehousePaths]:
    """The project and the published warehouse that a read-only command works on."""
    project_dir = find_project_dir(args.project_dir)
    paths = WarehousePaths.from_env(project_dir)
    if not paths.published.exists():
        raise FileNotFoundError(f"no published warehouse at {paths.published}; run `make build` first")
    return project_dir, paths


def stage(name: str) -> None:
    print(f"[stage] {name}", flush=True)
    pause_for_fault_test(name)


def cmd_build(args: argparse.Namespace) -> int:
    project_dir = find_project_dir(args.project_dir)
    os.environ.setdefault("DBT_PROFILES_DIR", str(project_dir))
    paths = WarehousePaths.from_env(project_dir)
    settings = project_vars(project_dir)
    sector_output = Path(args.sector_output).resolve() if args.sector_output else None
    started = time.perf_counter()
    timings: dict[str, float] = {}

    with build_lock(paths):
        for stale in remove_stale_candidates(paths):
            print(f"removed a candidate left by an earlier build: {stale.name}", flush=True)

        stage("validate-inputs")
        t = time.perf_counter()
        issues = validate_inputs(project_dir, sector_output, settings["panel_start_year"], settings["panel_end_year"])
        timings["input checks"] = time.perf_counter() - t
        for issue in issues:
            print(issue, file=sys.stderr if issue.severity == ERROR else sys.stdout)
        errors = [i for i in issues if i.severity == ERROR]
        if errors:
            print(f"\nInput rejected: {len(errors)} problem(s). Nothing was built; "
                  f"the published warehouse {paths.published} is unchanged.", file=sys.stderr)
            return EXIT_INPUT

        candidate = paths.candidate()
        try:
            stage("dbt-build")
            from .dbt_build import run_dbt_build

            t = time.perf_counter()
            dbt_vars = {"sector_output_path": str(sector_output) if sector_output else ""}
            outcome = run_dbt_build(project_dir, candidate, dbt_vars, quiet=not args.verbose)
            timings["dbt build"] = time.perf_counter() - t
            for item in outcome.warnings:
                print(f"WARNING dbt {item.kind} {item.name}: {item.message}")
            if not outcome.success:
                for item in outcome.failures:
                    print(f"ERROR dbt {item.kind} {item.name}: {item.message}", file=sys.stderr)
                    for row in item.sample_rows:
                        print(f"    offending row: {row}", file=sys.stderr)
                print(f"\nBuild failed in dbt. The published warehouse {paths.published} is unchanged.",
                      file=sys.stderr)
                return EXIT_DBT

            stage("quality-gate")
            from .quality import run_quality_gate

            t = time.perf_counter()
            gate = run_quality_gate(candidate, project_dir, sector_output)
            timings["quality gate"] = time.perf_counter() - t
            for line in gate.messages():
                print(line, file=sys.stderr if line.startswith("CRITICAL") else sys.stdout)
            if not gate.passed:
                print(f"\nQuality gate failed: {gate.n_critical_failed} critical check(s). "
                      f"The published warehouse {paths.published} is unchanged. Reports: {gate.report_dir}",
                      file=sys.stderr)
                return EXIT_QUALITY

            stage("seal")
            seal(candidate)
            stage("publish")
            publish(paths, candidate)
        finally:
            for leftover in (candidate, candidate.with_name(candidate.name + ".wal")):
                leftover.unlink(missing_ok=True)

    timings["total"] = time.perf_counter() - started
    from .summary import print_summary

    print_summary(paths.published, outcome, gate, timings)
    return EXIT_OK


def cmd_rollback(args: argparse.Namespace) -> int:
    project_dir = find_project_dir(args.project_dir)
    paths = WarehousePaths.from_env(project_dir)
    with build_lock(paths):
        rollback(paths)
    print(f"restored the previous version: {paths.published} (the replaced one is now {paths.previous.name})")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    project_dir = find_project_dir(args.project_dir)
    settings = project_vars(project_dir)
    sector_output = Path(args.sector_output).resolve() if args.sector_output else None
    issues = validate_inputs(project_dir, sector_output, settings["panel_start_year"], settings["panel_end_year"])
    for issue in issues:
        print(issue)
    n_errors = sum(i.severity == ERROR for i in issues)
    print(f"{n_errors} error(s), {len(issues) - n_errors} warning(s)")
    return EXIT_INPUT if n_errors else EXIT_OK


def cmd_sql(args: argparse.Namespace) -> int:
    from .access import QueryRefused, connect_read_only, format_result, interactive, run_query

    _, paths = published_warehouse(args)
    con = connect_read_only(paths.published)
    try:
        if args.query is None:
            interactive(con, args.format)
            return EXIT_OK
        try:
            columns, rows = run_query(con, args.query)
        except QueryRefused as exc:
            print(f"chengyu: {exc}", file=sys.stderr)
            return EXIT_QUERY
        sys.stdout.write(format_result(columns, rows, args.format))
        return EXIT_OK
    finally:
        con.close()


def cmd_export(args: argparse.Namespace) -> int:
    from .access import export_parquet

    _, paths = published_warehouse(args)
    manifest = export_parquet(paths.published, Path(args.out).resolve())
    print(f"wrote every public mart as Parquet; manifest: {manifest}")
    return EXIT_OK


EXIT_POSTGRES_REFUSED = 12  # PostgreSQL refused: connection, missing privilege/role or lock timeout


def cmd_publish_postgres(args: argparse.Namespace) -> int:
    from .postgres import PostgresRefused, publish_postgres

    if args.lock_timeout < 0:
        print("chengyu: --lock-timeout must be 0 (wait without limit) or more seconds", file=sys.stderr)
        return EXIT_USAGE
    _, paths = published_warehouse(args)
    try:
        counts = publish_postgres(paths.published, args.dsn, args.schema, args.reader_role or None,
                                  lock_timeout=args.lock_timeout)
    except PostgresRefused as exc:
        print(f"chengyu: PostgreSQL refused: {exc}", file=sys.stderr)
        return EXIT_POSTGRES_REFUSED
    print(f"published {len(counts)} marts ({sum(counts.values())} rows) into schema {args.schema}"
          + (f"; role {args.reader_role} may read them" if args.reader_role else ""))
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from .report import build_report

    project_dir, paths = published_warehouse(args)
    out = Path(args.out).resolve() if args.out else project_dir / "reports" / "cluster_report.html"
    print(f"wrote {build_report(paths.published, out)}")
    return EXIT_OK


def cmd_docs(args: argparse.Namespace) -> int:
    from .dbt_build import generate_docs

    project_dir, paths = published_warehouse(args)
    out = Path(args.out).resolve() if args.out else project_dir / "reports" / "docs"
    print(f"wrote {generate_docs(project_dir, paths.published, out)} (open it in a browser; no server needed)")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chengyu", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project-dir", help="repository with dbt_project.yml (default: current directory)")
    sub = parser.add_subparsers(dest="command", required=True)

    build = sub.add_parser("build", help="build into a candidate, check it, publish it if every critical check passes")
    build.add_argument("--sector-output", metavar="PATH",
                       help="CSV of your own area x sector x year output figures (layout in README); "
                            "they replace the estimates cell by cell")
    build.add_argument("--verbose", action="store_true", help="show dbt's progress lines")
    build.set_defaults(func=cmd_build)

    back = sub.add_parser("rollback", help="restore the previously published warehouse")
    back.set_defaults(func=cmd_rollback)

    sql = sub.add_parser("sql", help="read-only SQL against the published warehouse (no QUERY: interactive)")
    sql.add_argument("query", nargs="?", help="one SQL statement; omit it for an interactive prompt")
    sql.add_argument("--format", choices=["table", "csv", "json"], default="table")
    sql.set_defaults(func=cmd_sql)

    export = sub.add_parser("export", help="write every public mart as Parquet with a manifest")
    export.add_argument("--format", choices=["parquet"], default="parquet")
    export.add_argument("--out", required=True, metavar="DIR")
    export.set_defaults(func=cmd_export)

    pg = sub.add_parser("publish-postgres", help="copy the public marts into a PostgreSQL schema (atomic, idempotent)")
    pg.add_argument("--dsn", required=True, help="libpq connection string, e.g. 'host=127.0.0.1 dbname=bi user=loader'")
    pg.add_argument("--schema", default="chengyu")
    pg.add_argument("--reader-role", default="chengyu_reader",
                    help="role given read access ('' for none); created only if the login may create roles, "
                         "otherwise it must exist")
    pg.add_argument("--lock-timeout", type=float, default=30, metavar="SECONDS",
                    help="how long to wait for readers of the previous publication before giving up "
                         "(exit 12, naming the blocking sessions; default 30, 0 waits without limit)")
    pg.set_defaults(func=cmd_publish_postgres)

    report = sub.add_parser("report", help="an offline HTML report with charts (default reports/cluster_report.html)")
    report.add_argument("--out", metavar="FILE")
    report.set_defaults(func=cmd_report)

    docs = sub.add_parser("docs", help="dbt docs with lineage as one static HTML page (default reports/docs/)")
    docs.add_argument("--out", metavar="DIR")
    docs.set_defaults(func=cmd_docs)

    check = sub.add_parser("validate", help="check the input files only, build nothing")
    check.add_argument("--sector-output", metavar="PATH")
    check.set_defaults(func=cmd_validate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BuildLocked as exc:
        print(f"chengyu: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    except NothingToRollBack as exc:
        print(f"chengyu: {exc}", file=sys.stderr)
        return EXIT_NO_PREVIOUS
    except FileNotFoundError as exc:
        print(f"chengyu: {exc}", file=sys.stderr)
        return EXIT_QUERY


if __name__ == "__main__":
    sys.exit(main())
