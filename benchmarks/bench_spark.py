"""Benchmark: the enterprise-microdata layer on DuckDB and on a local Spark, side by side.

For one size (default 10M invoices, `--size 1M` for a quick check) it
  1. takes the synthetic data set bench_scale.py generates (`chengyu synth`, 50,000 enterprises,
     60 months), from its cache folder when a run with the same arguments made it already
     (bench_scale.cached_generate), otherwise generating it there;
  2. checks it into a fresh store once with the microdata loader (bench_scale.load: the input
     reader, check_microdata into the store, attach into a DuckDB file). Both engines read
     the same checked store files: DuckDB through the loader's raw_microdata views, Spark
     through var `microdata_parquet_files` (docs/spark.md, "Microdata on Spark");
  3. builds the same dbt selection on DuckDB (target dev, dbt-duckdb, memory limit as
     `chengyu build` sets it) in one process, then on Spark (target spark, dbt-spark
     `method: session`, local[2], `python -m chengyu_cluster.pipeline.spark_dbt` semantics: the
     `session` submission method registered first) in another. DuckDB's seeds are in the
     file already (the input reader, step 2); Spark loads the seeds the selection needs with
     `dbt seed` in the same process first (its only way in). With --tests, `dbt test` of the
     selection follows on both;
  4. measures each engine's process tree (Python, dbt, and on Spark the JVM it starts):
     wall time until the last process of the tree has exited, CPU seconds (user + system,
     summed per process from /proc/<pid>/stat, polled every 0.2 s; getrusage of the reaped
     tree is printed beside it as a cross-check, but it missed the JVM in the 10M run), and
     peak memory as the largest sum of the
     resident memory (RSS) of all processes of the tree, polled from /proc every 0.2 s;
  5. counts the rows of every table the build made on each engine (DuckDB from its file,
     Spark from its Parquet files) and prints a side-by-side table with ratios Spark / DuckDB.

Selections (--layer):
  full    the microdata layer as bench_scale.py builds it: its marts and intermediate models
          and everything upstream of them (bench_scale.SELECT);
  ported  what built on Spark before the microdata facts were ported: the microdata staging
          views, int_microdata_enterprise_history, int_microdata_area_map and their upstream.

Usage:
    .venv/bin/python benchmarks/bench_spark.py --size 1M --layer ported    # quick check
    nice -n 5 .venv/bin/python benchmarks/bench_spark.py --data-cache /tmp/incr/cache
Timings vary with the load of the machine (shared with other work): the load average during
each engine's run is printed with the table.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_scale  # noqa: E402  (the generator, its cache and the loader step)
from results_file import recorded

REPO = bench_scale.REPO
PYTHON = sys.executable
LAYERS = {
    "full": list(bench_scale.SELECT),
    "ported": ["+path:models/staging/microdata", "+int_microdata_enterprise_history", "+int_microdata_area_map"],
}
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
TICKS = os.sysconf("SC_CLK_TCK")


# ---- measuring a process tree ---------------------------------------------------------------


def become_subreaper() -> bool:
    """Orphans of our descendants (pyspark's JVM outlives its Python for a moment) are
    re-parented to this process instead of init: they stay measurable and we reap them, so
    their CPU time reaches getrusage(RUSAGE_CHILDREN)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def _proc_table() -> dict[int, tuple[int, str, int, int]]:
    """pid -> (ppid, state, utime + stime ticks, rss KiB) for every process."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command name: state(0) ppid(1) ... utime(11) stime(12) ... rss(21)
        table[int(entry)] = (int(fields[1]), fields[0], int(fields[11]) + int(fields[12]), int(fields[21]) * PAGE_KIB)
    return table


class TreeSampler:
    """Polls /proc: the root's descendants plus every process once seen in the tree that is
    still alive (after re-parenting to us they are no longer the root's descendants)."""

    def __init__(self, root: int, interval: float = 0.2):
        self.root, self.interval = root, interval
        self.seen: set[int] = {root}
        self.cpu_ticks: dict[int, int] = {}
        self.peak_kib = 0
        self.loads: list[float] = []
        self.samples = 0

    def sample(self) -> int:
        """One sample; returns how many processes of the tree are alive."""
        table = _proc_table()
        children: dict[int, list[int]] = {}
        for pid, (ppid, _, _, _) in table.items():
            children.setdefault(ppid, []).append(pid)
        tree, stack = set(), [self.root]
        while stack:
            pid = stack.pop()
            if pid in table and pid not in tree:
                tree.add(pid)
                stack += children.get(pid, [])
        tree |= {pid for pid in self.seen if pid in table}
        self.seen |= tree
        alive = {pid for pid in tree if table[pid][1] not in ("Z", "X")}
        for pid in tree:
            self.cpu_ticks[pid] = max(self.cpu_ticks.get(pid, 0), table[pid][2])
        self.peak_kib = max(self.peak_kib, sum(table[pid][3] for pid in alive))
        self.samples += 1
        return len(alive)

    @property
    def polled_cpu(self) -> float:
        return sum(self.cpu_ticks.values()) / TICKS


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def measured(cmd: list[str], env: dict, out: Path) -> dict:
    """Run a command with its output to `out`; wall, CPU, peak memory and load of its tree."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_before = usage.ru_utime + usage.ru_stime
    load_before = os.getloadavg()
    started = time.perf_counter()
    with out.open("w") as sink:
        proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=sink, stderr=subprocess.STDOUT)
        sampler = TreeSampler(proc.pid)
        stop = threading.Event()

        def loads():
            while not stop.wait(5.0):
                sampler.loads.append(os.getloadavg()[0])

        watcher = threading.Thread(target=loads, daemon=True)
        watcher.start()
        while proc.poll() is None:
            sampler.sample()
            time.sleep(sampler.interval)
        # The root has exited: follow what is left of its tree (the JVM) until it is gone.
        deadline = time.perf_counter() + 120
        while sampler.sample() and time.perf_counter() < deadline:
            _reap()
            time.sleep(sampler.interval)
        _reap()
        stop.set()
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "wall_s": seconds,
        "cpu_s": usage.ru_utime + usage.ru_stime - cpu_before,
        "polled_cpu_s": sampler.polled_cpu,
        "peak_mib": sampler.peak_kib / 1024,
        "returncode": proc.returncode,
        "processes": len(sampler.seen),
        "samples": sampler.samples,
        "load_1min": [load_before[0], *sampler.loads, os.getloadavg()[0]],
    }


# ---- one engine's build -----------------------------------------------------------------------

# Runs in the engine's own process: the dbt invocations one after the other (one JVM for all of
# them on Spark), each one's seconds and run_results kept; on Spark the `session` submission
# method is registered first, as `python -m chengyu_cluster.pipeline.spark_dbt` does.
RUNNER = r"""
import json, sys, time
from pathlib import Path
job = json.loads(sys.argv[1])
if job["spark"]:
    from chengyu_cluster.pipeline.spark_python import register
    register()
from dbt.cli.main import dbtRunner
results = Path(job["target_path"]) / "run_results.json"
for name, args in job["phases"]:
    results.unlink(missing_ok=True)
    started = time.perf_counter()
    outcome = dbtRunner().invoke(args)
    seconds = time.perf_counter() - started
    if results.is_file():
        results.rename(results.with_name(f"run_results_{name}.json"))
    print("PHASE " + json.dumps({"phase": name, "seconds": seconds, "success": outcome.success}), flush=True)
    if not outcome.success:
        sys.exit(1)
if job["spark"]:
    from pyspark.sql import SparkSession
    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()
"""


def build(engine: str, work: Path, select: list[str], dbt_vars: dict, tests: bool, env_extra: dict) -> dict:
    spark = engine == "spark"
    target = work / f"target_{engine}"
    common = [
        "--project-dir",
        str(REPO),
        "--target",
        "spark" if spark else "dev",
        "--target-path",
        str(target),
        "--log-path",
        str(work / f"logs_{engine}"),
        "--vars",
        json.dumps(dbt_vars),
    ]
    phases = []
    if spark:
        phases.append(("seed", ["seed", *common, "--select", *select]))
    phases.append(("run", ["run", *common, "--select", *select]))
    if tests:
        phases.append(("test", ["test", *common, "--select", *select, "--indirect-selection", "cautious"]))
    env = dict(os.environ, DBT_PROFILES_DIR=str(REPO), **env_extra)
    env.pop("DBT_TARGET", None)
    out = work / f"{engine}.out"
    # A file, not `python -c`: pyspark.sql.connect takes a main module without a file for a
    # doctest run (docs/spark.md).
    runner = work / "runner.py"
    runner.write_text(RUNNER, encoding="utf-8")
    print(f"-- {engine}: {' / '.join(name for name, _ in phases)} (output in {out})", flush=True)
    r = measured(
        [PYTHON, str(runner), json.dumps({"spark": spark, "target_path": str(target), "phases": phases})], env, out
    )
    text = out.read_text(errors="replace")
    r["phases"] = {}
    for line in text.splitlines():
        if line.startswith("PHASE "):
            phase = json.loads(line[6:])
            results = target / f"run_results_{phase['phase']}.json"
            if results.is_file():
                data = json.loads(results.read_text())
                phase["dbt_elapsed_s"] = data["elapsed_time"]
                phase["nodes"] = {
                    x["unique_id"]: {"status": x["status"], "s": x["execution_time"]} for x in data["results"]
                }
            r["phases"][phase["phase"]] = phase
    r["failed"] = r["returncode"] != 0 or not all(p["success"] for p in r["phases"].values())
    if r["failed"]:
        # Keep going: the other engine's figures and the loader's are still worth printing.
        print(f"   {engine} build FAILED ({r['returncode']}); last output:\n{text[-6000:]}", flush=True)
    print(
        f"   {engine}: {r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU, peak {r['peak_mib']:,.0f} MiB; "
        + ", ".join(f"{n} {p['seconds']:.1f} s" for n, p in r["phases"].items()),
        flush=True,
    )
    return r


# ---- rows built ----------------------------------------------------------------------------


def tables_built(work: Path, engine: str) -> list[tuple[str, str, str]]:
    """(name, schema, alias) of every model the run phase materialised as a table."""
    target = work / f"target_{engine}"
    manifest = json.loads((target / "manifest.json").read_text())
    ran = json.loads((target / "run_results_run.json").read_text())["results"]
    out = []
    for r in ran:
        node = manifest["nodes"].get(r["unique_id"])
        if node and node["resource_type"] == "model" and node["config"]["materialized"] != "view":
            out.append((node["name"], node["schema"], node["alias"]))
    return sorted(out)


def count_rows(db: Path, spark_dir: Path, tables: list[tuple[str, str, str]]) -> dict[str, tuple]:
    import duckdb

    counts = {}
    con = duckdb.connect(str(db), read_only=True)
    try:
        for name, schema, alias in tables:
            duck = con.execute(f'select count(*) from "{schema}"."{alias}"').fetchone()[0]
            folder = spark_dir / "tables" / f"{schema}.db" / alias
            spark = (
                con.execute(f"select count(*) from read_parquet('{folder}/**/*.parquet')").fetchone()[0]
                if any(folder.rglob("*.parquet"))
                else None
            )
            counts[name] = (duck, spark)
    finally:
        con.close()
    return counts


# ---- main ------------------------------------------------------------------------------------


def store_files(db: Path, store_root: Path) -> dict[str, list[str]]:
    """The loader's checked store files per table, as it recorded them in the DuckDB file
    (relative to the store: resolved here to the files)."""
    import duckdb

    from chengyu_cluster.microdata.store import Store

    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "select distinct table_name, store_file from raw_microdata.partitions order by table_name, store_file"
        ).fetchall()
    finally:
        con.close()
    files: dict[str, list[str]] = {}
    for table, path in rows:
        files.setdefault(table, []).append(str(Store(store_root).resolve(path)))
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="10M", help="invoice count, e.g. 1M or 10M")
    parser.add_argument("--enterprises", type=int, default=50_000)
    parser.add_argument("--months", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--layer", choices=sorted(LAYERS), default="full")
    parser.add_argument("--tests", action="store_true", help="also run `dbt test` of the selection on both")
    parser.add_argument("--memory-limit", default="3GB", help="DuckDB memory limit (as `chengyu build`)")
    parser.add_argument("--driver-memory", default="3g", help="Spark driver heap (local mode: all of Spark's heap)")
    parser.add_argument("--engines", default="duckdb,spark")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/chengyu-bench-spark"))
    parser.add_argument(
        "--data-cache",
        type=Path,
        default=Path("/tmp/chengyu-bench-cache"),
        help="folder of generated data sets (n<size>-e<enterprises>-m<months>-s<seed>/), as "
        "bench_scale.py --data-cache; a missing set is generated there and kept",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder (stores, databases, Spark tables)")
    args = parser.parse_args()
    size = bench_scale.parse_size(args.size)
    engines = args.engines.split(",")
    select = LAYERS[args.layer]
    subreaper = become_subreaper()

    print(
        f"Started {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())} on {platform.node()}: "
        f"{os.cpu_count()} cores, {os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.1f} GiB RAM, "
        f"nice {os.nice(0)}; load average {' / '.join(f'{x:.1f}' for x in os.getloadavg())} "
        f"(the machine is shared with other work)",
        flush=True,
    )
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    print(
        f"commit {commit}; python {platform.python_version()}; "
        f"{subprocess.run(['java', '-version'], capture_output=True, text=True).stderr.splitlines()[0]}; "
        f"child subreaper: {subreaper}",
        flush=True,
    )
    print(f"selection ({args.layer}): --select {' '.join(select)}", flush=True)

    work = args.workdir / f"n{size}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    data = args.data_cache / f"n{size}-e{args.enterprises}-m{args.months}-s{args.seed}"
    gen_s, gen_mib, rows = bench_scale.cached_generate(data, size, args.enterprises, args.months, args.seed)
    print(f"== data {data}: {rows} (generated in {gen_s:.0f} s)", flush=True)

    duck_dir = work / "duckdb"
    duck_dir.mkdir()
    db = duck_dir / "chengyu.duckdb"
    load_s, load_mib, info = bench_scale.load(data, db, work / "store", None, args.memory_limit)
    load_cpu = bench_scale.CPU_SECONDS[f"load:{duck_dir.name}"]
    files = store_files(db, work / "store")
    print(
        f"   loader: {load_s:.1f} s ({info['check_seconds']:.1f} s checks into the store, "
        f"{info['attach_seconds']:.1f} s attach), {load_cpu:.1f} s CPU, peak {load_mib:,.0f} MiB; store files: "
        + ", ".join(f"{t} {len(f)}" for t, f in files.items()),
        flush=True,
    )

    results = {}
    spark_dir = work / "spark"
    if "duckdb" in engines:
        results["duckdb"] = build("duckdb", work, select, {}, args.tests, {"CHENGYU_DBT_DATABASE": str(db)})
    if "spark" in engines:
        spark_env = {
            "CHENGYU_SPARK_DIR": str(spark_dir),
            "CHENGYU_SPARK_DRIVER_MEMORY": args.driver_memory,
            "SPARK_LOCAL_IP": "127.0.0.1",
        }
        results["spark"] = build("spark", work, select, {"microdata_parquet_files": files}, args.tests, spark_env)
    counts = {}
    if set(engines) == {"duckdb", "spark"} and not any(r["failed"] for r in results.values()):
        counts = count_rows(db, spark_dir, tables_built(work, "duckdb"))

    report(args, size, rows, (load_s, load_cpu, load_mib, info), results, counts)
    (args.workdir / f"results_n{size}.json").write_text(
        json.dumps(
            {"size": size, "rows": rows, "loader": [load_s, load_cpu, load_mib], "results": results, "counts": counts},
            default=str,
        )
    )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def ratio(a: float | None, b: float | None) -> str:
    return f"{b / a:.2f}" if a and b is not None else "–"


def report(args, size: int, rows: dict, loader: tuple, results: dict, counts: dict) -> None:
    load_s, load_cpu, load_mib, info = loader
    duck, spark = results.get("duckdb"), results.get("spark")
    print(
        f"\nMeasured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"{subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}"
    )
    print(
        f"\nMicrodata layer ({args.layer}), {rows['supply_invoices']:,} invoice lines, "
        f"{rows['enterprise_month']:,} monthly reports, {rows['enterprises']:,} register rows; "
        f"DuckDB memory limit {args.memory_limit} (2 dbt threads); Spark local[2], driver memory "
        f"{args.driver_memory}, 1 dbt thread, shuffle partitions 2 (profiles.yml); {os.cpu_count()} cores; "
        f"run under nice {os.nice(0)} on a machine shared with other work."
    )
    print(
        f"Loader, once for both engines (input reader, checks into the store, DuckDB views): "
        f"{load_s:.1f} s wall ({info['check_seconds']:.1f} s checks), {load_cpu:.1f} s CPU, "
        f"peak {load_mib:,.0f} MiB\n"
    )

    def get(r, key):
        return r[key] if r else None

    def phase(r, name, key="seconds"):
        return r["phases"].get(name, {}).get(key) if r else None

    def fmt(x, spec="{:,.1f}"):
        return "–" if x is None else spec.format(x)

    lines = [
        ("whole process, wall s (JVM start and exit included)", get(duck, "wall_s"), get(spark, "wall_s")),
        (
            "whole process, CPU s (user + system) polled from /proc, every process of the tree",
            get(duck, "polled_cpu_s"),
            get(spark, "polled_cpu_s"),
        ),
        # Cross-check only: in the 10M run of 2026-11-29 it missed the JVM (33.8 s against
        # 1,045.5 s polled), whose exit status went to no process that counted it here.
        ("whole process, CPU s from getrusage (misses the JVM on Spark)", get(duck, "cpu_s"), get(spark, "cpu_s")),
        ("peak MiB (RSS sum of the process tree)", get(duck, "peak_mib"), get(spark, "peak_mib")),
        ("dbt seed s (Spark only: the seeds the selection needs)", None, phase(spark, "seed")),
        ("dbt run s (parse, hooks, models)", phase(duck, "run"), phase(spark, "run")),
        (
            "dbt run, dbt's elapsed s (first to last node)",
            phase(duck, "run", "dbt_elapsed_s"),
            phase(spark, "run", "dbt_elapsed_s"),
        ),
    ]
    if args.tests:
        lines += [
            ("dbt test s", phase(duck, "test"), phase(spark, "test")),
            ("dbt test, dbt's elapsed s", phase(duck, "test", "dbt_elapsed_s"), phase(spark, "test", "dbt_elapsed_s")),
        ]
    for name, r in (("DuckDB", duck), ("Spark", spark)):
        if r and r["failed"]:
            print(f"{name}: the build FAILED (see above); its figures below are those of a failed run.")
    print("| measure | DuckDB | Spark local[2] | Spark ÷ DuckDB |")
    print("|---|---:|---:|---:|")
    for label, a, b in lines:
        print(
            f"| {label} | {fmt(a, '{:,.0f}' if 'MiB' in label else '{:,.1f}')} "
            f"| {fmt(b, '{:,.0f}' if 'MiB' in label else '{:,.1f}')} | {ratio(a, b)} |"
        )
    for name, r in (("DuckDB", duck), ("Spark", spark)):
        if r:
            ld = r["load_1min"]
            print(
                f"load average (1 min) during the {name} run: min {min(ld):.1f}, mean {sum(ld) / len(ld):.1f}, "
                f"max {max(ld):.1f} ({len(ld)} readings); {r['processes']} processes in its tree"
            )

    print("\nSeconds per model (dbt run, execution time), largest on DuckDB first:")
    print("| model | DuckDB s | Spark s | Spark ÷ DuckDB | rows DuckDB | rows Spark |")
    print("|---|---:|---:|---:|---:|---:|")
    dn = phase(duck, "run", "nodes") or {}
    sn = phase(spark, "run", "nodes") or {}
    for uid in sorted(set(dn) | set(sn), key=lambda u: -(dn.get(u, {}).get("s") or 0)):
        name = uid.split(".")[-1]
        a, b = dn.get(uid, {}).get("s"), sn.get(uid, {}).get("s")
        rd, rs = counts.get(name, (None, None))
        print(f"| {name} | {fmt(a)} | {fmt(b)} | {ratio(a, b)} | {fmt(rd, '{:,}')} | {fmt(rs, '{:,}')} |")
    if counts:
        differ = {name: c for name, c in counts.items() if c[0] != c[1]}
        print(
            f"\nTables built: {len(counts)}, rows in all {sum(c[0] for c in counts.values()):,} on DuckDB; "
            + (
                "the same row count on Spark for every table."
                if not differ
                else f"row counts differ on Spark: {differ}"
            )
        )
    if args.tests:
        for name, r in (("DuckDB", duck), ("Spark", spark)):
            nodes = phase(r, "test", "nodes") or {}
            statuses = {}
            for n in nodes.values():
                statuses[n["status"]] = statuses.get(n["status"], 0) + 1
            print(f"dbt test on {name}: {statuses}")


if __name__ == "__main__":
    with recorded(__file__):
        sys.exit(main())
