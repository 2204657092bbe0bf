"""Build benchmark: prints wall time per stage, the share the quality gate adds, and
peak memory, for a cold build and a rebuild of a fresh copy of the repository.

    .venv/bin/python benchmarks/bench_build.py [--runs N]

Figures, not assertions: compare them between commits on the same machine.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IGNORED = shutil.ignore_patterns(".git", ".venv", "warehouse", "target", "logs", "reports", "__pycache__",
                                 "*.egg-info", ".pytest_cache")


def build(project: Path, warehouse: Path) -> tuple[float, dict[str, float], int]:
    env = dict(os.environ, CHENGYU_WAREHOUSE=str(warehouse / "chengyu.duckdb"),
               CHENGYU_REPORTS=str(project / "reports"), DBT_PROFILES_DIR=str(project))
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "chengyu_cluster.cli", "--project-dir", str(project), "build"],
                            env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(result.stdout + result.stderr)
    line = next(l for l in result.stdout.splitlines() if l.strip().startswith("time:"))
    stages = {name.strip(): float(secs) for name, secs in re.findall(r"([a-z ]+) ([0-9.]+) s", line)}
    # ru_maxrss of children: the largest resident set of any finished child (dbt or chengyu), in KiB.
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, stages, peak_kib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=2, help="builds in a row on one copy (the first is cold)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chengyu-bench-") as tmp:
        project = Path(tmp) / "repo"
        shutil.copytree(REPO, project, ignore=IGNORED)
        warehouse = Path(tmp) / "warehouse"
        warehouse.mkdir()
        rows = []
        for run in range(args.runs):
            wall, stages, peak = build(project, warehouse)
            rows.append((wall, stages, peak))
            label = "cold build" if run == 0 else f"rebuild {run}"
            gate_share = stages.get("quality gate", 0) / wall
            print(f"{label:12s} wall {wall:6.1f} s | " + ", ".join(f"{k} {v:.1f} s" for k, v in stages.items())
                  + f" | quality gate adds {100 * gate_share:.0f} % of wall time | peak child RSS {peak / 1024:.0f} MiB")
        size = (warehouse / "chengyu.duckdb").stat().st_size
        print(f"published file {size / 2**20:.1f} MiB; rebuild / cold build wall-time ratio "
              f"{rows[-1][0] / rows[0][0]:.2f}")


if __name__ == "__main__":
    main()
