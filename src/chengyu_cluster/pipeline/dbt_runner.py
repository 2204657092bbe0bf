"""Run `dbt build` against a candidate DuckDB file in a child process, and read dbt's own
results (`target/run_results.json`) to summarise the outcome.

Why a child process: dbt-duckdb keeps its DuckDB handle open for the life of the process;
a child that exits guarantees the candidate file is closed before it is checked and
published. It also lets the caller prepare the quality gate on the other core meanwhile.

Why failing rows are not all stored with `--store-failures`: storing every test's rows
creates one table per test (304 of them) and cost about 5 s a build, measured. Tests that
only warn store their rows (config `store_failures` in dbt_project.yml), so they stay
queryable in the published warehouse; a test that fails the build shows its first rows
by running its compiled query on the candidate, which is then discarded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from chengyu_cluster.pipeline.guard import duckdb_connection

# dbt statuses that stop a build; "warn" is printed but does not.
FAILED_STATUSES = {"error", "fail", "runtime error"}


@dataclass
class Failure:
    kind: str
    name: str
    message: str
    sample_rows: list[dict] = field(default_factory=list)


@dataclass
class DbtOutcome:
    success: bool
    counts: Counter  # (resource_type, status) -> n
    failures: list[Failure]
    warnings: list[Failure]

    def count(self, resource_type: str, status: str | None = None) -> int:
        return sum(n for (rt, st), n in self.counts.items() if rt == resource_type and (status is None or st == status))


def dbt_command(project_dir: Path, *args: str) -> list[str]:
    """The dbt CLI of this environment, run as a module of the same Python."""
    return [
        sys.executable,
        "-c",
        "from dbt.cli.main import cli; cli()",
        *args,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
    ]


def database_for_dbt(project_dir: Path, database: Path) -> str:
    """The candidate file as `chengyu build` names it to dbt (CHENGYU_DBT_DATABASE), dbt running
    in the project: relative to the project. dbt keeps its saved parse state only for the same
    profile, of which this path is a part, so a copy of the project with its warehouse beside it
    parses only what changed (the test workspaces, tests/conftest.py; a full parse is 6-7 s, a
    partial one 1.2-1.6 s)."""
    return os.path.relpath(database, project_dir)


class DbtBuild:
    """A `dbt build` of a candidate file running in a child process."""

    def __init__(self, project_dir: Path, database: Path, quiet: bool = True):
        self.database = database
        self.run_results = project_dir / "target" / "run_results.json"
        self.run_results.unlink(missing_ok=True)
        # --target dev: the target whose path is CHENGYU_DBT_DATABASE, even when the user's
        # shell exports DBT_TARGET (e.g. =published, the read-only target for MetricFlow).
        # Seeds are excluded: the input reader that checked them has already written them
        # (inputs.py); dbt's own CSV parser could read them differently. Unit tests are
        # excluded: they check the SQL with fixed fixture rows, never the build's data, so
        # `make dbt-unit` (test-fast, CI) runs them once per change instead of every build
        # (33 nodes, about a fifth of dbt's node time).
        args = ["build", "--target", "dev", "--exclude-resource-type", "seed", "unit_test"]
        # No --vars: a change of vars makes dbt parse the whole project again (microdata builds
        # write what their run needs into the candidate: raw_microdata.load_state).
        if quiet:
            # logs/dbt.log at info (each node's start and result), not debug: dbt logs every
            # statement's SQL at debug, about 95,000 lines a build, measured at 1-2 CPU s.
            args += ["--quiet", "--log-level-file", "info"]
        env = dict(os.environ, CHENGYU_DBT_DATABASE=database_for_dbt(project_dir, database))
        self.process = subprocess.Popen(
            dbt_command(project_dir, *args),
            cwd=project_dir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        # dbt prints a failed Python model's whole traceback; the user gets its last line.
        self.relay = threading.Thread(
            target=relay_without_tracebacks, args=(self.process.stdout, sys.stdout), daemon=True
        )
        self.relay.start()

    def __enter__(self) -> DbtBuild:
        return self

    def __exit__(self, *exc) -> None:
        # An exception (a signal, an error while preparing the gate): stop dbt with the build.
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def wait(self) -> DbtOutcome:
        code = self.process.wait()
        self.relay.join()
        if not self.run_results.exists():
            return DbtOutcome(False, Counter(), [Failure("dbt", "process", f"dbt exited with code {code}")], [])
        results = json.loads(self.run_results.read_text(encoding="utf-8"))["results"]
        return summarise(results, self.database, exit_code=code)


def summarise(results: list[dict], database: Path | None, exit_code: int = 0) -> DbtOutcome:
    """Count dbt's results by resource type and status; collect failures and warnings."""
    counts: Counter = Counter()
    failures: list[Failure] = []
    warnings: list[Failure] = []
    for node in results:
        resource_type, _, rest = node["unique_id"].partition(".")
        name = rest.split(".")[1] if "." in rest else rest
        status = node["status"]
        counts[(resource_type, status)] += 1
        if status in FAILED_STATUSES or status == "warn":
            item = Failure(resource_type, name, without_traceback(node.get("message") or status))
            if resource_type == "test" and database is not None:
                item.sample_rows = sample_failing_rows(database, node.get("relation_name"), node.get("compiled_code"))
            (warnings if status == "warn" else failures).append(item)
    if exit_code != 0 and not failures:
        failures.append(Failure("dbt", "process", f"dbt exited with code {exit_code}"))
    return DbtOutcome(not failures, counts, failures, warnings)


def relay_without_tracebacks(lines, out) -> None:
    """Copy lines to out, leaving out the body of each Python traceback: from its
    'Traceback (most recent call last):' line, every line indented deeper, up to and
    including the exception line at the traceback's own indentation."""
    indent = None
    for line in lines:
        if indent is not None:
            depth = len(line) - len(line.lstrip())
            if depth > indent or not line.strip():
                continue
            indent = None
        stripped = line.lstrip()
        if stripped.startswith("Traceback (most recent call last):"):
            indent = len(line) - len(stripped)
            continue
        out.write(line)
        out.flush()


def without_traceback(message: str) -> str:
    """A Python model's error as its last line (the exception and its text), not dbt's
    traceback: 'Python model failed: ... ValueError: x' -> 'Python model failed: ValueError: x'."""
    head, marker, tail = message.partition("Traceback (most recent call last):")
    if not marker:
        return message
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    return f"{head.strip()} {lines[-1] if lines else ''}".strip()


def sample_failing_rows(
    database: Path, stored_relation: str | None, compiled_sql: str | None, limit: int = 5
) -> list[dict]:
    """The first rows that broke a test: from its stored failures, else from its query."""
    query = (
        f"select * from {stored_relation} limit {limit}"
        if stored_relation
        else f"select * from ({compiled_sql}) as failing limit {limit}"
        if compiled_sql
        else None
    )
    if query is None:
        return []
    try:
        with duckdb_connection(database, read_only=True) as con:
            cur = con.execute(query)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    except duckdb.Error:
        return []


def generate_docs(project_dir: Path, published: Path, out_dir: Path) -> Path:
    """dbt docs (one static HTML page with lineage) for the published warehouse.

    The catalog is read from a copy of the file (a version's internal file: every model),
    named `<catalog>.duckdb` so that dbt-duckdb (the name up to the extension) and DuckDB
    (up to the first dot) agree on the catalog; the file itself is never opened for writing.
    """
    import shutil

    with tempfile.TemporaryDirectory(prefix="chengyu-docs-") as tmp:
        copy = Path(tmp) / f"{published.name.split('.')[0]}.duckdb"
        shutil.copyfile(published, copy)  # not its mode: the internal file is 0400
        target = Path(tmp) / "target"
        env = dict(os.environ, CHENGYU_DBT_DATABASE=str(copy))
        subprocess.run(
            dbt_command(
                project_dir, "docs", "generate", "--static", "--quiet", "--target", "dev", "--target-path", str(target)
            ),
            env=env,
            check=True,
        )
        from chengyu_cluster.outputs import write_file

        for name in ("static_index.html", "manifest.json", "catalog.json"):
            write_file(out_dir / name, (target / name).read_bytes())  # never through a link in out_dir
    return out_dir / "static_index.html"
