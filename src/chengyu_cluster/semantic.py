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
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PUBLISHED_TARGET = "published"


def catalog_name(database: Path) -> str:
    """The catalog DuckDB and dbt-duckdb give a file: the first dot-separated part of its name."""
    from dbt.adapters.duckdb.credentials import DuckDBCredentials

    return DuckDBCredentials.path_derived_database_name(str(database))


def manifest_catalogs(project_dir: Path) -> set[str]:
    path = project_dir / "target" / "semantic_manifest.json"
    if not path.exists():
        return set()
    manifest = json.loads(path.read_text(encoding="utf-8"))
    relations = [m["node_relation"] for m in manifest.get("semantic_models", [])]
    relations += [s["node_relation"] for s in manifest.get("project_configuration", {}).get("time_spines", [])]
    return {r.get("database") for r in relations}


def metricflow_env(project_dir: Path, database: Path) -> dict:
    return dict(os.environ, DBT_PROFILES_DIR=str(project_dir), DBT_TARGET=PUBLISHED_TARGET,
                CHENGYU_WAREHOUSE=str(database))


def run_metricflow(project_dir: Path, database: Path, mf_args: list[str]) -> int:
    env = metricflow_env(project_dir, database)
    if manifest_catalogs(project_dir) != {catalog_name(database)}:
        print(f"parsing the project for the published warehouse ({database.name})", file=sys.stderr, flush=True)
        code = ("import sys; from dbt.cli.main import dbtRunner; "
                "sys.exit(0 if dbtRunner().invoke(sys.argv[1:]).success else 1)")
        parsed = subprocess.run([sys.executable, "-c", code, "parse", "--quiet", "--project-dir", str(project_dir)],
                                cwd=project_dir, env=env)
        if parsed.returncode != 0:
            return parsed.returncode
    mf = Path(sys.executable).parent / "mf"
    return subprocess.run([str(mf), *mf_args], cwd=project_dir, env=env).returncode
