"""What the input readers share (the CSV reader in reader.py and the Excel reader in excel.py):
findings with their file, line, column or cell; a parsed table; the code lists of the seeds;
the layout of the user's sector-output file; the one rule for a number."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

ERROR = "error"
WARNING = "warning"

# At most this many problems are kept (and printed); the rest are only counted.
MAX_REPORTED_PROBLEMS = 50
# A user's figure may cover several cells: 'equipment' is every division of the provincial
# equipment definition (seeds/sectors.csv); 'C36+C37' the sum of the divisions named.
USER_EQUIPMENT_SCOPE = "equipment"
USER_SECTOR_OUTPUT_COLUMNS = ["area_code", "sector_code", "year", "value", "unit", "measure", "source"]
# basis: 'reported' (the default when empty or absent) or 'synthetic' for generated test data.
# scope: 'all' (the default: every enterprise, the panel's scope) or 'above_scale' (规模以上,
# enterprises above designated size: a lower bound of the cell's output, fitted as '>=').
USER_SECTOR_OUTPUT_OPTIONAL = ("basis", "scope")
USER_SCOPE_ALL, USER_SCOPE_ABOVE_SCALE = "all", "above_scale"
USER_SCOPES = (USER_SCOPE_ALL, USER_SCOPE_ABOVE_SCALE)
# The panel is gross output; value added or revenue would be summed with it as if one.
USER_SECTOR_OUTPUT_MEASURE = "gross_output"

_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


@dataclass(frozen=True)
class Issue:
    file: str
    line: int | None
    column: str | None
    rule: str
    message: str
    severity: str = ERROR
    cell: str | None = None  # in a workbook: the cell as Excel names it, Sheet1!C7

    def __str__(self) -> str:
        where = self.file
        if self.cell:
            where += f", cell {self.cell}"
        else:
            if self.line is not None:
                where += f", line {self.line}"
            if self.column:
                where += f", column '{self.column}'"
        return f"{self.severity.upper()} {where}: {self.message} [rule: {self.rule}]"


class Findings:
    """Problems found in the inputs: the first MAX_REPORTED_PROBLEMS kept, all counted.

    A file of millions of bad lines must neither fill memory nor the terminal.
    """

    def __init__(self, keep: int = MAX_REPORTED_PROBLEMS):
        self.keep = keep
        self.kept: list[Issue] = []
        self.n_errors = 0
        self.n_warnings = 0

    def add(self, issue: Issue) -> None:
        if issue.severity == ERROR:
            self.n_errors += 1
        else:
            self.n_warnings += 1
        if len(self.kept) < self.keep:
            self.kept.append(issue)

    @property
    def n_total(self) -> int:
        return self.n_errors + self.n_warnings

    def lines(self) -> list[str]:
        out = [str(i) for i in self.kept]
        if self.n_total > len(self.kept):
            out.append(
                f"... and {self.n_total - len(self.kept)} more problem(s) not shown "
                f"(the first {len(self.kept)} are above)"
            )
        return out


@dataclass
class Table:
    """A CSV file parsed as text: header, rows with their line numbers, identity."""

    header: list[str]
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    skipped_blank_lines: int = 0


def parse_number(text: str) -> float | None:
    """A finite number written with ASCII digits, or None."""
    if not _DECIMAL.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


class Reference:
    """Code lists and bounds, taken from the seeds as this module parsed them."""

    def __init__(self, seeds: dict[str, Table]):
        def rows(name: str) -> list[dict[str, str]]:
            return [r for _, r in seeds[name].rows]

        self.areas = {r["area_code"]: r for r in rows("areas")}
        self.member_areas = {code for code, r in self.areas.items() if r["cluster_role"] == "member"}
        self.cluster_provinces = {code for code, r in self.areas.items() if r["cluster_role"] == "parent"}
        self.sectors = {r["sector_code"] for r in rows("sectors")}
        self.division_names = rows("gbt4754_division_names")
        self.units = {r["unit_token"]: r for r in rows("unit_conversions")}
        self.metrics = {r["metric_code"]: r for r in rows("metrics")}
        self.sources = {r["source_text"] for r in rows("sources")}
        self.aliases = rows("entity_aliases")
        self.bounds = {r["bound_id"]: r for r in rows("plausibility_bounds")}
        self.first_year, self.last_year = (int(self.bound("figure_year_range", c)) for c in ("lower", "upper"))

    def bound(self, bound_id: str, which: str = "upper") -> float:
        return float(self.bounds[bound_id][f"{which}_value"])

    def to_yuan(self, value: float, unit: str) -> float:
        return value * float(self.units[unit]["factor_to_base"])
