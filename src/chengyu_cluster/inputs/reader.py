"""The one reader of every CSV that enters the warehouse.

Each input file (every seed and the user's sector output file) is read exactly once,
here: opened only if it is a regular file within the size limit, decoded as UTF-8,
parsed with one explicit dialect, checked cell by cell, typed, and then written into
the candidate warehouse as a table (`raw.<seed>`, `raw.user_sector_output`) together
with a load audit (`raw.load_audit`: path, size, sha256, rows, load time). dbt never
reads these files again during `chengyu build`, and nothing in the published warehouse
reads a file at query time, so what the checks accepted is exactly what the warehouse
holds.

The dialect (also in docs/inputs.md):
- UTF-8 (a leading byte-order mark is dropped with a warning), comma-separated, `"` as
  the only quote character (doubled inside a quoted field), header line required.
- Every field is trimmed of leading and trailing white space as Unicode defines it
  (space, tab, no-break space U+00A0, ideographic space U+3000, ...). After trimming,
  a field may not hold control characters (tab, line break, ...).
- Lines that are empty, or hold only commas and white space, are skipped (and counted).
- Numbers: ASCII digits only, optional sign, optional decimal point and exponent
  (`1200`, `-3.5`, `1.2e3`); the value must be finite. No thousands separators,
  full-width or other scripts' digits, `inf` or `nan`.
- An empty field is NULL.

Reference sets (area codes, sectors, units, metrics) come from the seeds as read here,
so the seeds stay the one place where they are defined.
"""

from __future__ import annotations

import csv
import datetime as dt
import errno
import hashlib
import io
import os
import re
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from chengyu_cluster.inputs.base import (
    ERROR,
    USER_EQUIPMENT_SCOPE,
    USER_SCOPE_ABOVE_SCALE,
    USER_SCOPE_ALL,
    USER_SCOPES,
    USER_SECTOR_OUTPUT_COLUMNS,
    USER_SECTOR_OUTPUT_MEASURE,
    USER_SECTOR_OUTPUT_OPTIONAL,
    WARNING,
    Findings,
    Issue,
    Reference,
    Table,
    parse_number,
)

# A larger input file is refused before it is parsed (`--max-input-mb` overrides).
DEFAULT_MAX_INPUT_BYTES = 64 * 1024 * 1024

# A reported figure as its source prints it: 5840 or 5.84, never 5.84e3 or .5.
_AS_PRINTED = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_YEAR = re.compile(r"[0-9]{4}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class InputFile:
    """One file as read: what the load audit records."""

    display: str
    kind: str  # seed | sector_output
    table: str  # the raw table its rows go to
    size_bytes: int
    sha256: str


def read_regular_file(path: Path, display: str, max_bytes: int, findings: Findings) -> bytes | None:
    """The file's bytes, or None with a finding: only regular files within the limit.

    Opened non-blocking and checked with fstat on the open descriptor, so a FIFO never
    hangs the reader and a file swapped for a device after a check is still caught.
    """

    def refuse(rule: str, message: str) -> None:
        findings.add(Issue(display, None, None, rule, message))

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        refuse("file_exists", "the file does not exist")
        return None
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a socket, or a FIFO without writer on some systems
            refuse("regular_file", "not a regular file (a socket or device); give a CSV file")
        else:
            refuse("readable", f"the file cannot be opened: {exc.strerror}")
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = (
                "a directory"
                if stat.S_ISDIR(info.st_mode)
                else "a FIFO (named pipe)"
                if stat.S_ISFIFO(info.st_mode)
                else "a device"
                if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
                else "a socket"
                if stat.S_ISSOCK(info.st_mode)
                else "not a file"
            )
            refuse("regular_file", f"this is {kind}, not a regular file; give a CSV file")
            return None
        if info.st_size > max_bytes:
            refuse(
                "size_limit",
                f"the file has {info.st_size:,} bytes, more than the limit of {max_bytes:,} "
                "(raise it with --max-input-mb if the file is right)",
            )
            return None
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > max_bytes:  # the file grew while being read
                refuse("size_limit", f"the file grew beyond the limit of {max_bytes:,} bytes while being read")
                return None
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        refuse("readable", f"the file cannot be read: {exc.strerror}")
        return None
    finally:
        os.close(fd)


def parse_csv(
    raw: bytes, display: str, expected_columns: list[str], findings: Findings, optional_columns: tuple[str, ...] = ()
) -> Table | None:
    """Parse bytes with the project's one CSV dialect; check the header and every field's text."""
    errors_before = findings.n_errors
    text = _decode(raw, display, findings)
    if text is None:
        return None
    csv.field_size_limit(max(len(raw), 1 << 17))  # the file size is the only limit of a field
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=",",
        quotechar='"',
        doublequote=True,
        skipinitialspace=False,
        strict=True,
    )
    header = _read_header(reader, display, findings)
    if header is None or not _check_header(
        header, reader.line_num, display, expected_columns, optional_columns, findings
    ):
        return None
    table = Table(header)
    if not _read_records(reader, table, optional_columns, display, findings) or findings.n_errors > errors_before:
        return None
    if not table.rows:
        findings.add(Issue(display, None, None, "has_rows", "the file has a header but no rows"))
        return None
    if table.skipped_blank_lines:
        findings.add(
            Issue(
                display,
                None,
                None,
                "blank_lines",
                f"{table.skipped_blank_lines} empty line(s) (or lines of only commas) skipped",
                WARNING,
            )
        )
    return table


def _decode(raw: bytes, display: str, findings: Findings) -> str | None:
    """The text of UTF-8 bytes (a byte-order mark dropped with a warning), or None with a finding."""
    if not raw.strip():
        findings.add(Issue(display, None, None, "not_empty", "the file is empty: expected a header line and rows"))
        return None
    if raw.startswith(b"\xef\xbb\xbf"):
        findings.add(
            Issue(
                display,
                1,
                None,
                "utf8_bom",
                "the file starts with a UTF-8 byte-order mark (as Excel writes); it is read without it",
                WARNING,
            )
        )
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        hint = ""
        try:
            raw.decode("gb18030")
            hint = " It reads as GBK/GB18030: re-save it as UTF-8 (in Excel: 'CSV UTF-8')."
        except UnicodeDecodeError:
            pass
        findings.add(
            Issue(display, line, None, "utf8_encoding", f"byte 0x{raw[exc.start]:02x} is not valid UTF-8.{hint}")
        )
        return None


def _read_header(reader, display: str, findings: Findings) -> list[str] | None:
    """The first line that is not blank, its names trimmed; None with a finding if unreadable."""
    try:
        header = next(reader)
        while not any(h.strip() for h in header):  # blank lines before the header are skipped too
            header = next(reader)
    except (csv.Error, StopIteration) as exc:
        findings.add(Issue(display, 1, None, "csv_syntax", f"the header line cannot be read: {exc}"))
        return None
    return [h.strip() for h in header]


def _check_header(
    header: list[str],
    line: int,
    display: str,
    expected_columns: list[str],
    optional_columns: tuple[str, ...],
    findings: Findings,
) -> bool:
    """Whether the header is the layout: commas, clean names, every column once, none unknown."""
    if len(header) == 1 and any(sep in header[0] for sep in (";", "\t", "|")):
        sep = next(s for s in (";", "\t", "|") if s in header[0])
        findings.add(Issue(display, line, None, "comma_delimiter", f"columns are separated by {sep!r}, not by commas"))
        return False
    bad = next(((name, ch) for name in header if (ch := _bad_character(name)) is not None), None)
    if bad is not None:
        findings.add(
            Issue(
                display,
                line,
                None,
                "control_character",
                f"the header name {bad[0]!r} holds an invisible or control character (U+{ord(bad[1]):04X})",
            )
        )
        return False
    errors_before = findings.n_errors
    layout = ", ".join(expected_columns + [f"{o} (optional)" for o in optional_columns])
    for c in expected_columns:
        if c not in header:
            findings.add(Issue(display, line, c, "required_column", f"column '{c}' is missing from the header"))
    for c in header:
        if c not in expected_columns and c not in optional_columns:
            findings.add(Issue(display, line, c, "known_column", f"column '{c}' is not part of the layout ({layout})"))
    for c in sorted({c for c in header if header.count(c) > 1}):
        findings.add(Issue(display, line, c, "unique_column", f"column '{c}' appears more than once in the header"))
    return findings.n_errors == errors_before


def _read_records(reader, table: Table, optional_columns: tuple[str, ...], display: str, findings: Findings) -> bool:
    """Every record after the header into `table`; False when the quoting breaks the file."""
    header = table.header
    while True:
        line = reader.line_num + 1  # where the next record starts
        try:
            fields = next(reader)
        except StopIteration:
            return True
        except csv.Error as exc:
            findings.add(
                Issue(
                    display,
                    line,
                    None,
                    "csv_quoting",
                    f"malformed quoting in the record starting here ({exc}); is a quote opened and never closed?",
                )
            )
            return False
        values = [f.strip() for f in fields]
        if not any(values):
            table.skipped_blank_lines += 1
            continue
        if len(values) != len(header):
            findings.add(
                Issue(
                    display,
                    line,
                    None,
                    "field_count",
                    f"the line has {len(values)} fields, the header has {len(header)} "
                    "(a stray comma or a missing quote?)",
                )
            )
            continue
        for name, value in zip(header, values, strict=True):
            _check_field(name, value, line, display, findings)
        row = dict.fromkeys(optional_columns, "")
        row.update(zip(header, values, strict=True))
        table.rows.append((line, row))


def _check_field(name: str, value: str, line: int, display: str, findings: Findings) -> None:
    bad = _bad_character(value)
    if bad is not None:
        kind = "tab" if bad == chr(9) else "line break" if bad in chr(10) + chr(13) else "invisible or control"
        findings.add(
            Issue(
                display,
                line,
                name,
                "control_character",
                f"the field holds the character U+{ord(bad):04X} ({kind}) inside its text",
            )
        )


# Control (Cc), format (Cf: zero-width, bidi overrides, a byte-order mark) and line or
# paragraph separator (Zl, Zp) characters: invisible in a spreadsheet, harmful in a code.
_BAD_CATEGORIES = {"Cc", "Cf", "Zl", "Zp"}


def _bad_character(value: str) -> str | None:
    if value.isprintable():  # the fast path: no C*, Z* other than the space
        return None
    return next((ch for ch in value if unicodedata.category(ch) in _BAD_CATEGORIES), None)


# ---- cell rules: one function per kind of value, used by every check below ------------


def parse_integer(text: str) -> int | None:
    """A whole number that fits the warehouse's 32-bit integer columns, or None."""
    if not _INTEGER.fullmatch(text) or len(text) > 12:
        return None
    value = int(text)
    return value if -(2**31) <= value < 2**31 else None


def parse_boolean(text: str) -> bool | None:
    return {"true": True, "false": False}.get(text.lower())


def parse_date(text: str) -> dt.date | None:
    if not _DATE.fullmatch(text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


_PARSERS = {
    "integer": parse_integer,
    "bigint": parse_integer,
    "double": parse_number,
    "boolean": parse_boolean,
    "date": parse_date,
}
_EXPECTED = {
    "integer": "a whole number in ASCII digits within ±2,147,483,647",
    "bigint": "a whole number in ASCII digits within ±2,147,483,647",
    "double": "a finite number in ASCII digits (like 1200, -3.5 or 1.2e3)",
    "boolean": "true or false",
    "date": "a date written YYYY-MM-DD",
}


def typed_rows(table: Table, display: str, column_types: dict[str, str], findings: Findings) -> list[dict]:
    """Convert every cell to its column's type; empty cells become NULL."""
    out = []
    for line, row in table.rows:
        typed = {"line_number": line} if "line_number" in column_types else {}
        for name in table.header:
            text = row[name]
            kind = column_types[name]
            if text == "" or kind == "varchar":
                typed[name] = text or None
                continue
            value = _PARSERS[kind](text)
            if value is None:
                findings.add(Issue(display, line, name, f"type_{kind}", f"'{text}' is not {_EXPECTED[kind]}"))
            typed[name] = value
        for name in column_types:
            typed.setdefault(name, None)
        out.append(typed)
    return out


def unit_token(unit: str) -> str:
    """'亿元 (stated 1万亿元)' -> '亿元': the same split as stg_reported__figures."""
    return unit.split("(", 1)[0].strip()


def check_unique(
    table: Table, display: str, key: list[str], findings: Findings, value_columns: list[str] | None = None
) -> None:
    """A key must not repeat; say whether the repeat carries a different value."""
    first_seen: dict[tuple, tuple[int, dict[str, str]]] = {}
    for line, row in table.rows:
        k = tuple(row[c] for c in key)
        if k not in first_seen:
            first_seen[k] = (line, row)
            continue
        first_line, first_row = first_seen[k]
        label = ", ".join(f"{c}={v}" for c, v in zip(key, k, strict=True))
        differs = [c for c in (value_columns or []) if row[c] != first_row[c]]
        if differs:
            diffs = "; ".join(f"{c} {first_row[c]!r} there, {row[c]!r} here" for c in differs)
            message, rule = (
                f"{label} already appears on line {first_line} with a different value ({diffs})",
                "same_key_same_value",
            )
        else:
            message, rule = f"{label} already appears on line {first_line} (duplicated key)", "unique_key"
        findings.add(Issue(display, line, key[0] if len(key) == 1 else None, rule, message))


# Rules whose failure dbt records in marts.audit_rejected_figures (int_reported_figures_checked).
REJECTED_BY_DBT = {"known_area", "known_sector", "known_metric", "known_unit", "unit_matches_metric", "known_source"}


def check_reported_figures(table: Table, display: str, ref: Reference, findings: Findings) -> None:
    check_unique(table, display, ["figure_id"], findings, ["value", "unit", "metric", "entity_code", "year"])
    code_aliases = {a["match_value"] for a in ref.aliases if a["match_on"] == "entity_code"}
    name_aliases = [a["match_value"] for a in ref.aliases if a["match_on"] == "entity_name_prefix"]
    for line, row in table.rows:

        def bad(column: str, rule: str, message: str, line: int = line, row: dict = row) -> None:
            # A figure that cannot be used is listed in marts.audit_rejected_figures by dbt
            # (the owner of that rule); the reader only warns, and the build publishes.
            severity = WARNING if rule in REJECTED_BY_DBT else ERROR
            findings.add(Issue(display, line, column, rule, f"figure {row['figure_id'] or '?'}: {message}", severity))

        if not re.fullmatch(r"F[0-9]{4,}", row["figure_id"]):
            bad("figure_id", "figure_id_format", f"'{row['figure_id']}' is not an id like F0001")
        code = row["entity_code"]
        if code:
            if re.fullmatch(r"C[0-9]{2}", code):
                if code not in ref.sectors:
                    bad("entity_code", "known_sector", f"sector code '{code}' is not in seeds/sectors.csv")
            elif code not in ref.areas and code not in code_aliases:
                bad("entity_code", "known_area", f"area code '{code}' is not in seeds/areas.csv")
        elif not any(row["entity_name"].startswith(p) for p in name_aliases):
            bad(
                "entity_code",
                "known_area",
                f"no entity code, and entity name '{row['entity_name']}' matches no alias in seeds/entity_aliases.csv",
            )
        metric = ref.metrics.get(row["metric"])
        if metric is None:
            bad("metric", "known_metric", f"metric '{row['metric']}' is not defined in seeds/metrics.csv")
        year = row["year"]
        if year:
            if not _YEAR.fullmatch(year):
                bad("year", "year_format", f"'{year}' is not a four-digit year")
            elif not ref.first_year <= int(year) <= ref.last_year:
                bad(
                    "year",
                    "year_range",
                    f"year {year} is outside {ref.first_year}-{ref.last_year} "
                    "(seeds/plausibility_bounds.csv, figure_year_range)",
                )
        value = parse_number(row["value"])
        if value is None:
            bad("value", "numeric", f"value '{row['value']}' is not a finite number in ASCII digits")
        elif not _AS_PRINTED.fullmatch(row["value"]):
            bad(
                "value",
                "as_printed",
                f"value '{row['value']}' is not written as a source prints it "
                "(digits with an optional decimal point, no exponent)",
            )
        elif value < 0 and metric is not None and metric["measure_kind"] in {"level", "count", "per_capita", "target"}:
            bad("value", "non_negative", f"value {row['value']} is negative; a {metric['measure_kind']} cannot be")
        unit = ref.units.get(unit_token(row["unit"]))
        if unit is None:
            bad(
                "unit",
                "known_unit",
                f"unit '{row['unit']}' cannot be parsed: '{unit_token(row['unit'])}' "
                "is not in seeds/unit_conversions.csv",
            )
        elif metric is not None and unit["unit_family"] != metric["unit_family"]:
            bad(
                "unit",
                "unit_matches_metric",
                f"unit '{row['unit']}' is a {unit['unit_family']} unit; metric '{row['metric']}' is measured "
                f"in {metric['unit_family']}",
            )
        if row["reliability"] not in {"high", "medium", "low"}:
            bad("reliability", "accepted_values", f"'{row['reliability']}' is not high, medium or low")
        if not row["source"]:
            bad("source", "not_empty", "the source is empty; every figure needs one")
        elif row["source"] not in ref.sources:
            bad(
                "source",
                "known_source",
                "the source is not listed in seeds/sources.csv; add it there with its reliability",
            )


def check_user_sector_output(
    table: Table, display: str, ref: Reference, findings: Findings, first_year: int, last_year: int
) -> None:
    check_unique(table, display, ["area_code", "sector_code", "year", "scope"], findings, ["value", "unit"])
    max_yuan = ref.bound("user_cell_output_yuan")
    currency = sorted(u for u, r in ref.units.items() if r["unit_family"] == "currency")
    for line, row in table.rows:

        def bad(column: str, rule: str, message: str, line: int = line) -> None:
            findings.add(Issue(display, line, column, rule, message))

        code = row["area_code"]
        if code not in ref.member_areas and code not in ref.cluster_provinces:
            what = (
                "unknown" if code not in ref.areas else f"{ref.areas[code]['name_en']}, not a member area or province"
            )
            bad(
                "area_code",
                "known_member_area",
                f"area code '{code}' is {what} (members: {', '.join(sorted(ref.member_areas))}; "
                f"provinces: {', '.join(sorted(ref.cluster_provinces))})",
            )
        divisions = row["sector_code"].split("+")
        if row["sector_code"] != USER_EQUIPMENT_SCOPE and (
            not set(divisions) <= ref.sectors or len(set(divisions)) != len(divisions)
        ):
            bad(
                "sector_code",
                "known_sector",
                f"sector code '{row['sector_code']}' is not a division of the panel "
                f"({', '.join(sorted(ref.sectors))}), distinct divisions joined by '+' (C36+C37), "
                f"or '{USER_EQUIPMENT_SCOPE}' (every division of the provincial definition)",
            )
        year = row["year"]
        if not _YEAR.fullmatch(year):
            bad("year", "year_format", f"'{year}' is not a four-digit year")
        elif not first_year <= int(year) <= last_year:
            bad("year", "year_range", f"year {year} is outside the panel {first_year}-{last_year}")
        unit = ref.units.get(row["unit"])
        if unit is None or unit["unit_family"] != "currency":
            bad(
                "unit",
                "known_currency_unit",
                f"unit '{row['unit']}' cannot be parsed as money (use one of {', '.join(currency)})",
            )
        value = parse_number(row["value"])
        if value is None:
            bad(
                "value",
                "numeric",
                f"value '{row['value']}' is not a finite number in ASCII digits (like 1200, 3.5 or 1.2e3)",
            )
        elif value < 0:
            bad("value", "non_negative", f"output {row['value']} is negative")
        elif unit is not None and unit["unit_family"] == "currency" and ref.to_yuan(value, row["unit"]) > max_yuan:
            bad(
                "value",
                "plausible_output",
                f"{row['value']} {row['unit']} is more than {max_yuan:,.0f} yuan, China's whole 2023 GDP "
                "(bound user_cell_output_yuan in seeds/plausibility_bounds.csv); is the unit right?",
            )
        if row["measure"] != USER_SECTOR_OUTPUT_MEASURE:
            bad(
                "measure",
                "same_scope",
                f"measure '{row['measure']}' differs from the panel's '{USER_SECTOR_OUTPUT_MEASURE}': "
                "figures of different scopes are never summed as one",
            )
        if not row["source"]:
            bad("source", "not_empty", "the source is empty; a supplied figure is 'reported' only with its source")
        if row["basis"] not in ("", "reported", "synthetic"):
            bad("basis", "accepted_values", f"basis '{row['basis']}' is not 'reported' or 'synthetic'")
        if row["scope"] not in ("", *USER_SCOPES):
            bad(
                "scope",
                "accepted_values",
                f"scope '{row['scope']}' is not '{USER_SCOPE_ALL}' (every enterprise) "
                f"or '{USER_SCOPE_ABOVE_SCALE}' (规模以上, a lower bound)",
            )


#: More user figures than this are refused before anything is fitted (benchmarks/bench_fit.py:
#: 10,000 figures fit in about 15 s on two cores; the dual keeps at most one row per cell).
MAX_USER_FIGURES = 20_000


def check_user_figures_consistent(
    table: Table, display: str, ref: Reference, sectors: list[dict[str, str]], findings: Findings
) -> None:
    """The user's figures against each other, with the feasibility check of the panel fit
    (panel_fit.check_levels_feasible): each figure fixes the sum of its cells (a province is
    its members and its rest, 'equipment' the provincial definition's divisions), an
    above-scale figure bounds it from below, cells are non-negative. `C34+C35 = 1200` beside
    `C35+C34 = 900` cannot both hold."""
    from chengyu_cluster.estimation.panel_fit import InfeasibleConstraintsError, check_levels_feasible

    equipment = [r["sector_code"] for r in sectors if r["in_provincial_equipment_definition"] == "true"]
    members = {p: [a for a in ref.member_areas if ref.areas[a]["province_code"] == p] for p in ref.cluster_provinces}
    levels, line_of = [], {}
    for line, row in table.rows:
        code = row["area_code"]
        units = members[code] + [f"rest_{code}"] if code in members else [code]
        divisions = equipment if row["sector_code"] == USER_EQUIPMENT_SCOPE else row["sector_code"].split("+")
        cid = f"line {line}"
        line_of[cid] = line
        levels.append(
            (
                cid,
                [(u, d, int(row["year"])) for u in units for d in divisions],
                ref.to_yuan(parse_number(row["value"]), row["unit"]),
                ">=" if row["scope"] == USER_SCOPE_ABOVE_SCALE else "=",
            )
        )
    try:
        check_levels_feasible(levels)
    except InfeasibleConstraintsError as exc:
        others = ", ".join(exc.related[:10]) + (f" and {len(exc.related) - 10} more" if len(exc.related) > 10 else "")
        for cid, gap in exc.violations.items():
            findings.add(
                Issue(
                    display,
                    line_of[cid],
                    "value",
                    "consistent_figures",
                    f"this figure and the others over its cells ({others or 'see above'}) cannot all hold "
                    f"with non-negative output: it misses by {gap:.3g} of its value at the least",
                )
            )


def seed_column_types(project_dir: Path) -> dict[str, dict[str, str]]:
    """Every seed's columns and types, from config.column_types in seeds/_seeds.yml."""
    spec = yaml.safe_load((project_dir / SEEDS_YAML).read_text(encoding="utf-8"))
    # `string` (the spelling both DuckDB and Spark accept; a length-less varchar does not
    # parse on Spark) is DuckDB's varchar: the reader knows it as varchar.
    return {
        seed["name"]: {
            column: "varchar" if kind == "string" else kind for column, kind in seed["config"]["column_types"].items()
        }
        for seed in spec["seeds"]
    }


def input_table_types(project_dir: Path) -> dict[str, dict[str, str]]:
    """Columns and types of the tables this module writes besides the seeds (source YAML)."""
    spec = yaml.safe_load((project_dir / INPUT_SOURCES_YAML).read_text(encoding="utf-8"))
    return {t["name"]: {c["name"]: c["data_type"] for c in t["columns"]} for t in spec["sources"][0]["tables"]}


INPUT_SOURCES_YAML = "models/staging/inputs/_inputs__sources.yml"
SEEDS_YAML = "seeds/_seeds.yml"

# Key columns of the seeds that are not the reported figures.
SEED_KEYS = {
    "areas": ["area_code"],
    "entity_aliases": ["match_on", "match_value"],
    "sectors": ["sector_code"],
    "gbt4754_division_names": ["name_zh"],
    "area_specialties": ["specialty_id"],
    "sources": ["source_id"],
    "metrics": ["metric_code"],
    "unit_conversions": ["unit_token"],
    "periods": ["metric_suffix"],
    "value_qualifiers": ["pattern"],
    "cooperation_events": ["event_id"],
    "estimation_priors": ["prior_id"],
    "panel_constraint_rules": ["metric_code", "scope"],
    "coupling_indicators": ["indicator_code"],
    "coupling_subsystems": ["area_code"],
    "figure_scope_overrides": ["figure_id"],
    "coordination_classes": ["lower_bound"],
    "plausibility_bounds": ["bound_id"],
}


@dataclass
class AcceptedInputs:
    """What the checks accepted: typed rows per table and the identity of every file."""

    findings: Findings
    tables: dict[str, list[dict]] = field(default_factory=dict)
    column_types: dict[str, dict[str, str]] = field(default_factory=dict)
    files: list[InputFile] = field(default_factory=list)
    reference: Reference | None = None  # the code lists, once the seeds are read

    @property
    def ok(self) -> bool:
        return self.findings.n_errors == 0


def _read_bytes(
    path: Path, display: str, kind: str, table: str, accepted: AcceptedInputs, max_bytes: int
) -> bytes | None:
    """The file's bytes, recorded for the load audit (size, sha256), or None with a finding."""
    raw = read_regular_file(path, display, max_bytes, accepted.findings)
    if raw is not None:
        accepted.files.append(InputFile(display, kind, table, len(raw), hashlib.sha256(raw).hexdigest()))
    return raw


def _read(
    path: Path,
    display: str,
    kind: str,
    table: str,
    columns: list[str],
    accepted: AcceptedInputs,
    max_bytes: int,
    optional: tuple[str, ...] = (),
) -> Table | None:
    raw = _read_bytes(path, display, kind, table, accepted, max_bytes)
    return None if raw is None else parse_csv(raw, display, columns, accepted.findings, optional)


def _read_sector_output(
    path: Path,
    sheet: str | None,
    accepted: AcceptedInputs,
    max_bytes: int,
    first_year: int,
    last_year: int,
    types: dict[str, str],
    sectors: list,
) -> None:
    """The user's figures, from a CSV file or a sheet of a workbook, into the same records,
    then the same checks: a workbook's problems are named by their cells (Sheet1!C7)."""
    from chengyu_cluster.inputs.excel import CellFindings, is_workbook, read_sheet

    display, findings, ref = str(path), accepted.findings, accepted.reference
    if is_workbook(path):
        raw = _read_bytes(path, display, "sector_output", "user_sector_output", accepted, max_bytes)
        table = None if raw is None else read_sheet(raw, display, sheet, ref, findings, max_bytes)
        findings = CellFindings(findings, table.cells) if table is not None else findings
    elif sheet is not None:
        findings.add(
            Issue(
                display,
                None,
                None,
                "sheet_of_a_workbook",
                f"--sheet {sheet!r} names a sheet of an Excel workbook (.xlsx); this file is read as CSV",
            )
        )
        return
    else:
        table = _read(
            path,
            display,
            "sector_output",
            "user_sector_output",
            USER_SECTOR_OUTPUT_COLUMNS,
            accepted,
            max_bytes,
            USER_SECTOR_OUTPUT_OPTIONAL,
        )
    if table is None:
        return
    if len(table.rows) > MAX_USER_FIGURES:
        findings.add(
            Issue(
                display,
                None,
                None,
                "max_figures",
                f"{len(table.rows):,} figures: at most {MAX_USER_FIGURES:,} are fitted (docs/inputs.md, "
                "'Your own figures: CSV'); sum them to coarser cells or split the file",
            )
        )
        return
    check_user_sector_output(table, display, ref, findings, first_year, last_year)
    if accepted.ok:
        check_user_figures_consistent(table, display, ref, sectors, findings)
    if accepted.ok:
        accepted.tables["user_sector_output"] = typed_rows(table, display, types, findings)


def read_inputs(
    project_dir: Path,
    sector_output: Path | None = None,
    first_year: int = 2015,
    last_year: int = 2023,
    max_bytes: int = DEFAULT_MAX_INPUT_BYTES,
    sheet: str | None = None,
) -> AcceptedInputs:
    """Read, check and type every seed and the user's file (each read once); `sheet` names
    the sheet when the user's file is an Excel workbook."""
    accepted = AcceptedInputs(Findings())
    findings = accepted.findings
    parsed: dict[str, Table] = {}
    for name, types in seed_column_types(project_dir).items():
        display = f"seeds/{name}.csv"
        table = _read(project_dir / "seeds" / f"{name}.csv", display, "seed", name, list(types), accepted, max_bytes)
        if table is None:
            continue
        parsed[name] = table
        if name in SEED_KEYS:
            check_unique(table, display, SEED_KEYS[name], findings)
        accepted.tables[name] = typed_rows(table, display, types, findings)
        accepted.column_types[name] = types
    if not accepted.ok:
        # Reference seeds are broken: checking figures against them would mislead.
        return accepted
    ref = accepted.reference = Reference(parsed)
    check_reported_figures(parsed["reported_figures"], "seeds/reported_figures.csv", ref, findings)

    extra = input_table_types(project_dir)
    accepted.column_types.update(extra)
    accepted.tables["user_sector_output"] = []
    if sector_output is not None:
        _read_sector_output(
            sector_output,
            sheet,
            accepted,
            max_bytes,
            first_year,
            last_year,
            extra["user_sector_output"],
            [r for _, r in parsed["sectors"].rows] if "sectors" in parsed else [],
        )
    return accepted


def load_inputs(con, accepted: AcceptedInputs, build_context: dict[str, str] | None = None) -> None:
    """Write what was accepted into the candidate: `raw.<table>`, `raw.load_audit` and
    `raw.build_context` (the build's id and code version, one row, when given).

    Values travel as a DataFrame, never as SQL text; names come from the project's own
    configuration and are quoted as identifiers.
    """
    import pandas as pd

    pandas_types = {
        "varchar": "string",
        "integer": "Int64",
        "bigint": "Int64",
        "double": "Float64",
        "boolean": "boolean",
        "date": "object",
        "timestamp": "object",
    }
    loaded_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    audit = [
        {
            "file": f.display,
            "kind": f.kind,
            "size_bytes": f.size_bytes,
            "sha256": f.sha256,
            "row_count": len(accepted.tables[f.table]),
            "loaded_at": loaded_at,
        }
        for f in accepted.files
    ]
    tables = dict(accepted.tables, load_audit=audit, build_context=[build_context] if build_context else [])
    con.execute("create schema if not exists raw")
    for name, rows in tables.items():
        types = accepted.column_types[name]
        columns = ", ".join(f"{quote_identifier(c)} {t}" for c, t in types.items())
        con.execute(f"create or replace table raw.{quote_identifier(name)} ({columns})")
        if not rows:
            continue
        frame = pd.DataFrame({c: pd.Series([r[c] for r in rows], dtype=pandas_types[t]) for c, t in types.items()})
        con.register("accepted_rows", frame)
        try:
            con.execute(f"insert into raw.{quote_identifier(name)} select * from accepted_rows")
        finally:
            con.unregister("accepted_rows")


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_text(value: str) -> str:
    """A SQL string literal, for the few statements that take no bind parameter (ATTACH, COPY)."""
    return "'" + value.replace("'", "''") + "'"
