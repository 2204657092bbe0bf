"""Where a benchmark's figures go: printed as the run goes, and copied into
benchmarks/results/<script>_<UTC time>.txt (the folder is not committed: figures belong
with the run that made them, cited in the notes, not in the repository).

    if __name__ == "__main__":
        with recorded(__file__):
            raise SystemExit(main())

The file starts with the command, the UTC time, the commit and the machine (cores, load
average) and ends with the load average at the end, so a figure can be read with its load.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


class _Tee:
    """A text stream that writes to the terminal and to the results file."""

    def __init__(self, *streams):
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()


def _commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=RESULTS.parent, capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


def _load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


@contextlib.contextmanager
def recorded(script: str):
    """Copy everything the benchmark prints into its results file; yields the file's path
    (None for --help, which measures nothing)."""
    if {"-h", "--help"} & set(sys.argv[1:]):
        yield None
        return
    RESULTS.mkdir(exist_ok=True)
    started = time.gmtime()
    path = RESULTS / f"{Path(script).stem}_{time.strftime('%Y-%m-%dT%H%M%SZ', started)}.txt"
    with path.open("w", encoding="utf-8") as out:
        out.write(
            f"# {' '.join([Path(script).name, *sys.argv[1:]])}\n"
            f"# {time.strftime('%Y-%m-%d %H:%M:%S UTC', started)}, commit {_commit()}, "
            f"{os.cpu_count()} cores, load average {_load()}\n"
        )
        try:
            with contextlib.redirect_stdout(_Tee(sys.stdout, out)):
                yield path
        finally:
            out.write(f"# load average at the end: {_load()}\n")
            print(f"results: {path.relative_to(RESULTS.parents[1])}", file=sys.stderr)
