"""Validation of every CSV that enters the warehouse, before anything is built.

dbt's seed loader and DuckDB's CSV reader stop on the first problem with messages
about parser internals. Planners need to know which file, which line, which column
and which rule, for every problem at once. This module reads each input with Python's
csv module and checks it against the rules below; the dbt tests then re-check the
loaded data as warehouse invariants.

Reference sets (area codes, sector codes, units, metrics) are read from the seeds
themselves, so the seeds stay the single place where they are defined.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ERROR = "error"
WARNING = "warning"

# Years any figure may describe; user output figures must also lie in the panel.
EARLIEST_YEAR = 1949
LATEST_YEAR = 2035

USER_SECTOR_OUTPUT_COLUMNS = ["area_code", "sector_code", "year", "value", "unit", "measure", "source"]
# basis: 'reported' (the default when empty or absent) or 'synthetic' for generated test data.
USER_SECTOR_OUTPUT_OPTIONAL = ("basis",)
# The panel is gross output; value added or revenue would be summed with it as if one.
USER_SECTOR_OUTPUT_MEASURE = "gross_output"


@dataclass(frozen=True)
class Issue:
    file: str
    line: int | None
    column: str | None
    rule: str
    message: str
    severity: str = ERROR

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f", line {self.line}"
        if self.column:
            where += f", column '{self.column}'"
        return f"{self.severity.upper()} {where}: {self.message} [rule: {self.rule}]"


@dataclass
class Table:
    """A CSV file read as text: header and rows with their line numbers."""

    header: list[str]
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)


def read_csv_strict(path: Path, display: str, expected_columns: list[str],
                    optional_columns: tuple[str, ...] = ()) -> tuple[Table | None, list[Issue]]:
    """Read a CSV as UTF-8 text and check its structure against the expected header."""
    issues: list[Issue] = []
    raw = path.read_bytes()
    if not raw.strip():
        return None, [Issue(display, None, None, "not_empty", "the file is empty: expected a header line and rows")]
    if raw.startswith(b"\xef\xbb\xbf"):
        issues.append(Issue(display, 1, None, "utf8_bom",
                            "the file starts with a UTF-8 byte-order mark (as Excel writes); it is read without it",
                            WARNING))
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        hint = ""
        try:
            raw.decode("gb18030")
            hint = " It reads as GBK/GB18030: re-save it as UTF-8 (in Excel: 'CSV UTF-8')."
        except UnicodeDecodeError:
            pass
        return None, [Issue(display, line, None, "utf8_encoding",
                            f"byte 0x{raw[exc.start]:02x} is not valid UTF-8.{hint}")]

    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except (csv.Error, StopIteration) as exc:
        return None, issues + [Issue(display, 1, None, "csv_syntax", f"the header line cannot be read: {exc}")]
    header = [h.strip() for h in header]
    if len(header) == 1 and any(sep in header[0] for sep in (";", "\t", "|")):
        sep = next(s for s in (";", "\t", "|") if s in header[0])
        return None, issues + [Issue(display, 1, None, "comma_delimiter",
                                     f"columns are separated by {sep!r}, not by commas")]
    missing = [c for c in expected_columns if c not in header]
    extra = [c for c in header if c not in expected_columns and c not in optional_columns]
    for c in missing:
        issues.append(Issue(display, 1, c, "required_column", f"column '{c}' is missing from the header"))
    for c in extra:
        layout = ", ".join(expected_columns + [f"{o} (optional)" for o in optional_columns])
        issues.append(Issue(display, 1, c, "known_column", f"column '{c}' is not part of the layout ({layout})"))
    duplicated = sorted({c for c in header if header.count(c) > 1})
    for c in duplicated:
        issues.append(Issue(display, 1, c, "unique_column", f"column '{c}' appears more than once in the header"))
    if missing or extra or duplicated:
        return None, issues

    table = Table(header)
    n_bad_lines = 0
    while True:
        line = reader.line_num + 1  # where the next record starts
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            issues.append(Issue(display, line, None, "csv_quoting",
                                f"malformed quoting in the record starting here ({exc}); "
                                "is a quote opened and never closed?"))
            return None, issues
        if not fields or all(not f.strip() for f in fields):
            continue
        if len(fields) != len(header):
            n_bad_lines += 1
            issues.append(Issue(display, line, None, "field_count",
                                f"the line has {len(fields)} fields, the header has {len(header)} "
                                "(a stray comma or a missing quote?)"))
            continue
        row = dict.fromkeys(optional_columns, "")
        row.update(zip(header, (f.strip() for f in fields)))
        table.rows.append((line, row))
    if n_bad_lines:
        return None, issues
    if not table.rows:
        issues.append(Issue(display, None, None, "has_rows", "the file has a header but no rows"))
        return None, issues
    return table, issues


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.lower() not in {"nan", "inf", "-inf", "infinity", "-infinity"}


def unit_token(unit: str) -> str:
    """'亿元 (stated 1万亿元)' -> '亿元': the same split as stg_reported__figures."""
    return unit.split("(", 1)[0].strip()


def check_unique(table: Table, display: str, key: list[str], value_columns: list[str] | None = None) -> list[Issue]:
    """A key must not repeat; say whether the repeat carries a different value."""
    issues = []
    first_seen: dict[tuple, tuple[int, dict[str, str]]] = {}
    for line, row in table.rows:
        k = tuple(row[c] for c in key)
        if k in first_seen:
            first_line, first_row = first_seen[k]
            label = ", ".join(f"{c}={v}" for c, v in zip(key, k))
            differs = [c for c in (value_columns or []) if row[c] != first_row[c]]
            if differs:
                diffs = "; ".join(f"{c} {first_row[c]!r} there, {row[c]!r} here" for c in differs)
                message = f"{label} already appears on line {first_line} with a different value ({diffs})"
                rule = "same_key_same_value"
            else:
                message = f"{label} already appears on line {first_line} (duplicated key)"
                rule = "unique_key"
            issues.append(Issue(display, line, key[0] if len(key) == 1 else None, rule, message))
        else:
            first_seen[k] = (line, row)
    return issues


class Reference:
    """Code lists read from the project's seeds."""

    def __init__(self, seeds_dir: Path):
        def load(name: str) -> list[dict[str, str]]:
            with open(seeds_dir / f"{name}.csv", encoding="utf-8-sig", newline="") as f:
                return list(csv.DictReader(f))

        self.areas = {r["area_code"]: r for r in load("areas")}
        self.member_areas = {code for code, r in self.areas.items() if r["cluster_role"] == "member"}
        self.sectors = {r["sector_code"] for r in load("sectors")}
        self.units = {r["unit_token"]: r for r in load("unit_conversions")}
        self.metrics = {r["metric_code"]: r for r in load("metrics")}
        self.sources = {r["source_text"] for r in load("sources")}
        self.aliases = load("entity_aliases")


def check_reported_figures(table: Table, display: str, ref: Reference) -> list[Issue]:
    issues = check_unique(table, display, ["figure_id"], ["value", "unit", "metric", "entity_code", "year"])
    code_aliases = {a["match_value"] for a in ref.aliases if a["match_on"] == "entity_code"}
    name_aliases = [a["match_value"] for a in ref.aliases if a["match_on"] == "entity_name_prefix"]
    for line, row in table.rows:
        def bad(column: str, rule: str, message: str) -> None:
            issues.append(Issue(display, line, column, rule, f"figure {row['figure_id'] or '?'}: {message}"))

        if not re.fullmatch(r"F\d{4,}", row["figure_id"]):
            bad("figure_id", "figure_id_format", f"'{row['figure_id']}' is not an id like F0001")
        code = row["entity_code"]
        if code:
            if re.fullmatch(r"C\d{2}", code):
                if code not in ref.sectors:
                    bad("entity_code", "known_sector", f"sector code '{code}' is not in seeds/sectors.csv")
            elif code not in ref.areas and code not in code_aliases:
                bad("entity_code", "known_area", f"area code '{code}' is not in seeds/areas.csv")
        elif not any(row["entity_name"].startswith(p) for p in name_aliases):
            bad("entity_code", "known_area",
                f"no entity code, and entity name '{row['entity_name']}' matches no alias in seeds/entity_aliases.csv")
        metric = ref.metrics.get(row["metric"])
        if metric is None:
            bad("metric", "known_metric", f"metric '{row['metric']}' is not defined in seeds/metrics.csv")
        year = row["year"]
        if year:
            if not re.fullmatch(r"\d{4}", year):
                bad("year", "year_format", f"'{year}' is not a four-digit year")
            elif not EARLIEST_YEAR <= int(year) <= LATEST_YEAR:
                bad("year", "year_range", f"year {year} is outside {EARLIEST_YEAR}-{LATEST_YEAR}")
        value = row["value"]
        if not _is_number(value):
            bad("value", "numeric", f"value '{value}' is not a number")
        elif float(value) < 0 and metric is not None and metric["measure_kind"] in {"level", "count", "per_capita", "target"}:
            bad("value", "non_negative", f"value {value} is negative; a {metric['measure_kind']} cannot be")
        unit = ref.units.get(unit_token(row["unit"]))
        if unit is None:
            bad("unit", "known_unit", f"unit '{row['unit']}' cannot be parsed: '{unit_token(row['unit'])}' "
                                      "is not in seeds/unit_conversions.csv")
        elif metric is not None and unit["unit_family"] != metric["unit_family"]:
            bad("unit", "unit_matches_metric",
                f"unit '{row['unit']}' is a {unit['unit_family']} unit; metric '{row['metric']}' is measured "
                f"in {metric['unit_family']}")
        if row["reliability"] not in {"high", "medium", "low"}:
            bad("reliability", "accepted_values", f"'{row['reliability']}' is not high, medium or low")
        if not row["source"]:
            bad("source", "not_empty", "the source is empty; every figure needs one")
        elif row["source"] not in ref.sources:
            bad("source", "known_source", "the source is not listed in seeds/sources.csv; add it there with its reliability")
    return issues


def check_user_sector_output(table: Table, display: str, ref: Reference, first_year: int, last_year: int) -> list[Issue]:
    issues = check_unique(table, display, ["area_code", "sector_code", "year"], ["value", "unit"])
    for line, row in table.rows:
        def bad(column: str, rule: str, message: str) -> None:
            issues.append(Issue(display, line, column, rule, message))

        code = row["area_code"]
        if code not in ref.member_areas:
            what = "unknown" if code not in ref.areas else f"{ref.areas[code]['name_en']}, not a member area"
            bad("area_code", "known_member_area",
                f"area code '{code}' is {what} (members: {', '.join(sorted(ref.member_areas))})")
        if row["sector_code"] not in ref.sectors:
            bad("sector_code", "known_sector",
                f"sector code '{row['sector_code']}' is not a division of the panel ({', '.join(sorted(ref.sectors))})")
        year = row["year"]
        if not re.fullmatch(r"\d{4}", year):
            bad("year", "year_format", f"'{year}' is not a four-digit year")
        elif not first_year <= int(year) <= last_year:
            bad("year", "year_range", f"year {year} is outside the panel {first_year}-{last_year}")
        if not _is_number(row["value"]):
            bad("value", "numeric", f"value '{row['value']}' is not a number")
        elif float(row["value"]) < 0:
            bad("value", "non_negative", f"output {row['value']} is negative")
        unit = ref.units.get(row["unit"])
        if unit is None or unit["unit_family"] != "currency":
            currency = sorted(u for u, r in ref.units.items() if r["unit_family"] == "currency")
            bad("unit", "known_currency_unit", f"unit '{row['unit']}' cannot be parsed as money (use one of {', '.join(currency)})")
        if row["measure"] != USER_SECTOR_OUTPUT_MEASURE:
            bad("measure", "same_scope",
                f"measure '{row['measure']}' differs from the panel's '{USER_SECTOR_OUTPUT_MEASURE}': "
                "figures of different scopes are never summed as one")
        if not row["source"]:
            bad("source", "not_empty", "the source is empty; a supplied figure is 'reported' only with its source")
        if row["basis"] not in ("", "reported", "synthetic"):
            bad("basis", "accepted_values", f"basis '{row['basis']}' is not 'reported' or 'synthetic'")
    return issues


def seed_columns(project_dir: Path) -> dict[str, list[str]]:
    """Expected header of every seed, from its column_types in dbt_project.yml."""
    config = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8"))
    seeds = config["seeds"][config["name"]]
    return {name: list(cfg["+column_types"]) for name, cfg in seeds.items()
            if isinstance(cfg, dict) and "+column_types" in cfg}


# Key columns and references between seeds that are not the reported figures.
SEED_KEYS = {
    "areas": ["area_code"],
    "entity_aliases": ["match_on", "match_value"],
    "sectors": ["sector_code"],
    "area_specialties": ["specialty_id"],
    "sources": ["source_id"],
    "metrics": ["metric_code"],
    "unit_conversions": ["unit_token"],
    "periods": ["metric_suffix"],
    "value_qualifiers": ["pattern"],
    "cooperation_events": ["event_id"],
    "estimation_priors": ["prior_id"],
    "coupling_indicators": ["indicator_code"],
    "coupling_subsystems": ["area_code"],
    "figure_scope_overrides": ["figure_id"],
    "coordination_classes": ["lower_bound"],
}


def validate_inputs(project_dir: Path, sector_output: Path | None = None,
                    first_year: int = 2015, last_year: int = 2023) -> list[Issue]:
    """Check every seed and the user's output file; return all issues found."""
    issues: list[Issue] = []
    seeds_dir = project_dir / "seeds"
    tables: dict[str, Table] = {}
    for name, columns in seed_columns(project_dir).items():
        display = f"seeds/{name}.csv"
        path = seeds_dir / f"{name}.csv"
        if not path.exists():
            issues.append(Issue(display, None, None, "file_exists", "the seed file is missing"))
            continue
        table, found = read_csv_strict(path, display, columns)
        issues += found
        if table is not None:
            tables[name] = table
            if name in SEED_KEYS:
                issues += check_unique(table, display, SEED_KEYS[name])
    if any(i.severity == ERROR for i in issues):
        # Reference seeds are broken: checking figures against them would mislead.
        return issues
    ref = Reference(seeds_dir)
    issues += check_reported_figures(tables["reported_figures"], "seeds/reported_figures.csv", ref)
    if sector_output is not None:
        display = str(sector_output)
        if not sector_output.exists():
            issues.append(Issue(display, None, None, "file_exists", "the sector output file does not exist"))
        else:
            table, found = read_csv_strict(sector_output, display, USER_SECTOR_OUTPUT_COLUMNS,
                                           USER_SECTOR_OUTPUT_OPTIONAL)
            issues += found
            if table is not None:
                issues += check_user_sector_output(table, display, ref, first_year, last_year)
    return issues
