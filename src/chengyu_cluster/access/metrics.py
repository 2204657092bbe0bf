"""`chengyu metrics`: MetricFlow's `mf` against the published warehouse, read-only.

`mf` has no --target option: it uses the profile's default target, which profiles.yml
takes from DBT_TARGET (default `dev`). This runs `mf` with DBT_TARGET=published, the
target that opens the published file with DuckDB's access_mode READ_ONLY, so MetricFlow
can read the marts but never write to them.

MetricFlow takes the tables to query from target/semantic_manifest.json, whose relation
names carry the catalog of the dbt target that last parsed the project. `chengyu build`
leaves the published file's catalog there (the candidate file is named after it); a plain
`dbt build` leaves `dev`. When the catalog differs, the project is parsed once more for
the published target before `mf` runs.

`metrics query` prints the result as `chengyu sql` does: mf writes it as CSV into a
temporary folder, and chengyu renders it with years as years (`2015`, not
`2015-01-01T00:00:00`) and numbers as plain decimals (not `3.86254e+11`); `--csv FILE`
writes the same cells to FILE (outputs.write_file). An unknown metric, or any error mf
reports, is one line and exit 8. mf's progress spinner is shown only on a terminal.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

from chengyu_cluster.exits import EXIT_DBT, EXIT_OK, EXIT_QUERY, EXIT_USAGE

PUBLISHED_TARGET = "published"
# mf with its progress spinner (halo) switched off when stdout is not a terminal.
MF_CODE = """
import sys
import halo
_init = halo.Halo.__init__
def _init_on_a_terminal(self, *args, **kwargs):
    kwargs.setdefault("enabled", sys.stdout.isatty())
    _init(self, *args, **kwargs)
halo.Halo.__init__ = _init_on_a_terminal
from dbt_metricflow.cli.main import cli
sys.argv[0] = "mf"
sys.exit(cli())
"""
# Options after which mf does not print a data table: passed through as they are.
NOT_A_TABLE = {"--explain", "--display-plans", "--help", "--show-dataflow-plan"}
PLAIN_NUMBER = re.compile(r"-?[0-9]+\.[0-9]+([eE][-+]?[0-9]+)?|-?[0-9]+[eE][-+]?[0-9]+")
TIMESTAMP = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[ T]00:00:00")


class MetricsError(Exception):
    """A query mf or chengyu refused, with its exit code."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


def catalog_name(database: Path) -> str:
    """The catalog DuckDB and dbt-duckdb give a file: the first dot-separated part of its name."""
    from dbt.adapters.duckdb.credentials import DuckDBCredentials

    return DuckDBCredentials.path_derived_database_name(str(database))


def read_manifest(project_dir: Path) -> dict:
    path = project_dir / "target" / "semantic_manifest.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def manifest_catalogs(project_dir: Path) -> set[str]:
    manifest = read_manifest(project_dir)
    relations = [m["node_relation"] for m in manifest.get("semantic_models", [])]
    relations += [s["node_relation"] for s in manifest.get("project_configuration", {}).get("time_spines", [])]
    return {r.get("database") for r in relations}


def metricflow_env(project_dir: Path, database: Path) -> dict:
    return dict(
        os.environ, DBT_PROFILES_DIR=str(project_dir), DBT_TARGET=PUBLISHED_TARGET, CHENGYU_WAREHOUSE=str(database)
    )


def mf_command(*args: str) -> list[str]:
    return [sys.executable, "-c", MF_CODE, *args]


def run_metricflow(project_dir: Path, database: Path, mf_args: list[str]) -> int:
    env = metricflow_env(project_dir, database)
    if manifest_catalogs(project_dir) != {catalog_name(database)}:
        print(f"parsing the project for the published warehouse ({database.name})", file=sys.stderr, flush=True)
        code = (
            "import sys; from dbt.cli.main import dbtRunner; "
            "sys.exit(0 if dbtRunner().invoke(sys.argv[1:]).success else 1)"
        )
        parsed = subprocess.run(
            [sys.executable, "-c", code, "parse", "--quiet", "--project-dir", str(project_dir)],
            cwd=project_dir,
            env=env,
        )
        if parsed.returncode != 0:
            print("chengyu: dbt could not parse the project for MetricFlow (its errors are above)", file=sys.stderr)
            return EXIT_DBT
    if mf_args[0] != "query" or NOT_A_TABLE & {a.split("=")[0] for a in mf_args}:
        code = subprocess.run(mf_command(*mf_args), cwd=project_dir, env=env).returncode
        return EXIT_QUERY if code not in (0, EXIT_USAGE) else code  # mf's errors are above
    try:
        return query(project_dir, env, mf_args[1:])
    except MetricsError as exc:
        print(f"chengyu: metrics: {exc}", file=sys.stderr)
        return exc.code


def take_option(args: list[str], name: str) -> tuple[list[str], str | None]:
    """args without `name VALUE` / `name=VALUE`, and the value (None if absent)."""
    rest, value = [], None
    items = iter(args)
    for arg in items:
        if arg == name:
            value = next(items, None)
            if not value:
                raise MetricsError(EXIT_USAGE, f"{name} needs a value")
        elif arg.startswith(name + "="):
            value = arg[len(name) + 1 :]
            if not value:
                raise MetricsError(EXIT_USAGE, f"{name} needs a value")
        else:
            rest.append(arg)
    return rest, value


def check_metric_names(project_dir: Path, args: list[str]) -> None:
    """Unknown metrics are named at once, with the known ones (mf would say so in 30 lines)."""
    _, given = take_option(args, "--metrics")
    known = sorted(m["name"] for m in read_manifest(project_dir).get("metrics", []))
    unknown = [m for m in (given or "").split(",") if m.strip() and m.strip() not in known]
    if known and unknown:
        raise MetricsError(EXIT_QUERY, f"no metric named {', '.join(unknown)}; the metrics are {', '.join(known)}")


def query(project_dir: Path, env: dict, args: list[str]) -> int:
    from chengyu_cluster.access.query import format_result
    from chengyu_cluster.outputs import check_file_target, output_path, write_file
    from chengyu_cluster.publish import versions as wh

    args, csv_out = take_option(args, "--csv")
    out = output_path(csv_out) if csv_out is not None else None
    with wh.storage_errors(f"write the query result to {out}", any_io=True):
        if out is not None:
            check_file_target(out)  # refused before mf runs
    args, decimals = take_option(args, "--decimals")
    if decimals is not None and not decimals.isdigit():
        raise MetricsError(EXIT_USAGE, f"--decimals {decimals!r} is not a whole number of digits")
    args = [a for a in args if a != "--quiet"]
    check_metric_names(project_dir, args)
    with tempfile.TemporaryDirectory(prefix="chengyu-metrics-") as folder:
        result = Path(folder) / "result.csv"
        run = subprocess.run(
            mf_command("query", *args, "--quiet", "--csv", str(result)),
            cwd=project_dir,
            env=env,
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            raise MetricsError(
                EXIT_USAGE if run.returncode == EXIT_USAGE else EXIT_QUERY,
                mf_error_line(run.stdout + "\n" + run.stderr),
            )
        columns, rows = read_result(result)  # no file: mf found no rows
    digits = None if decimals is None else int(decimals)
    cells = [[display_cell(c, v, digits) for c, v in zip(columns, row, strict=True)] for row in rows]
    if not columns:
        print("(0 rows: mf found no data for this query)")
        return EXIT_OK
    if out is None:
        sys.stdout.write(format_result(columns, cells, "table"))
        return EXIT_OK
    with wh.storage_errors(f"write the query result to {out}", any_io=True):
        write_file(out, format_result(columns, cells, "csv"))
    print(f"wrote {len(cells)} row(s) to {out}")
    return EXIT_OK


def read_result(path: Path) -> tuple[list[str], list[list[str]]]:
    if not path.exists():
        return [], []
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return (rows[0], rows[1:]) if rows else ([], [])


def display_cell(column: str, text: str, decimals: int | None) -> str | None:
    """A cell of mf's CSV as people read it: a time at the grain of its column, a plain decimal."""
    if text == "":
        return None  # mf writes a missing value as an empty cell
    stamp = TIMESTAMP.fullmatch(text)
    if stamp:
        year, month, day = stamp.groups()
        grain = column.rsplit("__", 1)[-1]
        if grain == "year":
            return year
        if grain == "quarter":
            return f"{year}-Q{(int(month) - 1) // 3 + 1}"
        if grain == "month":
            return f"{year}-{month}"
        return f"{year}-{month}-{day}"
    if PLAIN_NUMBER.fullmatch(text):
        number = Decimal(text)
        if decimals is not None:
            return f"{number:.{decimals}f}"
        plain = f"{number:f}"
        return plain.rstrip("0").rstrip(".") if "." in plain else plain
    return text


def mf_error_line(output: str) -> str:
    """The one line that says what went wrong, out of mf's error report."""
    lines = [line.strip() for line in output.splitlines()]
    usage = next((line for line in lines if line.startswith("Error:")), None)
    if usage:  # click's usage errors
        return usage.removeprefix("Error:").strip()
    if "Message:" in lines:
        paragraph: list[str] = []
        for line in lines[lines.index("Message:") + 1 :]:
            if not line and paragraph:
                break
            if line:
                paragraph.append(line)
        message = " ".join(paragraph).split(". ")[0].rstrip(".:")
        if "Query Input:" in lines:
            given = next((line for line in lines[lines.index("Query Input:") + 1 :] if line), "")
            message += f" (input: {given})"
        if "Suggestions:" in lines:
            start = lines.index("Suggestions:") + 1
            names = [line.strip("',") for line in lines[start : start + 8] if line.startswith("'")]
            message += f"; did you mean {', '.join(names[:5])}" if names else ""
        return message
    error_at = next((i for i, line in enumerate(lines) if line.startswith("ERROR:")), None)
    if error_at is not None:
        return next((line for line in lines[error_at + 1 :] if line), lines[error_at].removeprefix("ERROR:").strip())
    return next((line for line in reversed(lines) if line), "mf failed without saying why")
