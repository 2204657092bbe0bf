"""`chengyu`: build, check and publish the cluster warehouse.

This module parses the command line and dispatches to the capability that does the work
(pipeline/, publish/, access/, synth/); the exit codes are defined in exits.py.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from chengyu_cluster import exits
from chengyu_cluster.exits import EXIT_INPUT, EXIT_OK, EXIT_QUERY, EXIT_SIGINT, EXIT_USAGE, ChengyuExit
from chengyu_cluster.inputs.reader import DEFAULT_MAX_INPUT_BYTES
from chengyu_cluster.pipeline.guard import Interrupted, stop_on_signals
from chengyu_cluster.publish import versions as wh
from chengyu_cluster.publish.copies import note_copy, postgres_copy_name, refresh_postgres_copy


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


def cmd_build(args: argparse.Namespace) -> int:
    from chengyu_cluster.pipeline.build import run_build

    project_dir = find_project_dir(args.project_dir)
    os.environ.setdefault("DBT_PROFILES_DIR", str(project_dir))
    if args.target == "spark":
        from chengyu_cluster.pipeline.spark_schemas import SparkSchemas as Backend
    else:
        from chengyu_cluster.pipeline.duckdb_files import DuckDBFiles as Backend
    return run_build(Backend(args, project_dir), args, project_dir)


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
    from chengyu_cluster.pipeline.build import report_dir
    from chengyu_cluster.quality.gate import show_live_report

    try:  # the gate report (reports/index.html) follows the live version
        shown = show_live_report(report_dir(project_dir), now.build_id)
    except OSError as exc:
        shown = f"the gate report could not be updated ({exc.strerror}): it may show another build"
    if shown:
        print(f"  {shown}")
    copy = postgres_copy_name(args.publish_postgres, args.pg_schema) if args.publish_postgres else None
    for (kind, target), event in sorted(wh.read_history(paths).copies.items()):
        if event["build_id"] != now.build_id and (kind, target) != ("postgres", copy):
            print(
                f"  the {'PostgreSQL copy' if kind == 'postgres' else kind} {target} holds build "
                f"{event['build_id']}, not the published one"
            )
    if args.publish_postgres:
        return refresh_postgres_copy(args, paths, now)
    return EXIT_OK


def cmd_versions(args: argparse.Namespace) -> int:
    from chengyu_cluster.publish.listing import print_versions

    return print_versions(wh.WarehousePaths.from_env(find_project_dir(args.project_dir)))


def cmd_verify(args: argparse.Namespace) -> int:
    from chengyu_cluster.publish.listing import verify_versions

    return verify_versions(wh.WarehousePaths.from_env(find_project_dir(args.project_dir)))


def cmd_validate(args: argparse.Namespace) -> int:
    project_dir = find_project_dir(args.project_dir)
    from chengyu_cluster.microdata.for_cli import check_for_cli
    from chengyu_cluster.pipeline.build import read_checked_inputs

    accepted = read_checked_inputs(args, project_dir)
    check_for_cli(args, project_dir, accepted)
    n_errors = accepted.findings.n_errors
    print(f"{n_errors} error(s), {accepted.findings.n_warnings} warning(s)")
    return EXIT_INPUT if n_errors else EXIT_OK


def cmd_sql(args: argparse.Namespace) -> int:
    from chengyu_cluster.access.query import default_memory_limit, interactive, open_published, run_script

    _, paths = published_warehouse(args)
    con = open_published(paths.published, args.memory_limit or default_memory_limit())
    try:
        if args.query is None:
            return interactive(con, args.format, args.max_rows)
        return run_script(con, args.query, args.format, args.max_rows)
    finally:
        con.close()


def cmd_export(args: argparse.Namespace) -> int:
    from chengyu_cluster.access.export import export_parquet
    from chengyu_cluster.outputs import check_folder_target, output_path

    _, paths = published_warehouse(args)
    out = output_path(args.out)
    with wh.storage_errors(f"write the export to {out}", any_io=True):
        check_folder_target(out)  # before a mart is read: a refusal costs nothing
        manifest = export_parquet(paths.published, out)
    note_copy(paths, "export", str(out), "export")
    print(f"wrote every public mart as Parquet; manifest: {manifest}")
    return EXIT_OK


def cmd_publish_postgres(args: argparse.Namespace) -> int:
    from chengyu_cluster.publish.postgres import ForeignSchema, PostgresRefused, publish_postgres

    _, paths = published_warehouse(args)
    try:
        counts = publish_postgres(
            paths.published, args.dsn, args.schema, args.reader_role or None, lock_timeout=args.lock_timeout
        )
    except PostgresRefused as exc:
        print(f"chengyu: {'' if isinstance(exc, ForeignSchema) else 'PostgreSQL refused: '}{exc}", file=sys.stderr)
        return exc.exit_code
    note_copy(paths, "postgres", postgres_copy_name(args.dsn, args.schema), "publish-postgres")
    print(
        f"published {len(counts)} marts ({sum(counts.values())} rows) into schema {args.schema}"
        + (f"; role {args.reader_role} may read them" if args.reader_role else "")
    )
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from chengyu_cluster.access.report import build_report
    from chengyu_cluster.outputs import check_file_target, output_path

    project_dir, paths = published_warehouse(args)
    out = output_path(args.out) if args.out else project_dir / "reports" / "cluster_report.html"
    with wh.storage_errors(f"write the report to {out}", any_io=True):
        check_file_target(out)  # before the charts are drawn
        print(f"wrote {build_report(paths.published, out)}")
    return EXIT_OK


def cmd_docs(args: argparse.Namespace) -> int:
    from chengyu_cluster.outputs import check_docs_folder, output_path
    from chengyu_cluster.pipeline.dbt_runner import generate_docs

    project_dir, paths = published_warehouse(args)
    out = output_path(args.out) if args.out else project_dir / "reports" / "docs"
    internal = paths.current().internal_database()  # the docs describe every model, not only the served ones
    with wh.storage_errors(f"write the docs to {out}", any_io=True):
        check_docs_folder(out)  # before dbt runs
        print(f"wrote {generate_docs(project_dir, internal, out)} (open it in a browser; no server needed)")
    return EXIT_OK


def cmd_analyses(args: argparse.Namespace) -> int:
    from chengyu_cluster.access.analyses import AnalysisError, find_analysis, list_analyses, run_analysis
    from chengyu_cluster.access.query import format_result

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
    from chengyu_cluster.access.metrics import run_metricflow

    project_dir, paths = published_warehouse(args)
    return run_metricflow(project_dir, paths.published, args.mf_args or ["--help"])


def cmd_synth(args: argparse.Namespace) -> int:
    from chengyu_cluster.synth.generator import run_synth

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
    from chengyu_cluster.microdata.for_cli import MEMORY_SIZE

    if not MEMORY_SIZE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 2GB or 1536MiB")
    return text


def pg_identifier(text: str) -> str:
    """A schema or role name as PostgreSQL keeps it unquoted ('' for none, where allowed)."""
    import re

    from chengyu_cluster.publish.postgres import MAX_SCHEMA_NAME

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
    parser.add_argument(
        "--sector-output",
        metavar="PATH",
        type=file_path,
        help="CSV of your own area x sector x year output figures, or a yearbook-style Excel sheet "
        "(.xlsx; layouts in docs/inputs.md); they replace the estimates cell by cell",
    )
    parser.add_argument("--sheet", metavar="NAME", help="the sheet of an .xlsx --sector-output (default: its only one)")
    parser.add_argument(
        "--max-input-mb",
        type=positive_number,
        metavar="MB",
        help=f"refuse input files larger than this (default {DEFAULT_MAX_INPUT_BYTES // 2**20})",
    )
    parser.add_argument(
        "--microdata",
        metavar="DIR",
        type=file_path,
        help="enterprise microdata (enterprises/, enterprise_month/, supply_invoices/ of Parquet or "
        "CSV files; layout in docs/microdata_layout.md) for the microdata marts",
    )


class OneLineParser(argparse.ArgumentParser):
    """A usage error is one line on stderr, like every other refusal (exit 2)."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (`{self.prog} --help` lists the options)\n")


def _add_postgres_copy_options(parser: argparse.ArgumentParser, when: str) -> None:
    parser.add_argument(
        "--publish-postgres",
        metavar="DSN",
        default=os.environ.get("CHENGYU_PUBLISH_POSTGRES"),
        help=f"{when}, refresh the PostgreSQL copy as publish-postgres does "
        "(default: $CHENGYU_PUBLISH_POSTGRES; unset: no copy)",
    )
    parser.add_argument(
        "--pg-schema", type=pg_identifier, default="chengyu", help="schema of the PostgreSQL copy (default chengyu)"
    )
    parser.add_argument(
        "--pg-reader-role", type=pg_identifier, default="chengyu_reader", help="as publish-postgres --reader-role"
    )
    parser.add_argument(
        "--pg-lock-timeout", type=seconds, default=30, metavar="SECONDS", help="as publish-postgres --lock-timeout"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="chengyu",
        description=f"{__doc__.splitlines()[0]}\n\n{exits.EXIT_CODE_TABLE}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--project-dir",
        help="repository with dbt_project.yml (default: current directory); "
        "it must exist and hold dbt_project.yml (exit 2 otherwise)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_build_commands(sub)
    _add_version_commands(sub)
    _add_reading_commands(sub)
    _add_question_commands(sub)
    _add_synth_command(sub)
    return parser


def _add_build_commands(sub) -> None:
    build = sub.add_parser("build", help="build into a candidate, check it, publish it as a new version")
    _add_input_options(build)
    build.add_argument(
        "--keep-versions",
        type=count_at_least(1),
        default=wh.DEFAULT_KEEP_VERSIONS,
        metavar="N",
        help=f"published versions to keep (default {wh.DEFAULT_KEEP_VERSIONS}; the current one always)",
    )
    _add_postgres_copy_options(build, "after publishing")
    build.add_argument(
        "--accept-shift",
        metavar="REASON",
        help="publish although the quality gate finds a large shift from the published version; "
        "the reason is recorded in the version's record",
    )
    build.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild every month of the microdata facts instead of carrying the published ones over",
    )
    build.add_argument(
        "--verbose", action="store_true", help="show dbt's progress lines (and keep logs/dbt.log at debug: every SQL)"
    )
    build.add_argument(
        "--target",
        choices=["duckdb", "spark"],
        default="duckdb",
        help="duckdb (default): a new version file; spark: candidate schemas on the local Spark of "
        "the dbt target `spark`, published by switching views (docs/spark.md)",
    )
    spark_selection = build.add_mutually_exclusive_group()
    spark_selection.add_argument(
        "--selector", metavar="NAME", help="with --target spark: a dbt selector (selectors.yml), not the whole project"
    )
    spark_selection.add_argument(
        "--select", nargs="+", metavar="NODE", help="with --target spark: a dbt node selection instead of a selector"
    )
    build.set_defaults(func=cmd_build)

    check = sub.add_parser("validate", help="check the input files only, build nothing")
    _add_input_options(check)
    check.set_defaults(func=cmd_validate)


def _add_version_commands(sub) -> None:
    back = sub.add_parser(
        "rollback", help="point the warehouse at the version live before the current one (per the publish log)"
    )
    back.add_argument(
        "--to", metavar="BUILD_ID", help="a build id from `chengyu versions` instead (also a withdrawn one)"
    )
    _add_postgres_copy_options(back, "after the rollback")
    back.set_defaults(func=cmd_rollback)

    versions = sub.add_parser(
        "versions",
        help="list the kept versions, most recently live first (* = published), "
        "when each was published and withdrawn, and what each copy holds",
    )
    versions.set_defaults(func=cmd_versions)

    verify = sub.add_parser("verify", help="check every kept version against its recorded checksum")
    verify.set_defaults(func=cmd_verify)


def _add_reading_commands(sub) -> None:
    sql = sub.add_parser("sql", help="read-only SQL against the published warehouse (no QUERY: interactive)")
    sql.add_argument("query", nargs="?", help="SQL; several statements separated by ';'. Omit for a prompt")
    sql.add_argument("--format", choices=["table", "csv", "json"], default="table")
    sql.add_argument(
        "--max-rows",
        type=count_at_least(0),
        default=1000,
        metavar="N",
        help="rows printed in the table format (default 1000; 0: all); csv and json print all",
    )
    sql.add_argument(
        "--memory-limit",
        type=memory_size,
        metavar="SIZE",
        help="most memory a query may use, e.g. 2GB (default: a quarter of this machine's); "
        "a query that needs more stops with exit 13",
    )
    sql.set_defaults(func=cmd_sql)

    export = sub.add_parser("export", help="write every public mart as Parquet with a manifest")
    export.add_argument("--format", choices=["parquet"], default="parquet")
    export.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        type=file_path,
        help="a new or empty folder (a link is refused, never followed)",
    )
    export.set_defaults(func=cmd_export)

    pg = sub.add_parser("publish-postgres", help="copy the public marts into a PostgreSQL schema (atomic, idempotent)")
    pg.add_argument("--dsn", required=True, help="libpq connection string, e.g. 'host=127.0.0.1 dbname=bi user=loader'")
    pg.add_argument("--schema", type=pg_identifier, default="chengyu")
    pg.add_argument(
        "--reader-role",
        type=pg_identifier,
        default="chengyu_reader",
        help="role given read access ('' for none); created only if the login may create roles, "
        "otherwise it must exist",
    )
    pg.add_argument(
        "--lock-timeout",
        type=seconds,
        default=30,
        metavar="SECONDS",
        help="how long to wait for readers of the previous publication before giving up "
        "(exit 12, naming the blocking sessions; default 30, 0 waits without limit)",
    )
    pg.set_defaults(func=cmd_publish_postgres)

    report = sub.add_parser("report", help="an offline HTML report with charts (default reports/cluster_report.html)")
    report.add_argument(
        "--out",
        metavar="FILE",
        type=file_path,
        help="a new file, or a regular file to replace (a link, folder or FIFO is refused)",
    )
    report.set_defaults(func=cmd_report)

    docs = sub.add_parser("docs", help="dbt docs with lineage as one static HTML page (default reports/docs/)")
    docs.add_argument(
        "--out", metavar="DIR", type=file_path, help="a folder (not a link); its three files are replaced"
    )
    docs.set_defaults(func=cmd_docs)


def _add_question_commands(sub) -> None:
    analyses = sub.add_parser(
        "analyses",
        help="the planners' questions (analyses/*.sql): list them, or run one "
        "read-only against the published warehouse",
    )
    analyses.add_argument("name", nargs="?", help="q1 ... q5 (or the file name); omit it to list them")
    analyses.add_argument("--format", choices=["table", "csv", "json"], default="table")
    analyses.set_defaults(func=cmd_analyses)

    metrics = sub.add_parser(
        "metrics",
        help="MetricFlow (mf) against the published warehouse, read-only, "
        "e.g. chengyu metrics query --metrics sector_output_yuan "
        "--group-by metric_time__year",
    )
    metrics.add_argument(
        "mf_args", nargs=argparse.REMAINDER, help="the arguments of mf: query ..., list metrics, validate-configs"
    )
    metrics.set_defaults(func=cmd_metrics)


def _add_synth_command(sub) -> None:
    synth = sub.add_parser(
        "synth",
        help="write synthetic enterprise microdata (register, monthly reports, "
        "invoices) in the documented layout, deterministic from the seed",
    )
    synth.add_argument("--enterprises", type=count_at_least(1), required=True, metavar="N")
    synth.add_argument("--months", type=count_at_least(2), required=True, metavar="M")
    synth.add_argument(
        "--invoices",
        type=count_at_least(0),
        required=True,
        metavar="K",
        help="ordinary invoices; red-letter invoices come on top (about 1.5 %%)",
    )
    synth.add_argument("--seed", type=int, default=1, metavar="S")
    synth.add_argument("--out", type=file_path, required=True, metavar="DIR", help="a directory that does not exist")
    synth.add_argument("--start-year", type=count_at_least(2000), default=2019, metavar="YYYY")
    synth.add_argument("--as-of", metavar="YYYY-MM", help="write only what was delivered up to this month")
    synth.add_argument("--threads", type=count_at_least(1), metavar="T", help="DuckDB threads (default: all cores)")
    synth.add_argument(
        "--memory-limit", type=memory_size, default="3GB", metavar="SIZE", help="DuckDB memory limit (default 3GB)"
    )
    synth.set_defaults(func=cmd_synth)


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
