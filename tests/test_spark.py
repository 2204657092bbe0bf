"""The whole dbt project on Apache Spark (docs/spark.md), compared with DuckDB.

The project is built twice from one copy of the repository, from the same seeds, the same user
file (tests/data/synthetic_sector_output.csv, read and checked by the input reader) and the
same small synthetic microdata (`chengyu synth`, checked and stored by the loader): on DuckDB
(target dev; the reader's tables and the microdata written into the file as `chengyu build`
does) and on a local Spark (target spark: dbt-spark `method: session`, local[2], Parquet
tables; the reader's tables copied into the metastore, the microdata as views over the
loader's store files, var microdata_parquet_files). Both are one `dbt build` of every node:
seeds, models (the panel fit's dbt Python models through the submission method `session` of
chengyu_cluster.pipeline.spark_python, registered by the runner before dbt starts), data tests and unit
tests. Then:

- every node has the same status on both engines (the soft panel constraints warn on both);
- every table of the intermediate layer and the marts (the public marts, the Monte Carlo
  draws, the microdata facts) and every seed is compared row by row: the same columns, the
  same keys, numbers equal within 1e-9 relative, the same `basis` labels. The Spark tables are
  read from their Parquet files by DuckDB, so the comparison needs no second JVM; the
  microdata staging models are views, so the Spark process writes their rows to Parquet after
  the build, in the same JVM.

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
import yaml

from chengyu_cluster.inputs.reader import Findings, load_inputs, read_inputs
from chengyu_cluster.microdata.checks import check_microdata
from chengyu_cluster.microdata.load import attach
from chengyu_cluster.microdata.plan import INCREMENTAL_FACTS
from chengyu_cluster.microdata.store import Store
from chengyu_cluster.synth.generator import SynthConfig, synth

from conftest import make_workspace

pytestmark = pytest.mark.skipif(
    shutil.which("java") is None,
    reason="no Java runtime: Spark runs in a JVM and `java` is not on PATH "
    "(.ci/run installs the Debian package default-jre-headless)",
)

DBT = Path(sys.executable).parent / "dbt"
REPO = Path(__file__).resolve().parents[1]
USER_FILE = Path(__file__).parent / "data" / "synthetic_sector_output.csv"


def layer_tables() -> list[tuple[str, str]]:
    """(schema, table) of every model materialised as a table: the intermediate layer and the
    marts (the staging models are views). Read from the folders, as dbt_project.yml places
    them, so that a new model is compared without being listed here."""
    tables = []
    for path in sorted((REPO / "models").glob("**/*")):
        if path.suffix not in (".sql", ".py"):
            continue
        layer = path.relative_to(REPO / "models").parts
        if layer[0] == "intermediate":
            tables.append(("intermediate", path.stem))
        elif layer[0] == "marts":
            # The microdata marts set schema='microdata' in their config (not public marts).
            tables.append(({"semantic": "semantic", "microdata": "microdata"}.get(layer[1], "marts"), path.stem))
    return tables


TABLES = layer_tables()
# The microdata staging models: views, exported by the Spark process after the build.
MICRODATA_VIEWS = [
    ("staging", "stg_microdata__enterprises"),
    ("staging", "stg_microdata__enterprise_month"),
    ("staging", "stg_microdata__supply_invoices"),
]
# The microdata facts, incremental by month (partitioned by month or year on Spark).
# The incremental models of the microdata layer, as the DuckDB loader carries them over.
INCREMENTAL_TABLES = list(INCREMENTAL_FACTS)
# Columns that hold the time of the build, not a result.
BUILD_TIME_COLUMNS = {"build_info": ("built_at",)}
# The input reader's tables (raw.*), copied from the DuckDB file into Spark before the build.
READER_TABLES = ["user_sector_output", "load_audit"]
# A few thousand rows: about 200 register rows, 2,200 reports, 3,000 invoices over 12 months.
SYNTH = dict(enterprises=200, months=12, invoices=3000, seed=12)
RELATIVE_TOLERANCE = 1e-9
# A value near zero may also differ by 1e-12 of the largest value of its column. The priors
# differ between the engines in the last bit (sums in another order, up to 5e-16 relative);
# the panel fit solves every cell jointly, so such a difference in a total of 1e11 yuan moves
# each cell by about 1e-4 yuan: for a cell of 16,000 yuan in one Monte Carlo draw that is 3e-9
# relative, and so is its location quotient (2 of 144,600 draws in one run; docs/spark.md).
SCALE_TOLERANCE = 1e-12

# Run in the Spark build's own process, in one SparkSession (the one dbt's profile
# configures): the hook macro that creates the reader's tables (run as an operation, so that
# they exist with the sources' types); the reader's rows inserted from DuckDB's Parquet
# exports (`preload`; a DuckDB TIMESTAMP reads back from Parquet as timestamp_ntz, hence the
# casts to the table's types); the dbt build with the `session` submission method registered
# (as `python -m chengyu_cluster.pipeline.spark_dbt` does); the rows of the views named in `export`
# written to Parquet (the microdata facts among them: a copy of the full build); the Great
# Expectations gate on the Spark marts as DataFrames, with the DuckDB build as the published
# version it compares with; last an incremental run of the microdata facts on the same files,
# which drops and rewrites the partitions of the look-back months (insert_overwrite), so the
# tables compared below are the incremental run's.
SPARK_RUNNER = """
import json, sys, time
from pathlib import Path
from dbt.cli.main import dbtRunner
from pyspark.sql import SparkSession
from chengyu_cluster.quality.gate import import_great_expectations, prepare_gate, run_quality_gate_spark
from chengyu_cluster.pipeline.spark_python import register

job = json.loads(sys.argv[1])
import_great_expectations()  # before dbt, as chengyu build --target spark does (docs/spark.md)
register()
# One parse for the three dbt calls: they share the target and the vars, so they share dbt's
# manifest (each call would parse the project again otherwise: the first call has other vars,
# the incremental run another target path).
parsed = dbtRunner().invoke(job["parse_args"])
if not parsed.success:
    sys.exit(2)
manifest = parsed.result
if not dbtRunner(manifest=manifest).invoke(job["prepare_args"]).success:
    sys.exit(2)
spark = SparkSession.builder.getOrCreate()
for relation, path in job["preload"].items():
    fields = spark.table(relation).schema.fields
    rows = spark.read.parquet(path)
    rows.select([rows[f.name].cast(f.dataType) for f in fields]).write.insertInto(relation, overwrite=True)
started = time.monotonic()
result = dbtRunner(manifest=manifest).invoke(job["args"])
print(json.dumps({"build_seconds": time.monotonic() - started}), file=sys.stderr)
for relation, path in job["export"].items():
    spark.table(relation).write.mode("overwrite").parquet(path)
if not result.success:
    sys.exit(1)
started = time.monotonic()
gate = run_quality_gate_spark(spark, "marts", prepare_gate(Path.cwd(), Path(job["gate_baseline"])),
                              Path(job["gate_reports"]))
Path(job["gate_result"]).write_text(json.dumps({
    "passed": gate.passed, "compared_with": gate.compared_with, "messages": gate.messages(),
    "checks": [[r.suite, r.expectation, r.severity, r.success] for r in gate.results]}))
print(json.dumps({"gate_seconds": time.monotonic() - started}), file=sys.stderr)
started = time.monotonic()
result = dbtRunner(manifest=manifest).invoke(job["incremental_args"])
print(json.dumps({"incremental_seconds": time.monotonic() - started}), file=sys.stderr)
if not result.success:
    sys.exit(3)
# Last, the microdata hook with one file that does not exist: the views read each table's
# files as one glob, which would skip it silently; the hook must fail instead.
missing = dbtRunner(manifest=manifest).invoke(job["missing_file_args"])
Path(job["missing_file_result"]).write_text(json.dumps({"success": missing.success}))
"""


def dbt(project: Path, *args: str, timeout: float = 2400, **env: str) -> tuple[subprocess.CompletedProcess, float]:
    """Run the dbt CLI of this environment in the project; returns the result and seconds."""
    full_env = dict(os.environ, DBT_PROFILES_DIR=str(project), SPARK_LOCAL_IP="127.0.0.1", **env)
    full_env.pop("DBT_TARGET", None)
    started = time.monotonic()
    result = subprocess.run(
        [str(DBT), *args], cwd=project, env=full_env, capture_output=True, text=True, timeout=timeout
    )
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


def load_reader_tables(project: Path, root: Path, duckdb_file: Path) -> dict[str, str]:
    """The seeds and the user file read and checked by the input reader and written into the
    DuckDB file as `chengyu build --sector-output` does; returns Parquet copies of the reader's
    own tables for Spark (the seeds are seeded by dbt on both engines here)."""
    accepted = read_inputs(project, USER_FILE)
    assert accepted.ok, [str(issue) for issue in accepted.findings.kept]
    exports = {}
    con = duckdb.connect(str(duckdb_file))
    try:
        load_inputs(con, accepted)
        assert con.execute("select count(*) from raw.user_sector_output").fetchone()[0] > 0
        for table in READER_TABLES:
            exports[f"raw.{table}"] = str(root / f"reader_{table}.parquet")
            con.execute(f"copy raw.{table} to '{exports[f'raw.{table}']}' (format parquet)")
    finally:
        con.close()
    return exports


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """The whole project built on DuckDB and on local Spark from one copy of the repository."""
    ws = make_workspace(tmp_path_factory.mktemp("spark"))
    root = ws.project.parent
    duck_file = root / "duckdb.duckdb"
    microdata_files = load_microdata(ws.project, root, duck_file)
    preload = load_reader_tables(ws.project, root, duck_file)
    duck, duck_seconds = dbt(
        ws.project,
        "build",
        "--target",
        "dev",
        "--target-path",
        str(root / "target_duckdb"),
        "--log-path",
        str(root / "logs"),
        CHENGYU_DBT_DATABASE=str(duck_file),
    )
    runner = root / "spark_runner.py"
    runner.write_text(SPARK_RUNNER, encoding="utf-8")
    common = ["--target", "spark", "--target-path", str(root / "target_spark"), "--log-path", str(root / "logs")]
    microdata_vars = ["--vars", json.dumps({"microdata_parquet_files": microdata_files})]
    job = {
        "parse_args": ["parse", *common, *microdata_vars],
        "prepare_args": ["run-operation", "create_missing_input_tables", *common],
        "preload": preload,
        "args": ["build", *common, *microdata_vars],
        "export": {
            f"{schema}.{table}": str(root / "exported" / table)
            for schema, table in MICRODATA_VIEWS + INCREMENTAL_TABLES
        },
        "gate_baseline": str(duck_file),
        "gate_reports": str(root / "reports"),
        "gate_result": str(root / "gate.json"),
        "missing_file_args": [
            "run-operation",
            "create_missing_microdata_tables",
            "--target",
            "spark",
            # run_results.json of its own: target_spark's are the build's, compared above
            "--target-path",
            str(root / "target_missing_file"),
            "--log-path",
            str(root / "logs"),
            "--vars",
            json.dumps(
                {
                    "microdata_parquet_files": {
                        **microdata_files,
                        "supply_invoices": [*microdata_files["supply_invoices"], str(root / "store" / "gone.parquet")],
                    }
                }
            ),
        ],
        "missing_file_result": str(root / "missing_file.json"),
        "incremental_args": [
            "run",
            "--target",
            "spark",
            "--select",
            "config.materialized:incremental",
            "--target-path",
            str(root / "target_spark_incremental"),
            "--log-path",
            str(root / "logs"),
            *microdata_vars,
        ],
    }
    # The whole run is one process: Spark's in-memory catalog instead of the Hive metastore in
    # Derby (profiles.yml), which saves the metastore's round trips on each of some thousand
    # statements; the tables are the same Parquet files under CHENGYU_SPARK_DIR/tables.
    env = dict(
        os.environ,
        DBT_PROFILES_DIR=str(ws.project),
        SPARK_LOCAL_IP="127.0.0.1",
        CHENGYU_SPARK_DIR=str(root / "spark"),
        CHENGYU_SPARK_CATALOG="in-memory",
        # Kilobytes per table and two dbt threads on two cores: one shuffle partition per query
        # (docs/spark.md "Per-statement cost").
        CHENGYU_SPARK_SHUFFLE_PARTITIONS="1",
    )
    env.pop("DBT_TARGET", None)
    started = time.monotonic()
    spark = subprocess.run(
        [sys.executable, str(runner), json.dumps(job)],
        cwd=ws.project,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    spark_seconds = time.monotonic() - started
    # Run times (JVM start included for Spark), shown with `pytest -s`.
    print(
        f"\n[spark] dbt build of the whole project: DuckDB {duck_seconds:.1f} s, local Spark "
        f"{spark_seconds:.1f} s (JVM start, preload and the export of the microdata views included)"
    )
    for line in spark.stderr.splitlines():
        if line.startswith(('{"build_seconds"', '{"gate_seconds"', '{"incremental_seconds"')):
            print(f"[spark] {line}")
    return {"root": root, "project": ws.project, "duck": duck, "spark": spark}


def parquet_of(spark_dir: Path, schema: str, table: str) -> str:
    # `**`: a table partitioned by month (the microdata facts, insert_overwrite) keeps its
    # files under month=YYYY-MM-DD/ folders, the partition column in the folder name.
    return str(spark_dir / "tables" / f"{schema}.db" / table / "**" / "*.parquet")


def ordered_rows(con: duckdb.DuckDBPyConnection, source: str, columns: list[str]) -> list[tuple]:
    """The rows of `source` sorted by every value, NULLs last: rows have no natural order. Floats
    sort by 9 significant digits, so that two engines' last-bit differences cannot reorder them.
    DuckDB sorts (sorting 400,000 Monte Carlo draws in Python was 14 of a comparison's 19 s)."""
    types = {name: kind for name, kind, *_ in con.execute(f"describe select * from {source}").fetchall()}
    keys = ", ".join(
        (f"printf('%.9g', \"{c}\")" if types[c] in ("DOUBLE", "FLOAT") else f'cast("{c}" as varchar)') + " nulls last"
        for c in columns
    )
    select = ", ".join(f'"{c}"' for c in columns)
    return con.execute(f"select {select} from {source} order by {keys}").fetchall()


def differences(columns: list[str], duck_rows: list[tuple], spark_rows: list[tuple]) -> list[str]:
    """Cells that differ, row by row in the order of `ordered_rows`: floats beyond the
    tolerances above, anything else at all."""
    scale = {
        i: max((abs(row[i]) for row in duck_rows if isinstance(row[i], float) and math.isfinite(row[i])), default=0.0)
        for i in range(len(columns))
    }
    out = []
    for duck_row, spark_row in zip(duck_rows, spark_rows, strict=True):
        for i, (column, a, b) in enumerate(zip(columns, duck_row, spark_row, strict=True)):
            if isinstance(a, float) and isinstance(b, float):
                same = a == b or math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=SCALE_TOLERANCE * scale[i])
            else:
                same = a == b and type(a) is type(b)
            if not same:
                out.append(f"{column}: DuckDB {a!r}, Spark {b!r}")
    return out


def compare(duck_db: Path, duck_table: str, parquet: str, exclude: tuple[str, ...] = ()) -> tuple[int, list[str]]:
    """Row-by-row comparison of a DuckDB table with Spark's Parquet files, column by column in
    DuckDB's order (Spark puts a partition column last; it is read from the folder names)."""
    con = duckdb.connect(str(duck_db), read_only=True)
    try:
        duck = con.execute(f"select * from {duck_table} limit 0")
        columns = [d[0] for d in duck.description if d[0] not in exclude]
        spark_columns = [
            d[0]
            for d in con.execute(
                f"select * from read_parquet('{parquet}', hive_partitioning = true) limit 0"
            ).description
        ]
        assert sorted(c for c in spark_columns if c not in exclude) == sorted(columns)
        duck_rows = ordered_rows(con, duck_table, columns)
        spark_rows = ordered_rows(con, f"read_parquet('{parquet}', hive_partitioning = true)", columns)
    finally:
        con.close()
    assert len(spark_rows) == len(duck_rows)
    return len(duck_rows), differences(columns, duck_rows, spark_rows)


def test_the_whole_project_builds_on_spark_with_the_same_node_statuses(builds):
    """One `dbt build` of every node on each engine: seeds, models (the dbt Python models
    included), data tests and unit tests. Every node passes on DuckDB (the soft constraints of
    the panel fit warn) and has the same status on Spark."""
    assert builds["duck"].returncode == 0, builds["duck"].stdout[-8000:]
    spark = builds["spark"]
    assert spark.returncode == 0, spark.stdout[-8000:] + spark.stderr[-3000:]
    duck = node_statuses(builds["root"] / "target_duckdb")
    # Exposures are no-ops in a build; everything else succeeds, passes or warns.
    assert {status for node, status in duck.items() if not node.startswith("exposure.")} <= {"success", "pass", "warn"}
    assert node_statuses(builds["root"] / "target_spark") == duck
    kinds = {node.split(".")[0] for node in duck}
    assert {"seed", "model", "test", "unit_test"} <= kinds
    # Every table compared below was built (the folder listing and dbt agree).
    assert {f"model.chengyu_cluster.{table}" for _, table in TABLES + MICRODATA_VIEWS} <= set(duck)


@pytest.mark.parametrize(("schema", "table"), TABLES)
def test_every_table_equals_the_duckdb_build(builds, schema, table):
    """The public marts, the intermediate tables (the fit's Monte Carlo draws among them) and
    the microdata facts: the same rows, floats within 1e-9 relative, the same basis labels."""
    assert builds["spark"].returncode == 0
    n_rows, diffs = compare(
        builds["root"] / "duckdb.duckdb",
        f"{schema}.{table}",
        parquet_of(builds["root"] / "spark", schema, table),
        BUILD_TIME_COLUMNS.get(table, ()),
    )
    assert not diffs, diffs[:20]


def test_the_user_file_and_the_microdata_reach_the_marts_on_spark(builds):
    """The comparison above is not one of two empty tables: the user's synthetic figures and
    the synthetic microdata are in fct_sector_output, labelled synthetic, on Spark too."""
    con = duckdb.connect()
    try:
        methods = dict(
            con.execute(
                "select method, count(*) filter (where basis = 'synthetic') from read_parquet(?) group by method",
                [parquet_of(builds["root"] / "spark", "marts", "fct_sector_output")],
            ).fetchall()
        )
    finally:
        con.close()
    assert methods.get("user_supplied", 0) > 0 and methods.get("microdata", 0) > 0, methods


def test_the_quality_gate_runs_on_spark_dataframes(builds):
    """The Great Expectations gate of `chengyu build` on the Spark marts (GX's Spark data source),
    with the DuckDB build of the same inputs as the published version: every public mart's row
    count and columns and every key measure's median, mean and standard deviation
    (quality/gate.yml) are checked on Spark DataFrames, and nothing shifts."""
    assert builds["spark"].returncode == 0, builds["spark"].stdout[-8000:]
    gate = json.loads((builds["root"] / "gate.json").read_text(encoding="utf-8"))
    assert gate["compared_with"] == "dev" and gate["passed"], gate["messages"]
    assert all(success for *_, success in gate["checks"]), gate["messages"]
    config = yaml.safe_load((builds["project"] / "quality" / "gate.yml").read_text(encoding="utf-8"))
    checked = {(suite, expectation) for suite, expectation, _, _ in gate["checks"]}
    for measure in config["measures"]:
        if measure["kind"] == "distribution":
            for expectation in (
                "expect_column_median_to_be_between",
                "expect_column_mean_to_be_between",
                "expect_column_stdev_to_be_between",
            ):
                assert (f"shift_{measure['relation']}", expectation) in checked, (measure, expectation)
    public_marts = {table for schema, table in TABLES if schema == "marts"}
    assert {suite.removeprefix("shift_") for suite, _ in checked} == public_marts


def test_an_incremental_run_on_spark_rebuilds_the_look_back_months(builds):
    """The second dbt invocation ran the seven incremental models incrementally: each dropped the
    partitions of its look-back window and wrote them again. The tables compared with DuckDB
    above are that run's; here the full build's copies are compared too."""
    assert builds["spark"].returncode == 0, builds["spark"].stdout[-8000:]
    statuses = node_statuses(builds["root"] / "target_spark_incremental")
    models = {node: status for node, status in statuses.items() if node.startswith("model.")}
    assert models == {f"model.chengyu_cluster.{table}": "success" for _, table in INCREMENTAL_TABLES}
    for schema, table in INCREMENTAL_TABLES:
        n_rows, diffs = compare(
            builds["root"] / "duckdb.duckdb",
            f"{schema}.{table}",
            str(builds["root"] / "exported" / table / "*.parquet"),
        )
        assert not diffs and n_rows > 0, (table, n_rows, diffs[:10])


def test_a_missing_microdata_file_fails_the_hook_on_spark(builds):
    """The views read each table's files as one glob, which skips a file that does not exist;
    the hook names each file on its own first, so a missing one is an error, not fewer rows."""
    assert builds["spark"].returncode == 0, builds["spark"].stdout[-8000:]
    outcome = json.loads((builds["root"] / "missing_file.json").read_text(encoding="utf-8"))
    assert not outcome["success"]
    log = (builds["root"] / "logs" / "dbt.log").read_text(encoding="utf-8")
    assert any("Path does not exist" in line and "gone.parquet" in line for line in log.splitlines())


@pytest.mark.parametrize(("schema", "table"), MICRODATA_VIEWS)
def test_the_microdata_staging_views_equal_the_duckdb_build(builds, schema, table):
    """The same synthetic microdata give the same rows: the source_file column included (the
    raw relations name a file as each engine does, DuckDB its path, Spark its URI; staging keeps
    the part under the store on both)."""
    assert builds["spark"].returncode == 0
    n_rows, diffs = compare(
        builds["root"] / "duckdb.duckdb", f"{schema}.{table}", str(builds["root"] / "exported" / table / "*.parquet")
    )
    assert not diffs, diffs[:20]
    assert n_rows > 0


def test_the_seeds_load_the_same_values_on_both_engines(builds):
    """The Spark seed loader writes quotes, backslashes and empty cells as DuckDB's does."""
    assert builds["spark"].returncode == 0
    seeds = sorted(p.stem for p in (builds["project"] / "seeds").glob("*.csv"))
    for seed in seeds:
        _, diffs = compare(
            builds["root"] / "duckdb.duckdb", f"raw.{seed}", parquet_of(builds["root"] / "spark", "raw", seed)
        )
        assert not diffs, (seed, diffs[:10])


def spark_target_settings() -> dict:
    """The server-side parameters of profiles.yml's spark target, which the Thrift server takes
    too (docs/spark.md), so that it plans and collects garbage as the session builds do."""
    profile = yaml.safe_load((REPO / "profiles.yml").read_text(encoding="utf-8"))
    return profile["chengyu_cluster"]["outputs"]["spark"]["server_side_parameters"]


def spark_jvm_options() -> str:
    """The target's JVM options (the garbage collector) without its Derby folder."""
    options = spark_target_settings()["spark.driver.extraJavaOptions"]
    return " ".join(option for option in options.split() if option.startswith("-XX:"))


def planner_settings() -> dict[str, str]:
    """The target's small-data planner settings."""
    planner = (
        "spark.sql.adaptive.",
        "spark.sql.codegen.",
        "spark.sql.constraintPropagation.",
        "spark.sql.legacy.storeAnalyzedPlanForView",
    )
    return {key: str(value) for key, value in spark_target_settings().items() if key.startswith(planner)}


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
        str(spark_home / "bin" / "spark-submit"),
        "--master",
        "local[2]",
        "--driver-memory",
        "1g",
        "--class",
        "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2",
        "--conf",
        "spark.ui.enabled=false",
        "--conf",
        "spark.sql.shuffle.partitions=2",
        "--conf",
        "spark.sql.session.timeZone=UTC",
        "--conf",
        f"spark.sql.warehouse.dir={state / 'tables'}",
        "--conf",
        f"spark.hadoop.javax.jdo.option.ConnectionURL=jdbc:derby:;databaseName={state / 'metastore_db'};create=true",
        "--conf",
        f"spark.driver.extraJavaOptions={spark_jvm_options()} -Dderby.system.home={state}",
        *[arg for key, value in planner_settings().items() for arg in ("--conf", f"{key}={value}")],
        "--hiveconf",
        "hive.server2.thrift.bind.host=127.0.0.1",
        "--hiveconf",
        f"hive.server2.thrift.port={port}",
        "spark-internal",
    ]
    log = (state / "server.log").open("w")
    server = subprocess.Popen(command, cwd=state, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
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
        thrift_env = {
            "CHENGYU_SPARK_HOST": "127.0.0.1",
            "CHENGYU_SPARK_PORT": str(port),
            "CHENGYU_SPARK_USER": "chengyu",
        }
        result, seconds = dbt(
            builds["project"],
            "build",
            "--target",
            "thrift",
            "--select",
            "sectors stg_reference__sectors dim_sector",
            "--indirect-selection",
            "cautious",
            "--target-path",
            str(root / "target_thrift"),
            "--log-path",
            str(root / "logs"),
            **thrift_env,
        )
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
