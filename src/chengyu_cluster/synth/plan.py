"""The arguments of `chengyu synth`, what the steps derive from them, and what they report."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from chengyu_cluster.synth.sql_text import uniform


@dataclass
class SynthConfig:
    enterprises: int
    months: int
    invoices: int
    seed: int
    start_year: int = 2019
    # Write only what was delivered up to this month (YYYY-MM): the data as of that month.
    as_of: str | None = None
    threads: int | None = None
    memory_limit: str = "3GB"


@dataclass
class SynthResult:
    out_dir: Path
    rows: dict[str, int] = field(default_factory=dict)
    files: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class Plan:
    """What the steps need, derived once from the arguments. Only integers and dates computed
    here (never a user string) are written into the steps' SQL; paths are quoted literals."""

    cfg: SynthConfig
    out: Path  # the folder being written
    last: int  # index of the last delivered month
    seed: int
    start: dt.date  # first day of the generated period
    end: dt.date  # first day after the generated period
    as_of_end: dt.date  # first day after the delivered period

    def u(self, key: str, stream: int) -> str:
        return uniform(key, stream, self.seed)


def first_day_of_month(start_year: int, index: int) -> dt.date:
    return dt.date(start_year + index // 12, index % 12 + 1, 1)
