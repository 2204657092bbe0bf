"""Run `dbt build` in a child process against a given DuckDB file and summarise the outcome."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

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
        return sum(n for (rt, st), n in self.counts.items()
                   if rt == resource_type and (status is None or st == status))


def _sample_failing_rows(database: Path, compiled_sql: str | None, limit: int = 5) -> list[dict]:
    """Run a failed test's own query to show which rows broke it."""
    if not compiled_sql:
        return []
    try:
        con = duckdb.connect(str(database), read_only=True)
    except duckdb.Error:
        return []
    try:
        cur = con.execute(f"select * from ({compiled_sql}) as failing limit {limit}")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]
    except duckdb.Error:
        return []
    finally:
        con.close()


def _invoke_dbt(project_dir: str, database: str, dbt_vars: dict, quiet: bool, result_file: str) -> None:
    """Child process: run dbt and write what the parent needs as JSON."""
    from dbt.cli.main import dbtRunner

    os.environ["CHENGYU_DBT_DATABASE"] = database
    # The seeds are already in the candidate, written by the input reader that checked
    # them (inputs.py); loading them again with dbt's own CSV parser could disagree.
    # --target dev: the target whose path is CHENGYU_DBT_DATABASE, even when the user's
    # shell exports DBT_TARGET (e.g. =published, the read-only target for MetricFlow).
    args = ["build", "--project-dir", project_dir, "--profiles-dir", project_dir, "--target", "dev",
            "--vars", json.dumps(dbt_vars), "--exclude-resource-type", "seed"]
    if quiet:
        args.append("--quiet")
    result = dbtRunner().invoke(args)
    nodes = [
        {
            "resource_type": str(r.node.resource_type),
            "name": r.node.name,
            "status": str(r.status),
            "message": r.message,
            "compiled_code": getattr(r.node, "compiled_code", None),
        }
        for r in (result.result or [])
    ]
    Path(result_file).write_text(json.dumps({
        "success": bool(result.success),
        "exception": None if result.exception is None else str(result.exception),
        "nodes": nodes,
    }), encoding="utf-8")


def run_dbt_build(project_dir: Path, database: Path, dbt_vars: dict, quiet: bool = True) -> DbtOutcome:
    """Run `dbt build` in a child process.

    dbt-duckdb keeps its DuckDB handle open for the life of the process; a child that
    exits guarantees the candidate file is closed before it is checked and published.
    """
    with tempfile.TemporaryDirectory(prefix="chengyu-dbt-") as tmp:
        result_file = Path(tmp) / "result.json"
        payload = json.dumps([str(project_dir), str(database), dbt_vars, quiet, str(result_file)])
        proc = subprocess.run([sys.executable, "-m", "chengyu_cluster.dbt_build", payload])
        if not result_file.exists():
            return DbtOutcome(False, Counter(), [Failure("dbt", "process", f"dbt exited with code {proc.returncode}")], [])
        data = json.loads(result_file.read_text(encoding="utf-8"))

    counts: Counter = Counter()
    failures: list[Failure] = []
    warnings: list[Failure] = []
    if data["exception"] and not data["nodes"]:
        failures.append(Failure("dbt", "invocation", data["exception"]))
    for node in data["nodes"]:
        counts[(node["resource_type"], node["status"])] += 1
        if node["status"] in FAILED_STATUSES or node["status"] == "warn":
            item = Failure(node["resource_type"], node["name"], node["message"] or node["status"])
            if node["resource_type"] == "test":
                item.sample_rows = _sample_failing_rows(database, node["compiled_code"])
            (warnings if node["status"] == "warn" else failures).append(item)
    return DbtOutcome(data["success"] and not failures, counts, failures, warnings)


if __name__ == "__main__":
    _invoke_dbt(*json.loads(sys.argv[1]))


def generate_docs(project_dir: Path, published: Path, out_dir: Path) -> Path:
    """dbt docs (one static HTML page with lineage) for the published warehouse.

    The catalog is read from a copy of the published file with the same name, so the
    published file itself is never opened for writing.
    """
    import shutil

    with tempfile.TemporaryDirectory(prefix="chengyu-docs-") as tmp:
        copy = Path(tmp) / published.name
        shutil.copy2(published, copy)
        target = Path(tmp) / "target"
        env = dict(os.environ, CHENGYU_DBT_DATABASE=str(copy))
        code = ("import sys; from dbt.cli.main import dbtRunner; "
                "sys.exit(0 if dbtRunner().invoke(sys.argv[1:]).success else 1)")
        subprocess.run([sys.executable, "-c", code, "docs", "generate", "--static", "--quiet", "--target", "dev",
                        "--project-dir", str(project_dir), "--profiles-dir", str(project_dir),
                        "--target-path", str(target)], env=env, check=True)
        out_dir.mkdir(parents=True, exist_ok=True)
        for name in ("static_index.html", "manifest.json", "catalog.json"):
            shutil.copy2(target / name, out_dir / name)
    return out_dir / "static_index.html"
