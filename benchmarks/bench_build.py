"""Build benchmark: wall time per stage and peak memory of `chengyu build`, side by side
with dbt-labs' jaffle_shop_duckdb (`dbt build`) on the same machine in the same run.

    .venv/bin/python benchmarks/bench_build.py [--runs N] [--jaffle-shop GIT_DIR]

Each project is copied once; run 1 is cold (no partial-parse state), later runs rebuild
the same copy, as a developer does. The two projects alternate so that both see the
same machine load. Figures, not assertions: compare them between commits.

jaffle_shop_duckdb is not part of this repository (never commit it): bring a copy with
the search tool's `fetch github:dbt-labs/jaffle_shop_duckdb`, or `git clone` it, and pass
its git directory; without it only chengyu is measured.
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
IGNORED = shutil.ignore_patterns(".git", ".venv", "warehouse", "target", "logs", "reports", "__pycache__",
                                 "*.egg-info", ".pytest_cache")
JAFFLE_DEFAULT = Path("/work/.mirror/dbt-labs+jaffle_shop_duckdb/repo")


def chengyu_build(project: Path, warehouse: Path) -> tuple[float, dict[str, float]]:
    env = dict(os.environ, CHENGYU_WAREHOUSE=str(warehouse / "chengyu.duckdb"),
               CHENGYU_REPORTS=str(project / "reports"), DBT_PROFILES_DIR=str(project))
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "chengyu_cluster.cli", "--project-dir", str(project), "build"],
                            env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(result.stdout + result.stderr)
    line = next(ln for ln in result.stdout.splitlines() if ln.strip().startswith("time:"))
    stages = {name.strip(): float(secs) for name, secs in re.findall(r"([a-z ]+) ([0-9.]+) s", line)}
    return wall, stages


def jaffle_build(project: Path) -> float:
    dbt = Path(sys.executable).parent / "dbt"
    started = time.perf_counter()
    result = subprocess.run([str(dbt), "build", "--quiet", "--project-dir", str(project), "--profiles-dir",
                             str(project)], cwd=project, capture_output=True, text=True,
                            env={k: v for k, v in os.environ.items() if not k.startswith("DBT_")})
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit("jaffle_shop_duckdb failed:\n" + result.stdout + result.stderr)
    return wall


def export_jaffle(git_dir: Path, into: Path) -> Path:
    into.mkdir()
    archive = subprocess.run(["git", "--git-dir", str(git_dir), "archive", "HEAD"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="builds of each project (the first is cold)")
    parser.add_argument("--jaffle-shop", type=Path, default=JAFFLE_DEFAULT if JAFFLE_DEFAULT.exists() else None,
                        help="git directory of dbt-labs/jaffle_shop_duckdb")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chengyu-bench-") as tmp:
        project = Path(tmp) / "repo"
        shutil.copytree(REPO, project, ignore=IGNORED)
        warehouse = Path(tmp) / "warehouse"
        warehouse.mkdir()
        jaffle = export_jaffle(args.jaffle_shop, Path(tmp) / "jaffle") if args.jaffle_shop else None
        walls, jaffle_walls = [], []
        for run in range(args.runs):
            label = "cold build" if run == 0 else f"rebuild {run}"
            wall, stages = chengyu_build(project, warehouse)
            walls.append(wall)
            line = f"{label:11s} chengyu wall {wall:5.1f} s ({', '.join(f'{k} {v:.1f} s' for k, v in stages.items())})"
            if jaffle:
                jaffle_walls.append(jaffle_build(jaffle))
                line += f" | jaffle_shop_duckdb {jaffle_walls[-1]:4.1f} s | ratio {wall / jaffle_walls[-1]:.2f}"
            print(line, flush=True)
        # ru_maxrss of children: the largest resident set of any finished child, in KiB.
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        median = statistics.median(walls)
        summary = f"median chengyu build {median:.1f} s over {args.runs} runs"
        if jaffle_walls:
            j = statistics.median(jaffle_walls)
            summary += f"; median jaffle_shop_duckdb dbt build {j:.1f} s; ratio of medians {median / j:.2f}"
        print(summary)
        size = (warehouse / "chengyu.duckdb").stat().st_size
        print(f"peak child RSS {peak:.0f} MiB; published file {size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
