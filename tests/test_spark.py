"""The same dbt project on Apache Spark (docs/spark.md), compared with DuckDB.

The models of the selector `spark_portable` (seeds, staging, the figures layer, the
microdata staging, register history and area map, the core marts but build_info, the time
spine) are built from the same seeds and the same small synthetic microdata (`chengyu synth`,
checked and stored by the loader) twice: on DuckDB (target dev, the microdata attached by the
loader as `chengyu build --microdata` does) and on a local Spark (target spark: dbt-spark
`method: session`, local[2], Parquet tables; the microdata as views over the loader's store
files, var microdata_parquet_files). Every ported mart and microdata model is then compared
row by row: the same columns, the same keys, numbers equal within 1e-9 relative, the same
basis labels. The Spark tables are read from their Parquet files by DuckDB, so the comparison
needs no second JVM; the microdata staging models are views, so the Spark build's process
writes their rows to Parquet after the build, in the same JVM.

The panel fit and everything downstream of it run on Spark too: the fit's constraints
(int_panel_constraints, int_panel_constraint_terms), its three dbt Python models
(int_panel_fit_cells, int_panel_fit_audit, int_panel_fit_draws; in the build's own
SparkSession through the submission method `session` of chengyu_cluster.spark_python,
registered by the runner before dbt starts), int_panel_cell_lineage, int_sector_output,
fct_sector_output, audit_panel_constraints, the coordination chain and build_info (FIT_MODELS). The SQL
models upstream of them that do not build on Spark yet (FIT_INPUTS, docs/spark.md) are built by
DuckDB and copied into the Spark metastore as Parquet tables; the 25 models' tables (the Monte
Carlo draws included; build_info without its build time) are compared with DuckDB's like the
marts.

Then the Spark Thrift JDBC/ODBC server that the pyspark wheel ships
(org.apache.spark.sql.hive.thriftserver.HiveThriftServer2 in
jars/spark-hive-thriftserver_2.13-*.jar) is started on 127.0.0.1, and dbt builds a small
selection through `method: thrift` as a cluster's client would.

Spark needs a Java runtime: without `java` these tests skip (`.ci/run` installs
default-jre-headless). The JVMs run one after the other, never together.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from chengyu_cluster.inputs import Findings
from chengyu_cluster.microdata import Store, attach, check_microdata
from chengyu_cluster.synth import SynthConfig, synth

from conftest import make_workspace

pytestmark = pytest.mark.skipif(
    shutil.which("java") is None,
    reason="no Java runtime: Spark runs in a JVM and `java` is not on PATH "
           "(.ci/run installs the Debian package default-jre-headless)",
)

DBT = Path(sys.executable).parent / "dbt"

# Every public mart the selector builds on Spark, and the protected time spine.
PORTED_MARTS = [
    ("marts", "dim_area"), ("marts", "dim_area_boundary"), ("marts", "dim_metric"), ("marts", "dim_sector"),
    ("marts", "dim_source"),
    ("marts", "dim_year"), ("marts", "fct_area_indicators"), ("marts", "fct_area_specialty_claims"),
    ("marts", "fct_cooperation_events"), ("marts", "fct_reported_figures"),
    ("marts", "audit_rejected_figures"), ("marts", "audit_figure_conflicts"),
    ("semantic", "metricflow_time_spine"),
]
# The microdata models of the selection: staging views (exported after the Spark build) and
# intermediate tables.
MICRODATA_VIEWS = [
    ("staging", "stg_microdata__enterprises"), ("staging", "stg_microdata__enterprise_month"),
    ("staging", "stg_microdata__supply_invoices"),
]
MICRODATA_TABLES = [("intermediate", "int_microdata_area_map"), ("intermediate", "int_microdata_enterprise_history")]
# The panel fit and everything after it on Spark: its constraints (SQL), the three dbt Python
# models, the sector output and the coordination chain; and the SQL models upstream of them that
# do not build on Spark yet (built by DuckDB, copied into Spark's metastore).
FIT_MODELS = [("intermediate", "int_panel_constraints"), ("intermediate", "int_panel_constraint_terms"),
              ("intermediate", "int_panel_fit_cells"), ("intermediate", "int_panel_fit_audit"),
              ("intermediate", "int_panel_fit_draws"), ("intermediate", "int_panel_cell_lineage"),
              ("intermediate", "int_sector_output"), ("marts", "fct_sector_output"),
              ("marts", "audit_panel_constraints"),
              ("intermediate", "int_sector_output_draws"), ("intermediate", "int_sector_shares"),
              ("intermediate", "int_concentration_draws"), ("intermediate", "int_coupling_indicators"),
              ("intermediate", "int_pair_overlap_draws"), ("intermediate", "int_pair_structure_draws"),
              ("intermediate", "int_specialization_draws"), ("marts", "fct_province_sector_output"),
              ("marts", "fct_area_sector_specialization"), ("marts", "fct_area_shift_share"),
              ("marts", "fct_area_pair_sector_overlap"), ("marts", "fct_area_pair_structure"),
              ("marts", "fct_cluster_coupling"), ("marts", "fct_sector_concentration"),
              ("marts", "audit_sector_output_reconciliation"), ("marts", "build_info")]
# Columns that hold the time of the build, not a result.
BUILD_TIME_COLUMNS = {"build_info": ("built_at",)}
FIT_INPUTS = [("intermediate", "int_sector_output_supplied"), ("intermediate", "int_panel_prior_cells"),
              ("intermediate", "int_panel_prior_components"), ("intermediate", "int_microdata_sector_output"),
              ("intermediate", "int_province_gdp_panel"), ("intermediate", "int_area_gdp_panel")]
# A few thousand rows: about 200 register rows, 2,200 reports, 3,000 invoices over 12 months.
SYNTH = dict(enterprises=200, months=12, invoices=3000, seed=12)
RELATIVE_TOLERANCE = 1e-9

# Run in the Spark build's own process: the dbt build, then (same SparkSession, no second JVM)
# the rows of the views named in `export` written to Parquet for the comparison.
# Then the fit's inputs are copied from DuckDB's Parquet exports into the metastore (`preload`) and
# the Python models run (`fit_args`). dbt runs with the `session` submission method registered,
# as `python -m chengyu_cluster.spark_dbt` does.
SPARK_RUNNER = """
import json, sys, time
from dbt.cli.main import dbtRunner
from chengyu_cluster.spark_python import register

register()
job = json.loads(sys.argv[1])
started = time.monotonic()
result = dbtRunner().invoke(job["args"])
print(json.dumps({"build_seconds": time.monotonic() - started}), file=sys.stderr)
if not result.success:
    sys.exit(1)
from pyspark.sql import SparkSession

spark = SparkSession.builder.getOrCreate()
for relation, path in job["export"].items():
    spark.table(relation).write.mode("overwrite").parquet(path)
for relation, path in job["preload"].items():
    spark.sql("create database if not exists " + relation.split(".")[0])
    spark.read.parquet(path).write.mode("overwrite").format("parquet").saveAsTable(relation)
started = time.monotonic()
result = dbtRunner().invoke(job["fit_args"])
print(json.dumps({"fit_seconds": time.monotonic() - started, "fit_success": result.success}), file=sys.stderr)
"""


def dbt(project: Path, *args: str, timeout: float = 2400, **env: str) -> tuple[subprocess.CompletedProcess, float]:
    """Run the dbt CLI of this environment in the project; returns the result and seconds."""
    full_env = dict(os.environ, DBT_PROFILES_DIR=str(project), SPARK_LOCAL_IP="127.0.0.1", **env)
    full_env.pop("DBT_TARGET", None)
    started = time.monotonic()
    result = subprocess.run([str(DBT), *args], cwd=project, env=full_env, capture_output=True, text=True,
                            timeout=timeout)
    return result, time.monotonic() - started


def node_statuses(target_path: Path) -> dict[str, str]:
    results = json.loads((target_path / "run_results.json").read_text(encoding="utf-8"))["results"]
    return {r["unique_id"]: r["status"] for r in results}


def load_microdata(project: Path, root: Path, duckdb_file: Path) -> dict[str, list[str]]:
    """A small synthetic set, checked and stored by the loader and attached to the DuckDB file as
    `chengyu build --microdata` does; returns the store's Parquet files per table (for Spark)."""
    synth(project, root / "microdata", SynthConfig(**SYNTH, threads=1))
    findings = Findings()
    micro = check_microdata(project, root / "microdata", findings, Store(root / "store"))
    assert micro is not None, [str(issue) for issue in findings.kept]
    con = duckdb.connect(str(duckdb_file))
    try:
        attach(con, micro, project, "spark-test", None, [], False, 3)
    finally:
        con.close()
    files: dict[str, list[str]] = {}
    for f in micro.files:
        files.setdefault(f.table, []).append(str(f.store_file))
    return files


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """The selection built on DuckDB and on local Spark from one copy of the repository."""
    ws = make_workspace(tmp_path_factory.mktemp("spark"))
    root = ws.project.parent
    microdata_files = load_microdata(ws.project, root, root / "duckdb.duckdb")
    duck, duck_seconds = dbt(ws.project, "build", "--target", "dev", "--selector", "spark_portable",
                             "--target-path", str(root / "target_duckdb"), "--log-path", str(root / "logs"),
                             CHENGYU_DBT_DATABASE=str(root / "duckdb.duckdb"))
    assert duck.returncode == 0, duck.stdout[-5000:] + duck.stderr[-5000:]
    fit_select = " ".join(f"+{table}" for _, table in FIT_MODELS)
    duck_fit, duck_fit_seconds = dbt(ws.project, "run", "--target", "dev", "--select", fit_select,
                                     "--target-path", str(root / "target_duckdb_fit"), "--log-path", str(root / "logs"),
                                     CHENGYU_DBT_DATABASE=str(root / "duckdb.duckdb"))
    assert duck_fit.returncode == 0, duck_fit.stdout[-5000:] + duck_fit.stderr[-5000:]
    (root / "fit_inputs").mkdir()
    con = duckdb.connect(str(root / "duckdb.duckdb"), read_only=True)
    try:
        for schema, table in FIT_INPUTS:
            con.execute(f"copy {schema}.{table} to '{root / 'fit_inputs' / table}.parquet' (format parquet)")
    finally:
        con.close()
    runner = root / "spark_runner.py"
    runner.write_text(SPARK_RUNNER, encoding="utf-8")
    job = {
        "args": ["build", "--target", "spark", "--selector", "spark_portable",
                 "--vars", json.dumps({"microdata_parquet_files": microdata_files}),
                 "--target-path", str(root / "target_spark"), "--log-path", str(root / "logs")],
        "export": {f"{schema}.{table}": str(root / "exported" / table) for schema, table in MICRODATA_VIEWS},
        "preload": {f"{schema}.{table}": str(root / "fit_inputs" / f"{table}.parquet") for schema, table in FIT_INPUTS},
        "fit_args": ["run", "--target", "spark", "--select", " ".join(table for _, table in FIT_MODELS),
                     "--target-path", str(root / "target_spark_fit"), "--log-path", str(root / "logs")],
    }
    env = dict(os.environ, DBT_PROFILES_DIR=str(ws.project), SPARK_LOCAL_IP="127.0.0.1",
               CHENGYU_SPARK_DIR=str(root / "spark"))
    env.pop("DBT_TARGET", None)
    started = time.monotonic()
    spark = subprocess.run([sys.executable, str(runner), json.dumps(job)], cwd=ws.project, env=env,
                           capture_output=True, text=True, timeout=2400)
    spark_seconds = time.monotonic() - started
    # Run time of the Spark build (JVM start included), shown with `pytest -s`.
    print(f"\n[spark] dbt build --selector spark_portable: DuckDB {duck_seconds:.1f} s, "
          f"local Spark {spark_seconds:.1f} s (with the export of the microdata views and the panel fit; "
          f"the fit's chain on DuckDB {duck_fit_seconds:.1f} s)")
    fit = {}
    for line in spark.stderr.splitlines():
        if line.startswith(('{"build_seconds"', '{"fit_seconds"')):
            print(f"[spark] {line}")
            fit.update(json.loads(line))
    return {"root": root, "project": ws.project, "spark": spark, "spark_seconds": spark_seconds,
            "fit_success": fit.get("fit_success", False)}


def parquet_of(spark_dir: Path, schema: str, table: str) -> str:
    return str(spark_dir / "tables" / f"{schema}.db" / table / "*.parquet")


def sort_key(row: tuple) -> tuple:
    # Rows have no natural order: sort by every value, floats to 9 significant digits so that
    # two engines' last-bit differences cannot reorder them.
    return tuple((v is None, f"{v:.9g}" if isinstance(v, float) else str(v)) for v in row)


def differences(columns: list[str], duck_rows: list[tuple], spark_rows: list[tuple]) -> list[str]:
    """Cells that differ: floats beyond the relative tolerance, anything else at all."""
    out = []
    for duck_row, spark_row in zip(sorted(duck_rows, key=sort_key), sorted(spark_rows, key=sort_key), strict=True):
        for column, a, b in zip(columns, duck_row, spark_row, strict=True):
            if isinstance(a, float) and isinstance(b, float):
                same = a == b or math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=0.0)
            else:
                same = a == b and type(a) is type(b)
            if not same:
                out.append(f"{column}: DuckDB {a!r}, Spark {b!r}")
    return out


def compare(duck_db: Path, duck_table: str, parquet: str, exclude: tuple[str, ...] = ()) -> tuple[int, list[str]]:
    columns = f"* exclude ({', '.join(exclude)})" if exclude else "*"
    con = duckdb.connect(str(duck_db), read_only=True)
    try:
        duck = con.execute(f"select {columns} from {duck_table}")
        duck_columns = [d[0] for d in duck.description]
        duck_rows = duck.fetchall()
        spark = con.execute(f"select {columns} from read_parquet('{parquet}')")
        spark_columns = [d[0] for d in spark.description]
        spark_rows = spark.fetchall()
    finally:
        con.close()
    assert spark_columns == duck_columns
    assert len(spark_rows) == len(duck_rows)
    return len(duck_rows), differences(duck_columns, duck_rows, spark_rows)


def test_the_portable_selection_builds_and_passes_its_tests_on_spark(builds):
    spark = builds["spark"]
    assert spark.returncode == 0, spark.stdout[-8000:] + spark.stderr[-3000:]
    statuses = node_statuses(builds["root"] / "target_spark")
    failed = {node: status for node, status in statuses.items() if status not in ("success", "pass")}
    assert not failed
    kinds = {node.split(".")[0] for node in statuses}
    # Seeds, models, data tests and unit tests all ran on Spark.
    assert {"seed", "model", "test", "unit_test"} <= kinds
    assert {f"model.chengyu_cluster.{table}" for _, table in PORTED_MARTS + MICRODATA_VIEWS + MICRODATA_TABLES} \
        <= set(statuses)


@pytest.mark.parametrize(("schema", "table"), PORTED_MARTS)
def test_every_ported_mart_equals_the_duckdb_build(builds, schema, table):
    assert builds["spark"].returncode == 0
    n_rows, diffs = compare(builds["root"] / "duckdb.duckdb", f"{schema}.{table}",
                            parquet_of(builds["root"] / "spark", schema, table))
    assert not diffs, diffs[:20]
    if table not in ("audit_rejected_figures",):
        assert n_rows > 0


@pytest.mark.parametrize(("schema", "table"), MICRODATA_VIEWS + MICRODATA_TABLES)
def test_every_ported_microdata_model_equals_the_duckdb_build(builds, schema, table):
    """The same synthetic microdata give the same rows: the source_file column included (the
    Spark views over the store's files name them as DuckDB's read_parquet does)."""
    assert builds["spark"].returncode == 0
    root = builds["root"]
    parquet = (str(root / "exported" / table / "*.parquet") if (schema, table) in MICRODATA_VIEWS
               else parquet_of(root / "spark", schema, table))
    n_rows, diffs = compare(root / "duckdb.duckdb", f"{schema}.{table}", parquet)
    assert not diffs, diffs[:20]
    assert n_rows > 0


def test_the_panel_fit_runs_on_spark(builds):
    """The fit's constraints, its three dbt Python models (submission method `session`) and every
    model after them build."""
    assert builds["spark"].returncode == 0, builds["spark"].stdout[-8000:] + builds["spark"].stderr[-3000:]
    assert builds["fit_success"], builds["spark"].stdout[-8000:]
    statuses = node_statuses(builds["root"] / "target_spark_fit")
    assert {node: status for node, status in statuses.items() if node.startswith("model.")} \
        == {f"model.chengyu_cluster.{table}": "success" for _, table in FIT_MODELS}
    assert all(status == "success" for status in statuses.values())


@pytest.mark.parametrize(("schema", "table"), FIT_MODELS)
def test_the_panel_fit_on_spark_equals_the_duckdb_fit(builds, schema, table):
    """The same inputs give the same fit and the same seeded Monte Carlo draws on both engines
    (floats within 1e-9 relative): fit_tables sorts its inputs, so the row order Spark reads
    them in does not matter."""
    assert builds["spark"].returncode == 0 and builds["fit_success"]
    n_rows, diffs = compare(builds["root"] / "duckdb.duckdb", f"{schema}.{table}",
                            parquet_of(builds["root"] / "spark", schema, table), BUILD_TIME_COLUMNS.get(table, ()))
    assert not diffs, diffs[:20]
    assert n_rows > 0


def test_the_seeds_load_the_same_values_on_both_engines(builds):
    """The Spark seed loader writes quotes, backslashes and empty cells as DuckDB's does."""
    assert builds["spark"].returncode == 0
    seeds = sorted(p.stem for p in (builds["project"] / "seeds").glob("*.csv"))
    for seed in seeds:
        _, diffs = compare(builds["root"] / "duckdb.duckdb", f"raw.{seed}",
                           parquet_of(builds["root"] / "spark", "raw", seed))
        assert not diffs, (seed, diffs[:10])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_build_through_the_spark_thrift_server(builds):
    """pyspark ships HiveThriftServer2: start it on 127.0.0.1 and let dbt build through it."""
    import pyspark

    assert builds["spark"].returncode == 0  # the session build's JVM has exited: one JVM at a time
    spark_home = Path(pyspark.__file__).parent
    assert list((spark_home / "jars").glob("spark-hive-thriftserver_*.jar"))
    root = builds["root"]
    state = root / "thrift"
    state.mkdir()
    port = free_port()
    env = dict(os.environ, SPARK_HOME=str(spark_home), SPARK_LOCAL_IP="127.0.0.1")
    command = [
        str(spark_home / "bin" / "spark-submit"), "--master", "local[2]", "--driver-memory", "1g",
        "--class", "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2",
        "--conf", "spark.ui.enabled=false", "--conf", "spark.sql.shuffle.partitions=2",
        "--conf", "spark.sql.session.timeZone=UTC",
        "--conf", f"spark.sql.warehouse.dir={state / 'tables'}",
        "--conf", "spark.hadoop.javax.jdo.option.ConnectionURL="
                  f"jdbc:derby:;databaseName={state / 'metastore_db'};create=true",
        "--conf", f"spark.driver.extraJavaOptions=-Dderby.system.home={state}",
        "--hiveconf", "hive.server2.thrift.bind.host=127.0.0.1",
        "--hiveconf", f"hive.server2.thrift.port={port}",
        "spark-internal",
    ]
    log = (state / "server.log").open("w")
    server = subprocess.Popen(command, cwd=state, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        started = time.monotonic()
        while time.monotonic() - started < 600:
            assert server.poll() is None, (state / "server.log").read_text()[-5000:]
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(2)
        else:
            pytest.fail("the Thrift server did not listen within 600 s")
        print(f"\n[spark] Thrift server listening after {time.monotonic() - started:.1f} s")
        thrift_env = {"CHENGYU_SPARK_HOST": "127.0.0.1", "CHENGYU_SPARK_PORT": str(port),
                      "CHENGYU_SPARK_USER": "chengyu"}
        result, seconds = dbt(builds["project"], "build", "--target", "thrift",
                              "--select", "sectors stg_reference__sectors dim_sector",
                              "--indirect-selection", "cautious",
                              "--target-path", str(root / "target_thrift"), "--log-path", str(root / "logs"),
                              **thrift_env)
        print(f"[spark] dbt build through Thrift (seed, view, mart, tests): {seconds:.1f} s")
        assert result.returncode == 0, result.stdout[-8000:]
        statuses = node_statuses(root / "target_thrift")
        assert statuses and all(status in ("success", "pass") for status in statuses.values())
        _, diffs = compare(root / "duckdb.duckdb", "marts.dim_sector", parquet_of(state, "marts", "dim_sector"))
        assert not diffs
    finally:
        os.killpg(server.pid, 15)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
            server.wait()
        log.close()
