"""`chengyu sql` on large results: wall time and peak memory per output format.

    .venv/bin/python benchmarks/bench_sql_stream.py [--rows N]

Needs a published warehouse (make build). Results stream in batches of 2048 rows, so
peak memory should stay flat as N grows; the table format prints the first 1000 rows
and counts the rest. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from results_file import recorded

REPO = Path(__file__).resolve().parents[1]


def run(rows: int, fmt: str) -> tuple[float, float]:
    """Wall seconds and the child's peak RSS in MiB (a fresh interpreter per run)."""
    code = (
        "import resource, subprocess, sys; "
        "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(p.returncode)"
    )
    command = [
        sys.executable,
        "-m",
        "chengyu_cluster.cli",
        "--project-dir",
        str(REPO),
        "sql",
        f"select range as n, range * 2 as m from range({rows})",
        "--format",
        fmt,
    ]
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, *command], capture_output=True, text=True)
    wall = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return wall, int(out.stdout.strip()) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    args = parser.parse_args()
    print(f"{'rows':>12} {'format':>6} {'wall s':>8} {'rows/s':>12} {'peak MiB':>9}")
    for fmt in ("table", "csv", "json"):
        for rows in args.rows:
            wall, peak = run(rows, fmt)
            print(f"{rows:>12,} {fmt:>6} {wall:>8.1f} {rows / wall:>12,.0f} {peak:>9.0f}")


if __name__ == "__main__":
    with recorded(__file__):
        main()
