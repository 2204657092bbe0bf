"""Build benchmark: wall time per stage and peak memory of `chengyu build`, side by side
with dbt-labs' jaffle_shop_duckdb (`dbt build`) on the same machine in the same run.

    .venv/bin/python benchmarks/bench_build.py [--runs N] [--jaffle-shop PATH] [--baseline DIR]

Each project is copied once and built once to warm up (dbt's partial-parse state, the
file cache; not counted), then rebuilt N times, as a developer does. The two projects
alternate (A B A B) so that both see the same machine load; the figures are the medians
of wall and CPU seconds (user + system of the build's processes). Figures, not assertions:
compare them between commits, on a quiet machine.

jaffle_shop_duckdb is not part of this repository (never commit it): bring a copy with
the search tool's `fetch github:dbt-labs/jaffle_shop_duckdb`, or `git clone` it, and pass
its folder (a checkout, or a git directory); without it only chengyu is measured.

--baseline DIR builds a second checkout of this project (e.g. /work/main) in the same
alternation, with that checkout's own .venv, so that a change is compared under the same load.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IGNORED = shutil.ignore_patterns(
    ".git", ".venv", "warehouse", "target", "logs", "reports", "__pycache__", "*.egg-info", ".pytest_cache"
)
JAFFLE_DEFAULT = Path("/work/.mirror/dbt-labs+jaffle_shop_duckdb/repo")


def cpu_seconds() -> float:
    """User + system seconds of every finished child process so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def chengyu_build(
    project: Path, warehouse: Path, python: str = sys.executable
) -> tuple[float, float, dict[str, float]]:
    env = dict(
        os.environ,
        CHENGYU_WAREHOUSE=str(warehouse / "chengyu.duckdb"),
        CHENGYU_REPORTS=str(project / "reports"),
        DBT_PROFILES_DIR=str(project),
    )
    started, cpu = time.perf_counter(), cpu_seconds()
    result = subprocess.run(
        [python, "-m", "chengyu_cluster.cli", "--project-dir", str(project), "build"],
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(result.stdout + result.stderr)
    line = next(ln for ln in result.stdout.splitlines() if ln.strip().startswith("time:"))
    stages = {name.strip(): float(secs) for name, secs in re.findall(r"([a-z ]+) ([0-9.]+) s", line)}
    return wall, cpu_seconds() - cpu, stages


def jaffle_build(project: Path) -> tuple[float, float]:
    dbt = Path(sys.executable).parent / "dbt"
    started, cpu = time.perf_counter(), cpu_seconds()
    result = subprocess.run(
        [str(dbt), "build", "--quiet", "--project-dir", str(project), "--profiles-dir", str(project)],
        cwd=project,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("DBT_")},
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit("jaffle_shop_duckdb failed:\n" + result.stdout + result.stderr)
    return wall, cpu_seconds() - cpu


def export_jaffle(source: Path, into: Path) -> Path:
    """A fresh copy of jaffle_shop_duckdb's tracked files, from a checkout or a git directory."""
    git_dir = source / ".git" if (source / ".git").exists() else source
    into.mkdir()
    archive = subprocess.run(["git", "--git-dir", str(git_dir), "archive", "HEAD"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="measured builds of each project, after a warm-up")
    parser.add_argument(
        "--jaffle-shop",
        type=Path,
        default=JAFFLE_DEFAULT if JAFFLE_DEFAULT.exists() else None,
        help="a copy of dbt-labs/jaffle_shop_duckdb (a checkout or its git directory)",
    )
    parser.add_argument(
        "--baseline", type=Path, help="another checkout of this project (with its .venv), built in the same alternation"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chengyu-bench-") as tmp:
        project = Path(tmp) / "repo"
        shutil.copytree(REPO, project, ignore=IGNORED)
        warehouse = Path(tmp) / "warehouse"
        warehouse.mkdir()
        jaffle = export_jaffle(args.jaffle_shop, Path(tmp) / "jaffle") if args.jaffle_shop else None
        baseline = copy_baseline(args.baseline, Path(tmp)) if args.baseline else None
        warm = f"warm-up (not counted): chengyu {chengyu_build(project, warehouse)[0]:.1f} s"
        if baseline:
            warm += f" | baseline {chengyu_build(*baseline)[0]:.1f} s"
        if jaffle:
            warm += f" | jaffle_shop_duckdb {jaffle_build(jaffle)[0]:.1f} s"
        print(warm, flush=True)
        walls, cpus, jaffle_walls, jaffle_cpus, base_walls, base_cpus = [], [], [], [], [], []
        for run in range(args.runs):
            wall, cpu, stages = chengyu_build(project, warehouse)
            walls.append(wall)
            cpus.append(cpu)
            line = (
                f"pair {run + 1}: chengyu wall {wall:5.1f} s, CPU {cpu:5.1f} s "
                f"({', '.join(f'{k} {v:.1f} s' for k, v in stages.items())})"
            )
            if baseline:
                b_wall, b_cpu, _ = chengyu_build(*baseline)
                base_walls.append(b_wall)
                base_cpus.append(b_cpu)
                line += f" | baseline wall {b_wall:5.1f} s, CPU {b_cpu:5.1f} s"
            if jaffle:
                j_wall, j_cpu = jaffle_build(jaffle)
                jaffle_walls.append(j_wall)
                jaffle_cpus.append(j_cpu)
                line += f" | jaffle_shop_duckdb wall {j_wall:4.1f} s, CPU {j_cpu:4.1f} s | ratio {wall / j_wall:.2f}"
            print(line, flush=True)
        # ru_maxrss of children: the largest resident set of any finished child, in KiB.
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        median, median_cpu = statistics.median(walls), statistics.median(cpus)
        summary = f"median chengyu build {median:.1f} s wall, {median_cpu:.1f} s CPU over {args.runs} runs"
        if jaffle_walls:
            j, j_cpu = statistics.median(jaffle_walls), statistics.median(jaffle_cpus)
            summary += (
                f"; median jaffle_shop_duckdb dbt build {j:.1f} s wall, {j_cpu:.1f} s CPU; "
                f"ratio of medians {median / j:.2f} wall, {median_cpu / j_cpu:.2f} CPU"
            )
        if base_walls:
            summary += (
                f"; median baseline {statistics.median(base_walls):.1f} s wall, "
                f"{statistics.median(base_cpus):.1f} s CPU"
            )
        print(summary)
        print(f"load average at the end: {' / '.join(f'{x:.1f}' for x in os.getloadavg())}")
        size = (warehouse / "chengyu.duckdb").stat().st_size
        print(f"peak child RSS {peak:.0f} MiB; published file {size / 2**20:.1f} MiB")
        print(f"dbt nodes of the last build: {node_counts(project / 'target' / 'run_results.json')}")


def copy_baseline(checkout: Path, tmp: Path) -> tuple[Path, Path, str]:
    """The baseline checkout's project copy, its warehouse folder and its own Python."""
    project, warehouse = tmp / "baseline" / "repo", tmp / "baseline" / "warehouse"
    shutil.copytree(checkout, project, ignore=IGNORED)
    warehouse.mkdir()
    return project, warehouse, str(checkout.resolve() / ".venv" / "bin" / "python")


def node_counts(run_results: Path) -> str:
    """dbt's nodes by kind and their summed execution time, from the build's run_results.json."""
    import json
    from collections import Counter

    counts, seconds = Counter(), Counter()
    for node in json.loads(run_results.read_text(encoding="utf-8"))["results"]:
        kind = node["unique_id"].split(".")[0]
        counts[kind] += 1
        seconds[kind] += node["execution_time"]
    return ", ".join(f"{kind} {n} ({seconds[kind]:.1f} s)" for kind, n in counts.most_common())


if __name__ == "__main__":
    main()
