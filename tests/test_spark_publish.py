"""`chengyu build --target spark`: write, audit, publish on a local Spark (pipeline/spark_schemas.py).

Real Spark, real dbt, no mocks. To keep the run short, every Spark build runs in ONE child
process (one JVM, its Derby metastore): the runner calls `chengyu_cluster.cli.main` for each
build, and reads the published views in the same SparkSession between builds and, from a
second thread, during the switch. The builds use a small selection (`+dim_sector`: the
sectors seed, its staging view, the mart and their tests); the command is the same for the
default, the whole project, which only takes longer.

1. build A publishes: marts.dim_sector is a view on marts__b<A>.dim_sector with its rows;
2. a duplicated sector code in seeds/sectors.csv (an input file): the input reader refuses it
   with exit 3, as on DuckDB, before any candidate schema exists; the published view still
   names A with A's rows;
   an unknown chain stage passes the reader but fails a dbt test: exit 4, nothing published
   changes, B's candidate schemas are dropped;
3. half the sectors removed: the dbt tests pass but the Great Expectations gate (Spark data
   source) blocks the row count: exit 5, nothing changes;
4. build C (one sector renamed) switches the view while a reader thread queries
   marts.dim_sector: every read returns all of A's rows or all of C's, never a mixture or a
   partial table; after it the view names C, A is kept (the previous one), nothing of B;
5. build D (unchanged input) drops A, keeps C and D;
6. build E is interrupted (SIGINT) once dbt writes its candidate: exit 130, one line, no
   candidate of E left (C and D stay). Run last in the same JVM: the interrupt needs no JVM
   of its own.
Without a JVM: no Java gives exit 14, a held build lock exit 6, each with one line.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from conftest import make_workspace

needs_java = pytest.mark.skipif(
    shutil.which("java") is None,
    reason="no Java runtime: Spark runs in a JVM and `java` is not on PATH "
    "(.ci/run installs the Debian package default-jre-headless)",
)
try:
    import pyspark  # noqa: F401

    HAVE_PYSPARK = True
except ImportError:
    HAVE_PYSPARK = False
needs_pyspark = pytest.mark.skipif(not HAVE_PYSPARK, reason="the `spark` extra (pyspark, dbt-spark) is not installed")

SELECT = ["+dim_sector"]

E_MARKER = "RUNNER E_interrupted: start"
RUNNER = r'''
import io, json, os, signal, sys, threading, time
from pathlib import Path

from chengyu_cluster import cli

project, select = Path(sys.argv[1]), json.loads(sys.argv[2])
seeds = project / "seeds" / "sectors.csv"
original = seeds.read_text(encoding="utf-8")
lines = original.splitlines(keepends=True)
out = {}


def build(name, csv_text, reader=False):
    seeds.write_text(csv_text, encoding="utf-8")
    started = time.monotonic()
    stop, reads = threading.Event(), []
    thread = None
    if reader:
        def read():
            spark = active()
            while not stop.is_set():
                try:
                    reads.append(sorted(tuple(r) for r in spark.sql("select * from marts.dim_sector").collect()))
                except Exception as exc:  # a failed read is a finding too
                    reads.append(type(exc).__name__ + ": " + str(exc).strip().splitlines()[0][:300])
                time.sleep(0.1)
        thread = threading.Thread(target=read, daemon=True)
        thread.start()
    code = cli.main(["--project-dir", str(project), "build", "--target", "spark", "--select", *select])
    if thread is not None:
        stop.set()
        thread.join()
    if code in (130, 143):
        sys.exit(code)
    out[name] = {"code": code, "seconds": time.monotonic() - started, "state": state()}
    results = Path(os.environ["CHENGYU_REPORTS"]) / "results" / "shift_dim_sector.json"
    if results.exists():  # the GX results of this build's gate (the next build replaces them)
        out[name]["gx"] = [(r["expectation_config"]["type"], r["success"])
                           for r in json.loads(results.read_text())["results"]]
        results.unlink()
    if reader:
        out[name]["reads"] = reads
    print(f"RUNNER {name}: exit {code} in {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)


def active():
    from pyspark.sql import SparkSession
    return SparkSession.builder.getOrCreate()


def state():
    spark = active()
    schemas = sorted(r[0] for r in spark.sql("show databases").collect())
    text = None
    rows = None
    if "marts" in schemas and spark.catalog.tableExists("marts.dim_sector"):
        for r in spark.sql("describe table extended marts.dim_sector").collect():
            if r[0] == "View Text":
                text = r[1]
        rows = sorted(tuple(r) for r in spark.sql("select * from marts.dim_sector").collect())
    candidates = {}
    for s in schemas:
        if s.startswith("marts__b") and spark.catalog.tableExists(s + ".dim_sector"):
            candidates[s] = sorted(tuple(r) for r in spark.sql(f"select * from {s}.dim_sector").collect())
    return {"schemas": schemas, "view_text": text, "rows": rows, "candidates": candidates}


build("A", original)
build("B_duplicate", original + lines[1])
build("B_dbt_test", original.replace(",components,true,", ",no_such_stage,true,", 1))
build("C_gate", "".join(lines[:1] + lines[1:4]))
renamed = original.replace("Manufacture of metal products", "Metal products (renamed)")
assert renamed != original
build("C", renamed, reader=True)
build("D", renamed)


def interrupted(name):
    """A build stopped by SIGINT once its candidate's first schema folder exists, as Ctrl-C in
    the terminal would stop it (a thread of this process sends the signal; Python runs the
    handler in the main thread, where the build runs): its exit code, what chengyu printed to
    stderr, and the candidate schema folders before and after."""
    tables = Path(os.environ["CHENGYU_SPARK_DIR"]) / "tables"

    def candidates():
        return sorted(p.name for p in tables.iterdir() if "__b" in p.name)

    before, stop = candidates(), threading.Event()

    def interrupt():
        while not stop.is_set():
            if set(candidates()) - set(before):
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.2)

    thread = threading.Thread(target=interrupt, daemon=True)
    thread.start()
    started = time.monotonic()
    # What this build prints is kept apart: dbt logs the interrupt's traceback to stdout
    # (its own console log; chengyu's one line goes to stderr, checked below).
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = io.StringIO(), io.StringIO()
    try:
        code = cli.main(["--project-dir", str(project), "build", "--target", "spark", "--select", *select])
    finally:
        printed, captured = sys.stdout.getvalue(), sys.stderr.getvalue()
        sys.stdout, sys.stderr = saved
        stop.set()
        thread.join()
    out[name] = {"code": code, "seconds": time.monotonic() - started, "stderr": captured, "stdout": printed,
                 "before": before, "after": candidates()}
    print(f"RUNNER {name}: exit {code} in {out[name]['seconds']:.1f} s", file=sys.stderr, flush=True)


# What the process prints from here on is E's: the test checks it as a Ctrl-C'd build's.
print(E_MARKER, flush=True)
print(E_MARKER, file=sys.stderr, flush=True)
interrupted("E_interrupted")
seeds.write_text(original, encoding="utf-8")
print("RESULT " + json.dumps(out, default=str))
'''


def suffix_of(view_text: str) -> str:
    return view_text.split("from", 1)[1].strip().split(".")[0].strip("`").split("__", 1)[1]


@needs_java
@needs_pyspark
def test_write_audit_publish_on_spark(tmp_path):
    ws = make_workspace(tmp_path)
    runner = tmp_path / "runner.py"
    runner.write_text(f"E_MARKER = {E_MARKER!r}\n" + RUNNER, encoding="utf-8")
    env = dict(
        ws.env(),
        CHENGYU_SPARK_DIR=str(tmp_path / "spark"),
        SPARK_LOCAL_IP="127.0.0.1",
        CHENGYU_REPORTS=str(tmp_path / "reports"),
    )
    env.pop("DBT_TARGET", None)
    started = time.monotonic()
    result = subprocess.run(
        ["nice", "-n", "10", sys.executable, str(runner), str(ws.project), json.dumps(SELECT)],
        cwd=ws.project,
        env=env,
        capture_output=True,
        text=True,
        timeout=3000,
    )
    seconds = time.monotonic() - started
    print(f"\nSpark WAP test process (one JVM, 6 builds): {seconds:.1f} s")
    print("\n".join(line for line in result.stderr.splitlines() if line.startswith("RUNNER")))
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert result.returncode == 0 and lines, result.stdout[-6000:] + result.stderr[-6000:]
    out = json.loads(lines[-1][len("RESULT ") :])
    assert E_MARKER in result.stdout and E_MARKER in result.stderr
    # Builds A-D print no traceback; E (interrupted) none on stderr, as the user sees a Ctrl-C'd
    # build (dbt logs the interrupt's traceback to stdout, its own console log).
    stdout_a_d, _, _ = result.stdout.partition(E_MARKER)
    stderr_a_d, _, stderr_e = result.stderr.partition(E_MARKER)
    assert "Traceback" not in stdout_a_d + stderr_a_d, stderr_a_d[-6000:]
    assert "Traceback" not in stderr_e, stderr_e[-6000:]

    # 1. A published: the view names A's candidate and returns its rows.
    a = out["A"]
    assert a["code"] == 0, result.stdout[-4000:] + result.stderr[-4000:]
    suffix_a = suffix_of(a["state"]["view_text"])
    assert a["state"]["rows"] == a["state"]["candidates"][f"marts__{suffix_a}"]
    assert len(a["state"]["rows"]) == 9
    a_rows = a["state"]["rows"]

    # 2. A rejected input: exit 3 (the same reader and code as on DuckDB), nothing published changes,
    # no candidate of B.
    b = out["B_duplicate"]
    assert b["code"] == 3
    # A failing dbt test (accepted_values of chain_stage): exit 4, B's candidate schemas are dropped.
    b_dbt = out["B_dbt_test"]
    assert b_dbt["code"] == 4
    for b in (out["B_duplicate"], b_dbt):
        assert b["state"]["view_text"] == a["state"]["view_text"] and b["state"]["rows"] == a_rows
        assert set(b["state"]["candidates"]) == {f"marts__{suffix_a}"}
        assert b["state"]["schemas"] == a["state"]["schemas"]

    # 3. The GX gate on Spark blocks a row count that halves: exit 5, nothing changes.
    g = out["C_gate"]
    assert g["code"] == 5
    assert g["state"]["view_text"] == a["state"]["view_text"] and g["state"]["rows"] == a_rows
    assert g["state"]["schemas"] == a["state"]["schemas"]
    assert ["expect_table_row_count_to_be_between", False] in g["gx"], g.get("gx")
    assert "gx" not in a  # nothing published to compare with

    # 4. C switches the view; a reader during the switch saw complete tables only.
    c = out["C"]
    assert c["code"] == 0
    assert c["gx"] and all(success for _, success in c["gx"])  # the GX suite ran on Spark and passed
    suffix_c = suffix_of(c["state"]["view_text"])
    assert suffix_c != suffix_a
    c_rows = c["state"]["candidates"][f"marts__{suffix_c}"]
    assert c["state"]["rows"] == c_rows != a_rows
    assert any("Metal products (renamed)" in row for row in map(tuple, c_rows))
    reads = c["reads"]
    assert reads, "the reader thread read nothing"
    assert all(read in (a_rows, c_rows) for read in reads), [r for r in reads if r not in (a_rows, c_rows)][:2]
    assert set(c["state"]["candidates"]) == {f"marts__{suffix_a}", f"marts__{suffix_c}"}  # previous kept

    # 5. D: A is dropped, C (previous) and D kept.
    d = out["D"]
    assert d["code"] == 0
    suffix_d = suffix_of(d["state"]["view_text"])
    assert set(d["state"]["candidates"]) == {f"marts__{suffix_c}", f"marts__{suffix_d}"}
    assert not any(suffix_a in s for s in d["state"]["schemas"])
    assert d["state"]["rows"] == c_rows
    # 6. Ctrl-C during E's dbt build: exit 130, one line (the last), nothing of E left.
    e = out["E_interrupted"]
    assert e["code"] == 130, e
    assert "Traceback" not in e["stderr"], e["stderr"][-3000:]
    lines = e["stderr"].strip().splitlines()
    assert [line for line in lines if line.startswith("chengyu:")] == lines[-1:], e["stderr"][-3000:]
    assert e["before"] and all(suffix_c in f or suffix_d in f for f in e["before"]), e["before"]
    assert e["after"] == e["before"]  # E's candidate folders were made (the signal waited for one) and dropped
    print(
        f"reads during the switch: {len(reads)} ({sum(r == a_rows for r in reads)} old, "
        f"{sum(r == c_rows for r in reads)} new); build seconds: "
        + ", ".join(f"{k} {v['seconds']:.1f}" for k, v in out.items())
    )


@needs_pyspark
def test_no_java_is_exit_14_with_one_line(tmp_path):
    ws = make_workspace(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    env = dict(ws.env(), PATH=str(bin_dir), CHENGYU_SPARK_DIR=str(tmp_path / "spark"))
    env.pop("JAVA_HOME", None)
    result = subprocess.run(
        ws.command("build", "--target", "spark"), env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 14, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "Java" in result.stderr


@needs_pyspark
def test_held_lock_is_exit_6_with_one_line(tmp_path):
    ws = make_workspace(tmp_path)
    spark_dir = tmp_path / "spark"
    spark_dir.mkdir()
    fd = os.open(spark_dir / "chengyu-build.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.pwrite(fd, b"4242", 0)
        result = subprocess.run(
            ws.command("build", "--target", "spark"),
            capture_output=True,
            text=True,
            env=dict(ws.env(), CHENGYU_SPARK_DIR=str(spark_dir)),
            timeout=300,
        )
    finally:
        os.close(fd)
    if shutil.which("java") is None:
        assert result.returncode == 14  # the Java check comes first
        return
    assert result.returncode == 6, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "pid 4242" in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_spark_only_options_are_refused_for_duckdb(tmp_path):
    ws = make_workspace(tmp_path)
    result = ws.run("build", "--select", "dim_sector")
    assert result.returncode == 2 and "Traceback" not in result.stderr
