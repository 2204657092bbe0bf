"""Benchmark: the enterprise-microdata layer at 1M / 10M / 100M invoices.

For each size it
  1. generates a synthetic data set (`chengyu synth`, 50,000 enterprises, 60 months: about
     3 million monthly reports), and splits off the last month (the last delivery of
     invoices and the last monthly report file) to measure adding one month;
  2. loads the data set without its last month the way `chengyu build --microdata` does
     (input reader for the seeds, microdata checks and store, raw_microdata views) into a
     fresh DuckDB file, and builds the microdata layer with ONE `dbt build` (models and their
     tests, as `chengyu build` does: dbt starts and parses once);
  3. runs the very SQL dbt ran (target/compiled, same order, same materialisations) as one
     raw DuckDB script on a copy of the loaded file, with the same memory limit: the
     overhead of dbt is the ratio of the two; then, apart, the data tests of the same build
     (a count of each one's failing rows), since the dbt build ran them too;
  4. adds the last month: loads the full data set into another file, carrying the facts
     over from step 2 as a build does from the published version, and runs the layer
     incrementally (one `dbt build`: the models, then the tests of the rebuilt months; dbt
     parses partially from step 2's saved state, as a second `chengyu build` in the same
     project does: no vars, the same candidate path);
  5. with --end-to-end, also runs a whole `chengyu build --microdata` (every model of the
     project, the tests, the quality gate, publishing) and then the one with the added month.

DuckDB runs with a memory limit (default 3GB, as `chengyu build` sets it) and a spill folder
in the work directory. Peak memory is the largest sum of the resident memory of the process
and all its children, sampled every 0.2 s (the DuckDB of the loader and the one of dbt never
run at the same time, but a build's own process stays alive while dbt runs).

Usage:
    .venv/bin/python benchmarks/bench_scale.py                      # 1M and 10M
    .venv/bin/python benchmarks/bench_scale.py --sizes 1M,10M,100M --end-to-end
Timings vary with the load of the machine; the load average is printed with the table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from results_file import recorded

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
DBT = str(Path(sys.executable).with_name("dbt"))
CHENGYU = str(Path(sys.executable).with_name("chengyu"))
SELECT = ["+path:models/marts/microdata", "+path:models/intermediate/microdata"]
CANDIDATE = "candidate.duckdb"  # the one path dbt builds at (in the size's work folder)


# ---- measuring ----------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    found.append(int(entry))
            except OSError:
                continue
    return found


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree_rss_kib(pid: int) -> int:
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        total += _rss_kib(p)
        stack += _children(p)
    return total


CPU_SECONDS: dict[str, float] = {}  # per label: user + system CPU of the command and its children


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(
    cmd: list[str], env: dict | None = None, cwd: Path = REPO, label: str | None = None
) -> tuple[float, float, str]:
    """Run a command (see _run_once); once more if something outside stopped it with SIGTERM or
    SIGKILL (on a shared machine other sessions' clean-ups have done so)."""
    for _attempt in range(3):
        try:
            return _run_once(cmd, env, cwd, label)
        except Killed as exc:
            print(f"   (stopped from outside by signal {exc.signal}; running it again)", flush=True)
    return _run_once(cmd, env, cwd, label)


class Killed(Exception):
    def __init__(self, signal: int):
        super().__init__(signal)
        self.signal = signal


def _run_once(cmd: list[str], env: dict | None, cwd: Path, label: str | None) -> tuple[float, float, str]:
    """Run a command; return (seconds, peak MiB of its process tree, output).

    The CPU seconds it used (user + system, its children included) go to CPU_SECONDS[label]:
    on a machine shared with other work they vary less than the wall time.
    """
    cpu_before = _children_cpu()
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = [0]

    def sample():
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss_kib(proc.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output = proc.communicate()[0]
    sampler.join()
    seconds = time.perf_counter() - started
    if label:
        CPU_SECONDS[label] = _children_cpu() - cpu_before
    if proc.returncode in (-15, -9, 143, 137):
        raise Killed(-proc.returncode if proc.returncode < 0 else proc.returncode - 128)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{output[-4000:]}")
    return seconds, peak[0] / 1024, output


# ---- steps -------------------------------------------------------------------------------

LOAD = r"""
import json, sys, time
from pathlib import Path
import duckdb
from chengyu_cluster.inputs.reader import Findings, load_inputs, read_inputs
from chengyu_cluster.microdata.checks import check_microdata
from chengyu_cluster.microdata.load import attach
from chengyu_cluster.microdata.store import Store
project, data, db, store, previous, memory = sys.argv[1:7]
accepted = read_inputs(Path(project))
assert accepted.ok, accepted.findings.lines()
t = time.perf_counter()
micro = check_microdata(Path(project), Path(data), accepted.findings, Store(Path(store)), memory)
assert micro is not None, "\n".join(accepted.findings.lines())
checked = time.perf_counter() - t
con = duckdb.connect(db)
load_inputs(con, accepted)
t = time.perf_counter()
attach(con, micro, Path(project), Path(db).stem + str(time.time_ns()), Path(previous) if previous else None,
       [f.sha256 for f in accepted.files if f.kind == "seed"], False, 3, memory)
con.close()
print(json.dumps({"check_seconds": checked, "attach_seconds": time.perf_counter() - t,
                  "plan": micro.state["plan"], "new_files": sum(not f.reused for f in micro.files)}))
"""


def load(data: Path, db: Path, store: Path, previous: Path | None, memory: str) -> tuple[float, float, dict]:
    seconds, peak, output = run(
        [PYTHON, "-c", LOAD, str(REPO), str(data), str(db), str(store), str(previous or ""), memory],
        label=f"load:{db.parent.name}",
    )
    return seconds, peak, json.loads(output.strip().splitlines()[-1])


def dbt(db: Path, target: Path, parsed_in: Path | None = None) -> tuple[float, float, float, float]:
    """One `dbt build` of the layer (its models and their tests); returns (wall seconds, peak
    MiB, dbt's own elapsed seconds, the models' seconds).

    The wall time includes starting Python and parsing the project, which does not grow with
    the data: a full parse in a fresh target path; with `parsed_in` (the target path of an
    earlier build) a partial parse from that build's saved state, as a `chengyu build` in the
    same project (target/ is kept, the candidate's path and the vars stay the same). dbt always
    runs on the same file path (CANDIDATE: `db` is moved there and back), since the profile holds
    it and another path makes dbt parse everything again. dbt's elapsed time is from its first to
    its last node; the models' seconds are the sum of their execution times (one dbt thread),
    which the raw DuckDB script is compared with."""
    candidate = db.parents[1] / CANDIDATE
    env = dict(os.environ, CHENGYU_DBT_DATABASE=str(candidate), DBT_PROFILES_DIR=str(REPO))
    target.mkdir(parents=True, exist_ok=True)
    if parsed_in is not None:
        shutil.copy2(parsed_in / "partial_parse.msgpack", target / "partial_parse.msgpack")
    db.rename(candidate)
    try:
        seconds, peak, _ = _dbt_build(env, target)
    finally:
        candidate.rename(db)
    elapsed = json.loads((target / "run_results.json").read_text())["elapsed_time"]
    return seconds, peak, elapsed, sum(model_seconds(target).values())


def _dbt_build(env: dict, target: Path) -> tuple[float, float, str]:
    return run(
        [
            DBT,
            "build",
            "--quiet",
            "--project-dir",
            str(REPO),
            "--target",
            "dev",
            "--target-path",
            str(target),
            "--select",
            *SELECT,
            "--indirect-selection",
            "cautious",
        ],
        env=env,
        label=f"dbt build:{target.name}",
    )


def test_seconds(target: Path) -> float:
    """Sum of the execution times of the data tests of a dbt run."""
    results = json.loads((target / "run_results.json").read_text())["results"]
    return sum(r["execution_time"] for r in results if r["unique_id"].startswith("test."))


def model_seconds(target: Path) -> dict[str, float]:
    """Seconds per model of a dbt run (its execution time in run_results.json)."""
    results = json.loads((target / "run_results.json").read_text())["results"]
    return {r["unique_id"].split(".")[-1]: r["execution_time"] for r in results if r["unique_id"].startswith("model.")}


RAW = r"""
import json, sys, time
import duckdb
db, script, memory, spill = sys.argv[1:5]
statements = json.load(open(script))
con = duckdb.connect(db, config={"memory_limit": memory, "temp_directory": spill})
t = time.perf_counter()
for statement in statements:
    con.execute(statement)
con.close()
print(time.perf_counter() - t)
"""


def raw_script(target: Path) -> list[str]:
    """The layer's models as dbt compiled them, in dependency order, as plain DDL."""
    manifest = json.loads((target / "manifest.json").read_text())
    results = json.loads((target / "run_results.json").read_text())
    ran = {r["unique_id"] for r in results["results"] if r["unique_id"].startswith("model.")}
    nodes = {uid: manifest["nodes"][uid] for uid in ran}
    order, done = [], set()

    def visit(uid):
        if uid in done or uid not in nodes:
            return
        for parent in nodes[uid]["depends_on"]["nodes"]:
            visit(parent)
        done.add(uid)
        order.append(uid)

    for uid in sorted(nodes):
        visit(uid)
    statements = []
    for uid in order:
        node = nodes[uid]
        sql = (target / "compiled" / node["package_name"] / node["original_file_path"]).read_text()
        kind = "view" if node["config"]["materialized"] == "view" else "table"
        statements.append(f"create schema if not exists {node['schema']}")
        statements.append(f"create or replace {kind} {node['schema']}.{node['alias']} as {sql}")
    return statements


def raw_tests(target: Path) -> list[str]:
    """The data tests of the same `dbt build`, as dbt compiled them: a count of each one's failing
    rows (what dbt asks of a test), to run after the models on the raw script's file."""
    results = json.loads((target / "run_results.json").read_text())["results"]
    return [
        f"select count(*) from ({r['compiled_code']}) as failing"
        for r in results
        if r["unique_id"].startswith("test.") and r.get("compiled_code")
    ]


def raw(db: Path, statements: list[str], memory: str, spill: Path, label: str = "raw") -> tuple[float, float]:
    script = db.parent / f"{label.replace(' ', '_')}_script.json"
    script.write_text(json.dumps(statements))
    seconds, peak, output = run([PYTHON, "-c", RAW, str(db), str(script), memory, str(spill)], label=label)
    return float(output.strip().splitlines()[-1]), peak


def generate(out: Path, invoices: int, enterprises: int, months: int, seed: int) -> tuple[float, float, dict]:
    seconds, peak, output = run(
        [
            CHENGYU,
            "--project-dir",
            str(REPO),
            "synth",
            "--enterprises",
            str(enterprises),
            "--months",
            str(months),
            "--invoices",
            str(invoices),
            "--seed",
            str(seed),
            "--out",
            str(out),
        ]
    )
    return seconds, peak, json.loads((out / "SYNTHETIC.json").read_text())["rows"]


def cached_generate(out: Path, invoices: int, enterprises: int, months: int, seed: int) -> tuple[float, float, dict]:
    """generate(), or the data set a run with the same arguments generated into `out` before
    (with the seconds and peak it took then, from bench_generate.json)."""
    record = out / "bench_generate.json"
    if record.is_file():
        saved = json.loads(record.read_text())
        return saved["seconds"], saved["peak_mib"], json.loads((out / "SYNTHETIC.json").read_text())["rows"]
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    seconds, peak, rows = generate(out, invoices, enterprises, months, seed)
    record.write_text(json.dumps({"seconds": seconds, "peak_mib": peak}))
    return seconds, peak, rows


def split_last_month(full: Path, base: Path) -> None:
    """base = full without its last delivery and last report file (hard links, no copies)."""
    deliveries = sorted((full / "supply_invoices").glob("*.parquet"))
    reports = sorted((full / "enterprise_month").glob("*.parquet"))
    for path in full.rglob("*.parquet"):
        if path in (deliveries[-1], reports[-1]):
            continue
        target = base / path.relative_to(full)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(path, target)


def end_to_end(data: Path, warehouse: Path, memory: str, extra: list[str] = ()) -> tuple[float, float, str]:
    env = dict(
        os.environ,
        CHENGYU_WAREHOUSE=str(warehouse / "chengyu.duckdb"),
        CHENGYU_MEMORY_LIMIT=memory,
        CHENGYU_REPORTS=str(warehouse.parent / "reports"),
    )
    return run(
        [CHENGYU, "--project-dir", str(REPO), "build", "--microdata", str(data), *extra],
        env=env,
        label=f"build:{data.name}",
    )


# ---- the table -------------------------------------------------------------------------------


def parse_size(text: str) -> int:
    text = text.strip().upper()
    factor = {"K": 10**3, "M": 10**6, "G": 10**9}.get(text[-1], 1)
    return int(float(text.rstrip("KMG")) * factor)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1M,10M", help="invoice counts, e.g. 1M,10M,100M")
    parser.add_argument("--enterprises", type=int, default=50_000)
    parser.add_argument("--months", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--memory-limit", default="3GB")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/chengyu-bench-scale"))
    parser.add_argument("--end-to-end", action="store_true", help="also time whole `chengyu build --microdata` runs")
    parser.add_argument("--keep", action="store_true", help="keep the generated data and databases")
    parser.add_argument(
        "--data-cache",
        type=Path,
        default=None,
        help="folder of data sets generated before with the same arguments (n<size>/), reused "
        "instead of generating again (deterministic: the same files); missing ones are "
        "generated there and kept. The generate columns then show the earlier run's figures.",
    )
    args = parser.parse_args()

    results = []
    for size in [parse_size(s) for s in args.sizes.split(",")]:
        work = args.workdir / f"n{size}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        spill = work / "spill"
        spill.mkdir()
        r = {"invoices": size}
        print(f"== {size:,} invoices", flush=True)
        full, base = work / "data_full", work / "data_base"
        if args.data_cache is not None:
            full = args.data_cache / f"n{size}-e{args.enterprises}-m{args.months}-s{args.seed}"
            r["gen_s"], r["gen_mib"], rows = cached_generate(full, size, args.enterprises, args.months, args.seed)
        else:
            r["gen_s"], r["gen_mib"], rows = generate(full, size, args.enterprises, args.months, args.seed)
        r["rows"] = rows["supply_invoices"]
        r["reports"] = rows["enterprise_month"]
        split_last_month(full, base)
        print(f"   generated {rows} in {r['gen_s']:.1f} s", flush=True)

        layer = work / "layer"
        layer.mkdir()
        db = layer / "chengyu.duckdb"
        r["load_s"], r["load_mib"], info = load(base, db, work / "store", None, args.memory_limit)
        r["check_s"] = info["check_seconds"]
        raw_dir = work / "raw"
        raw_dir.mkdir()
        # Named as the file dbt built: its compiled SQL names the database (the file's stem).
        raw_db = raw_dir / CANDIDATE
        shutil.copy2(db, raw_db)
        r["dbt_s"], r["dbt_mib"], r["dbt_elapsed"], r["dbt_models_s"] = dbt(db, work / "target_full")
        print(
            f"   load {r['load_s']:.1f} s (checks {r['check_s']:.1f} s), dbt build {r['dbt_s']:.1f} s "
            f"({r['dbt_elapsed']:.1f} s from first to last node, models {r['dbt_models_s']:.1f} s)",
            flush=True,
        )
        r["models_full"] = model_seconds(work / "target_full")
        r["tests_full_s"] = test_seconds(work / "target_full")
        # The raw script right beside the dbt step (the same machine load): it reads its own copy of
        # the loaded file, taken before dbt ran.
        r["raw_s"], r["raw_mib"] = raw(raw_db, raw_script(work / "target_full"), args.memory_limit, spill)
        # dbt build also ran the data tests: the same tests on the raw file after its models, apart,
        # so that the models-only figures stay comparable with earlier runs.
        tests = raw_tests(work / "target_full")
        r["raw_tests_s"], _ = raw(raw_db, tests, args.memory_limit, spill, "raw tests")
        print(
            f"   same SQL as one raw DuckDB script: {r['raw_s']:.1f} s; then the same tests: {r['raw_tests_s']:.1f} s",
            flush=True,
        )
        save_partial(args.workdir, r)

        plus = work / "layer_plus"
        plus.mkdir()
        r["inc_load_s"], r["inc_load_mib"], inc = load(
            full, plus / "chengyu.duckdb", work / "store", db, args.memory_limit
        )
        r["inc_plan"] = inc["plan"]
        # The tests in the same build, as `chengyu build` runs them: those with meta
        # microdata_rebuilt_months read the rebuilt months only (the project's get_where_subquery).
        r["inc_dbt_s"], r["inc_dbt_mib"], r["inc_dbt_elapsed"], r["inc_dbt_models_s"] = dbt(
            plus / "chengyu.duckdb", work / "target_inc", parsed_in=work / "target_full"
        )
        r["models_inc"] = model_seconds(work / "target_inc")
        r["tests_inc_s"] = test_seconds(work / "target_inc")
        print(
            f"   + one month: load {r['inc_load_s']:.1f} s, dbt build {r['inc_dbt_s']:.1f} s ({inc['plan']})",
            flush=True,
        )
        print(
            "   seconds per model (full | + one month): "
            + ", ".join(
                f"{name} {seconds:.1f} | {r['models_inc'].get(name, 0):.1f}"
                for name, seconds in sorted(r["models_full"].items(), key=lambda item: -item[1])
            ),
            flush=True,
        )
        save_partial(args.workdir, r)

        r["cpu"] = dict(CPU_SECONDS)
        if args.end_to_end:
            warehouse = work / "warehouse"
            warehouse.mkdir()
            r["e2e_s"], r["e2e_mib"], _ = end_to_end(base, warehouse, args.memory_limit)
            r["e2e_inc_s"], r["e2e_inc_mib"], out = end_to_end(full, warehouse, args.memory_limit)
            print(f"   chengyu build: {r['e2e_s']:.1f} s, + one month {r['e2e_inc_s']:.1f} s", flush=True)
        results.append(r)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    print_table(results, args)
    return 0


def save_partial(workdir: Path, r: dict) -> None:
    """The figures of a size so far (a run stopped early keeps them)."""
    r["cpu"] = dict(CPU_SECONDS)
    (workdir / f"partial_n{r['invoices']}.json").write_text(json.dumps(r))


def layer_cpu(c: dict) -> float:
    return c["load:layer"] + c["dbt build:target_full"]


def inc_cpu(c: dict) -> float:
    return c["load:layer_plus"] + c["dbt build:target_inc"]


def print_table(results: list[dict], args) -> None:
    load1, load5, load15 = os.getloadavg()
    print(
        f"\nMeasured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; uptime at the end: "
        f"{subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}"
    )
    print(
        f"\nMicrodata layer, {args.enterprises:,} enterprises, {args.months} months, DuckDB memory limit "
        f"{args.memory_limit}, {os.cpu_count()} cores; "
        f"load average at the end {load1:.1f} / {load5:.1f} / {load15:.1f}"
    )
    header = (
        "| invoices | generate s | generate rows/s | load+checks s | dbt build s (models only) | raw DuckDB s "
        "| dbt build / raw (models only) | raw tests s | dbt build / raw models+tests | layer s | layer rows/s "
        "| layer µs/invoice | peak MiB | +1 month s | +1 month / layer |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    previous = None
    for r in results:
        layer = r["load_s"] + r["dbt_s"]
        per = layer / r["rows"] * 1e6
        growth = f" ({per / previous - 1:+.0%})" if previous else ""
        previous = per
        inc = r["inc_load_s"] + r["inc_dbt_s"]
        peak = max(r["load_mib"], r["dbt_mib"], r["inc_load_mib"], r["inc_dbt_mib"])
        print(
            f"| {r['rows']:,} | {r['gen_s']:.0f} | {r['rows'] / r['gen_s']:,.0f} | {r['load_s']:.1f} "
            f"| {r['dbt_s']:.1f} ({r['dbt_models_s']:.1f}) | {r['raw_s']:.1f} "
            f"| {r['dbt_s'] / r['raw_s']:.2f} ({r['dbt_models_s'] / r['raw_s']:.2f}) "
            f"| {r['raw_tests_s']:.1f} | {r['dbt_s'] / (r['raw_s'] + r['raw_tests_s']):.2f} "
            f"| {layer:.1f} | {r['rows'] / layer:,.0f} | {per:.2f}{growth} | {peak:,.0f} "
            f"| {inc:.1f} | {inc / layer:.0%} |"
        )
    print("\nCPU seconds (user + system, all processes of the step; less sensitive to other work on the machine):")
    print(
        "| invoices | load+checks | dbt build | raw DuckDB | dbt build / raw | raw tests "
        "| dbt build / raw models+tests | +1 month load | +1 month dbt build | +1 month / layer |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        c = r["cpu"]
        print(
            f"| {r['rows']:,} | {c['load:layer']:.1f} | {c['dbt build:target_full']:.1f} | {c['raw']:.1f} "
            f"| {c['dbt build:target_full'] / c['raw']:.2f} | {c['raw tests']:.1f} "
            f"| {c['dbt build:target_full'] / (c['raw'] + c['raw tests']):.2f} "
            f"| {c['load:layer_plus']:.1f} | {c['dbt build:target_inc']:.1f} "
            f"| {inc_cpu(c) / layer_cpu(c):.0%} |"
        )
    print("\nSeconds per model (dbt build: full layer | adding one month), largest first:")
    for r in results:
        print(f"{r['rows']:,} invoices:")
        for name, seconds in sorted(r["models_full"].items(), key=lambda item: -item[1]):
            print(f"   {name:45s} {seconds:7.1f} | {r['models_inc'].get(name, 0):7.1f}")
        print(f"   {'(data tests, sum of their times)':45s} {r['tests_full_s']:7.1f} | {r['tests_inc_s']:7.1f}")
        print(
            f"   {'(dbt start, parse, hooks: wall - elapsed)':45s} {r['dbt_s'] - r['dbt_elapsed']:7.1f} "
            f"| {r['inc_dbt_s'] - r['inc_dbt_elapsed']:7.1f}"
        )
    print("\n" + json.dumps(results))
    if any("e2e_s" in r for r in results):
        print("\nWhole `chengyu build --microdata` (every model of the project, tests, quality gate, publish):")
        print("| invoices | build s | peak MiB (process tree) | + one month s | + one month / build |")
        print("|---|---|---|---|---|")
        for r in results:
            if "e2e_s" in r:
                print(
                    f"| {r['rows']:,} | {r['e2e_s']:.1f} | {max(r['e2e_mib'], r['e2e_inc_mib']):,.0f} "
                    f"| {r['e2e_inc_s']:.1f} | {r['e2e_inc_s'] / r['e2e_s']:.0%} |"
                )


if __name__ == "__main__":
    with recorded(__file__):
        sys.exit(main())
