"""Yearbook-style Excel sheets of sector output, read into the records of the CSV layout.

Yearbooks and statistical bureaus publish output by industry as sheets like

    德阳市 规模以上工业分行业总产值（2022年）     title: the area and the year
    单位：万元                                   (optional: the unit, when the header has none)
    行业             | 工业总产值（万元）         header: 行业 and a value column carrying its unit
    合计             | 12,345,678                a total: not a figure of a division
    通用设备制造业    | 1,234,567                 one row per industry by its GB/T 4754 name
      其中：...       | ...                       a part of the row above: never counted again
    注：...                                      footnotes

`read_sheet` turns such a sheet into the rows the CSV reader yields (area_code,
sector_code, year, value, unit, measure, source) and the caller passes them through the
same checks as a CSV file (inputs.check_user_sector_output, typed_rows). Each record
remembers the cells it was read from, so every problem is named as Excel names the cell
(`Sheet1!C7`). The value and unit stay as printed (万元 stays 万元); the warehouse converts
them to yuan as it does for CSV rows (int_sector_output_supplied).

- Industry names map to divisions through seeds/gbt4754_division_names.csv after white
  space, punctuation and a leading code (`34 `, `C34`) are dropped. Rows of divisions
  outside the panel (C33-C40, C43) are skipped and counted; an unknown name is an error.
- A total (合计, 总计, 全部工业, a section such as 制造业) is not a figure. A row starting with
  其中, and the more indented rows after it, are parts of the row above: skipped under a
  division; under a total, a part that is a division is that division's figure. The
  divisions listed may not add up to more than the total (something would count twice).
- An empty cell, or a yearbook's "not available" mark (…, -, —), is no figure (a warning);
  any other cell that is no number (text, a date, a formula whose result the file does not
  store) is an error named by its cell.
- The area is the most specific area of seeds/areas.csv the title names; the year is the
  value column's (`2022年工业总产值（万元）`) or the title's; 规模以上 (enterprises above
  designated size) in the title or header makes every figure's scope 'above_scale': a
  lower bound of the cell's output of all enterprises (the fit reads it as '>=').
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from chengyu_cluster.inputs.base import (
    USER_SCOPE_ABOVE_SCALE,
    USER_SCOPE_ALL,
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

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
# How far down the header row (the one with 行业) may lie.
MAX_HEADER_ROW = 30
ABOVE_SCALE = "规模以上"
_SUB_ROW = "其中"
_TOTAL_WORDS = ("合计", "总计")
_TOTAL_LABELS = {"全部", "全部工业", "工业", "规模以上工业", "全市", "全区", "全省", "总值"}
_FOOTNOTE_STARTS = ("注", "说明", "备注", "资料来源", "数据来源", "*", "＊")
# Yearbook marks for "not available" or "none".
_NOT_AVAILABLE = {"…", "……", "...", "-", "--", "—", "——", "－", "/"}
# Words of a value column's header and the measure they name (the first that occurs).
_MEASURES = (
    ("总产值", "gross_output"),
    ("销售产值", "sales_output"),
    ("主营业务收入", "revenue"),
    ("营业收入", "revenue"),
    ("增加值", "value_added"),
)
_BRACKETED = re.compile(r"[（(]([^（）()]*)[)）]")
_UNIT_LINE = re.compile(r"单位\s*[:：]\s*(\S+)")
_YEAR_IN_TEXT = re.compile(r"(?<![0-9])((?:19|20)[0-9]{2})(?![0-9])")
_GROUPED = re.compile(r"[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?")
_NAME_NOISE = re.compile(r"[\s、,.·;:]")
_CODE_IN_NAME = re.compile(r"^[A-Da-d]?[0-9]{2}(?![0-9])|\([A-Da-d]?[0-9]{2}\)")


@dataclass
class SheetTable(Table):
    """The records of a sheet, with the cell each (row, column) of a record was read from."""

    cells: dict[tuple[int | None, str | None], str] = field(default_factory=dict)


class CellFindings:
    """Findings of the CSV checks on a sheet's records, each named by its cell."""

    def __init__(self, findings: Findings, cells: dict[tuple[int | None, str | None], str]):
        self.findings, self.cells = findings, cells

    def add(self, issue: Issue) -> None:
        self.findings.add(replace(issue, cell=issue.cell or self.cells.get((issue.line, issue.column))))


def is_workbook(path: Path) -> bool:
    return path.suffix.lower() in WORKBOOK_SUFFIXES


def name_key(text: str) -> str:
    """An industry name as compared: full-width forms folded, no white space, punctuation or code."""
    folded = unicodedata.normalize("NFKC", text)
    return _NAME_NOISE.sub("", _CODE_IN_NAME.sub("", _NAME_NOISE.sub("", folded)))


def cell_name(sheet_title: str, coordinate: str) -> str:
    """Sheet1!C7, or 'My sheet'!C7 when the name needs quotes in a formula."""
    if re.fullmatch(r"\w+", sheet_title):
        return f"{sheet_title}!{coordinate}"
    return "'" + sheet_title.replace("'", "''") + f"'!{coordinate}"


@dataclass
class _Layout:
    """What the title and header say, and where they say it."""

    name_col: int
    value_col: int
    first_data_row: int
    area_code: str
    year: str
    unit: str
    measure: str
    source: str
    scope: str
    title_cell: str
    header_cell: str
    year_cell: str


@dataclass
class _Rows:
    """What the data rows held: the records, a total, and what was skipped."""

    table: SheetTable
    total: tuple[float, str] | None = None  # value and cell of the first top-level total
    listed_sum: float = 0.0  # every division listed as a figure, in the panel or not
    skipped: dict[str, list[str]] = field(default_factory=dict)

    def skip(self, why: str, cell: str) -> None:
        self.skipped.setdefault(why, []).append(cell)


class _Sheet:
    """A worksheet with merged cells read as their top-left cell, named as Excel names them."""

    def __init__(self, ws, raw: bytes):
        self.ws, self.raw, self._formulas = ws, raw, None
        self.merged_top_left = {}
        self.merged_bottom = {}
        for rng in ws.merged_cells.ranges:
            self.merged_bottom[(rng.min_row, rng.min_col)] = rng.max_row
            for row in range(rng.min_row, rng.max_row + 1):
                for col in range(rng.min_col, rng.max_col + 1):
                    self.merged_top_left[(row, col)] = (rng.min_row, rng.min_col)

    def name(self, row: int, col: int) -> str:
        return cell_name(self.ws.title, self.ws.cell(row, col).coordinate)

    def text(self, row: int, col: int, merged: bool = True) -> str:
        if merged:
            row, col = self.merged_top_left.get((row, col), (row, col))
        value = self.ws.cell(row, col).value
        return "" if value is None else str(value).strip()

    def is_formula(self, row: int, col: int) -> bool:
        """Whether the cell holds a formula (its result is read; a file may not store one)."""
        if self._formulas is None:
            import openpyxl

            self._formulas = openpyxl.load_workbook(io.BytesIO(self.raw), data_only=False)[self.ws.title]
        value = self._formulas.cell(row, col).value
        return isinstance(value, str) and value.startswith("=")


def _open_sheet(raw: bytes, display: str, sheet: str | None, findings: Findings, max_bytes: int):
    """The worksheet asked for, or None with a finding naming why not."""

    def refuse(rule: str, message: str) -> None:
        findings.add(Issue(display, None, None, rule, message))

    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        refuse("excel_workbook", "the file is not an Excel workbook (.xlsx); save an .xls or .csv file as .xlsx")
        return None
    if unpacked > max_bytes:  # a small file that unpacks to gigabytes
        refuse(
            "size_limit",
            f"the workbook unpacks to {unpacked:,} bytes, more than the limit of {max_bytes:,} "
            "(raise it with --max-input-mb if the file is right)",
        )
        return None
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(raw), data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file: name it, no traceback
        refuse("excel_workbook", f"the workbook cannot be read ({type(exc).__name__}: {exc})")
        return None
    names = book.sheetnames
    if sheet is None and len(names) > 1:
        refuse("sheet_named", f"the workbook has {len(names)} sheets ({', '.join(names)}); name one with --sheet")
        return None
    if sheet is not None and sheet not in names:
        refuse("sheet_named", f"the workbook has no sheet {sheet!r} (it has {', '.join(names)})")
        return None
    return book[sheet or names[0]]


def read_sheet(
    raw: bytes, display: str, sheet: str | None, ref: Reference, findings: Findings, max_bytes: int
) -> SheetTable | None:
    """A yearbook-style sheet as the records of the CSV layout, or None with findings."""
    ws = _open_sheet(raw, display, sheet, findings, max_bytes)
    if ws is None:
        return None
    grid = _Sheet(ws, raw)
    errors_before = findings.n_errors
    layout = _find_layout(grid, display, ref, findings)
    if layout is None:
        return None
    rows = _read_rows(grid, layout, display, ref, findings)
    _check_against_total(rows, display, findings)
    if findings.n_errors > errors_before:
        return None
    if rows.skipped:
        what = "; ".join(f"{why}: {', '.join(cells)}" for why, cells in rows.skipped.items())
        findings.add(Issue(display, None, None, "rows_not_read", f"rows not read as figures - {what}", WARNING))
    if layout.scope == USER_SCOPE_ABOVE_SCALE:
        findings.add(
            Issue(
                display,
                None,
                None,
                "above_scale_scope",
                "the figures are of enterprises above designated size (规模以上): each is fitted as a "
                "lower bound of the cell's output, which also counts the smaller enterprises",
                WARNING,
                cell=layout.title_cell,
            )
        )
    if not rows.table.rows:
        findings.add(
            Issue(
                display,
                None,
                None,
                "has_rows",
                f"the sheet has no row of a panel division ({', '.join(sorted(ref.sectors))}) with a value",
                cell=layout.header_cell,
            )
        )
        return None
    return rows.table


def _find_layout(grid: _Sheet, display: str, ref: Reference, findings: Findings) -> _Layout | None:
    def refuse(cell: str, rule: str, message: str) -> None:
        findings.add(Issue(display, None, None, rule, message, cell=cell))

    header = _find_header(grid)
    if header is None:
        refuse(
            grid.name(1, 1),
            "header_row",
            f"no header row with a cell 行业 (the column of industry names) in the first {MAX_HEADER_ROW} rows",
        )
        return None
    header_row, name_col = header
    last_header_row = max(
        [header_row] + [bottom for (row, _), bottom in grid.merged_bottom.items() if row == header_row]
    )
    title, title_cell = _find_title(grid, header_row, ref)
    if title is None:
        refuse(
            grid.name(1, 1),
            "title_row",
            "no title above the header: it names the area and the year, like 德阳市 规模以上工业分行业总产值（2022年）",
        )
        return None
    column = _value_column(grid, display, (header_row, last_header_row), name_col, title, ref, findings)
    if column is None:
        return None
    value_col, header_text, unit, measure, header_cell = column
    area_code = _area_named(title, ref)
    if area_code is None:
        refuse(
            title_cell,
            "area_in_title",
            f"the title {title!r} names no area of seeds/areas.csv, or several "
            f"(the member areas and provinces: {', '.join(_area_names(ref))})",
        )
    years, year_cell = sorted(set(_YEAR_IN_TEXT.findall(header_text))), header_cell
    if not years:
        years, year_cell = sorted(set(_YEAR_IN_TEXT.findall(title))), title_cell
    if len(years) != 1:
        refuse(
            title_cell,
            "year_in_title",
            f"the title {title!r} and the header {header_text!r} name "
            + (f"several years ({', '.join(years)}); one sheet holds one year" if years else "no year, like 2022年"),
        )
    if area_code is None or len(years) != 1:
        return None
    scope = USER_SCOPE_ABOVE_SCALE if ABOVE_SCALE in title + header_text else USER_SCOPE_ALL
    source = f"{title} (sheet {grid.ws.title}, column {header_text})"
    return _Layout(
        name_col,
        value_col,
        last_header_row + 1,
        area_code,
        years[0],
        unit,
        measure,
        source,
        scope,
        title_cell,
        header_cell,
        year_cell,
    )


def _find_header(grid: _Sheet) -> tuple[int, int] | None:
    for row in range(1, min(grid.ws.max_row, MAX_HEADER_ROW) + 1):
        for col in range(1, grid.ws.max_column + 1):
            key = name_key(grid.text(row, col, merged=False))
            if key.startswith("行业") and "代码" not in key:  # 行业, 行业名称; not a column of codes
                return row, col
    return None


def _find_title(grid: _Sheet, header_row: int, ref: Reference) -> tuple[str | None, str | None]:
    """The first text above the header that names an area, else the first text at all."""
    texts = [
        (grid.text(row, col, merged=False), grid.name(row, col))
        for row in range(1, header_row)
        for col in range(1, grid.ws.max_column + 1)
    ]
    texts = [(text, cell) for text, cell in texts if text and not _UNIT_LINE.match(text)]
    naming_an_area = [(text, cell) for text, cell in texts if _area_named(text, ref) is not None]
    return (naming_an_area or texts or [(None, None)])[0]


def _value_column(
    grid: _Sheet,
    display: str,
    header_rows: tuple[int, int],
    name_col: int,
    title: str,
    ref: Reference,
    findings: Findings,
) -> tuple[int, str, str, str, str] | None:
    """The one column of money values: (column, header text, unit, measure, header cell).

    Gross output when there is such a column; of several, the one of the title's year.
    """
    header_row, last_header_row = header_rows
    sheet_unit = next(
        (
            m.group(1)
            for row in range(1, header_row)
            for col in range(1, grid.ws.max_column + 1)
            if (m := _UNIT_LINE.search(grid.text(row, col, merged=False)))
        ),
        None,
    )
    columns = []
    for col in range(1, grid.ws.max_column + 1):
        if col == name_col:
            continue
        parts = [grid.text(row, col) for row in range(header_row, last_header_row + 1)]
        text = "".join(dict.fromkeys(p for p in parts if p))
        measure = next((m for word, m in _MEASURES if word in text), text)
        units = [u for u in _BRACKETED.findall(text) if u.strip() in ref.units] or (
            [sheet_unit] if sheet_unit and measure != text else []
        )
        unit = units[0].strip() if units else None
        if unit in ref.units and ref.units[unit]["unit_family"] == "currency":
            # The lowest cell of the header with text of this column's own (2022年 under a merged 工业总产值).
            own = [row for row in range(header_row, last_header_row + 1) if grid.text(row, col, merged=False)]
            top = next(row for row in range(header_row, last_header_row + 1) if grid.text(row, col))
            cell = grid.name(own[-1], col) if own else grid.name(*grid.merged_top_left.get((top, col), (top, col)))
            columns.append((col, text, unit, measure, cell))
    chosen = [c for c in columns if c[3] == USER_SECTOR_OUTPUT_MEASURE] or columns
    title_years = set(_YEAR_IN_TEXT.findall(title))
    chosen = [c for c in chosen if title_years & set(_YEAR_IN_TEXT.findall(c[1]))] or chosen
    if len(chosen) == 1:
        if len(columns) > 1:
            others = ", ".join(f"{c[4]} {c[1]}" for c in columns if c not in chosen)
            findings.add(
                Issue(
                    display,
                    None,
                    None,
                    "value_column",
                    f"one column is read (gross output of the title's year); not read: {others}",
                    WARNING,
                    cell=chosen[0][4],
                )
            )
        return chosen[0]
    if chosen:
        message = (
            "several value columns ("
            + ", ".join(f"{c[4]} {c[1]}" for c in chosen)
            + "); keep one per sheet (one year, gross output)"
        )
    else:
        message = (
            "no value column: no header cell carries a money unit in brackets, like 工业总产值（万元）"
            f" (units: {', '.join(u for u, r in ref.units.items() if r['unit_family'] == 'currency')})"
        )
    findings.add(Issue(display, None, None, "value_column", message, cell=grid.name(header_row, name_col)))
    return None


def _area_names(ref: Reference) -> list[str]:
    return [r["name_zh"] for code, r in ref.areas.items() if code in ref.member_areas | ref.cluster_provinces]


def _area_named(text: str, ref: Reference) -> str | None:
    """The most specific area whose Chinese name (or that name without 省, 市 or 区) the text holds."""

    def named(row: dict) -> bool:
        name = row["name_zh"]
        short = name[:-1] if name[-1:] in "省市区" and len(name) > 2 else None
        return name in text or (short is not None and short in text)

    found = {code for code, row in ref.areas.items() if named(row)}
    ancestors = set()
    for code in found:
        parent = ref.areas[code]["parent_area_code"]
        while parent:
            ancestors.add(parent)
            parent = ref.areas.get(parent, {}).get("parent_area_code")
    found -= ancestors
    return found.pop() if len(found) == 1 else None


def _read_value(grid: _Sheet, row: int, col: int) -> tuple[str | None, str | None]:
    """(the value as the CSV layout writes it, or None for no figure; a problem, or None)."""
    value = grid.ws.cell(row, col).value
    if isinstance(value, bool):
        return None, f"holds {value}, not a number"
    if isinstance(value, int):
        return str(value), None
    if isinstance(value, float):
        return (repr(value), None) if math.isfinite(value) else (None, f"holds {value}, not a finite number")
    if value is None:
        return None, (
            "holds a formula whose result the file does not store (open and save it in Excel or LibreOffice)"
            if grid.is_formula(row, col)
            else None
        )
    if not isinstance(value, str):
        return None, f"holds a {type(value).__name__} ({value}), not a number"
    text = value.strip()
    if text == "" or text in _NOT_AVAILABLE:
        return None, None
    plain = text.replace(",", "") if _GROUPED.fullmatch(text) else text
    if parse_number(plain) is None:
        return None, f"holds the text {text!r}, which is no number (write 1234567 or 1,234,567)"
    return plain, None


def _kind(key: str, divisions: dict[str, dict[str, str]]) -> tuple[str, str | None]:
    """('total' | 'division' | 'unknown', the division code)."""
    if any(word in key for word in _TOTAL_WORDS) or key in _TOTAL_LABELS:
        return "total", None
    named = divisions.get(key)
    if named is None:
        return "unknown", None
    return ("division", named["division_code"]) if named["category_level"] == "division" else ("total", None)


def _indent(cell) -> float:
    leading = len(cell.value) - len(cell.value.lstrip()) if isinstance(cell.value, str) else 0
    return (cell.alignment.indent or 0) + leading


def _read_rows(grid: _Sheet, layout: _Layout, display: str, ref: Reference, findings: Findings) -> _Rows:
    table = SheetTable(USER_SECTOR_OUTPUT_COLUMNS + list(USER_SECTOR_OUTPUT_OPTIONAL))
    out = _Rows(table)
    divisions = {name_key(r["name_zh"]): r for r in ref.division_names}
    parent_kind, parent_indent, in_part, in_footnotes = "total", 0.0, False, False
    for row in range(layout.first_data_row, grid.ws.max_row + 1):
        name_cell = grid.ws.cell(row, layout.name_col)
        label, where = grid.text(row, layout.name_col, merged=False), grid.name(row, layout.name_col)
        value_here = grid.ws.cell(row, layout.value_col).value not in (None, "")
        if not label and not value_here:
            continue
        if label.startswith(_FOOTNOTE_STARTS) or (in_footnotes and not value_here):
            in_footnotes = True
            out.skip("footnote", where)
            continue
        if not label:
            findings.add(Issue(display, row, None, "industry_name", "a value without an industry name", cell=where))
            continue
        key = name_key(label)
        starts_part = key.startswith(_SUB_ROW)
        in_part = starts_part or (in_part and _indent(name_cell) > parent_indent)
        kind, code = _kind(key.removeprefix(_SUB_ROW), divisions)
        if in_part and (parent_kind == "division" or kind != "division"):
            out.skip("part of the row above (其中)", where)  # counted in the row above, or no division
            continue
        if not in_part:
            parent_kind, parent_indent = kind, _indent(name_cell)
        if kind == "unknown":
            if value_here:
                findings.add(
                    Issue(
                        display,
                        row,
                        None,
                        "industry_name",
                        f"{label!r} is no GB/T 4754-2017 industry name of seeds/gbt4754_division_names.csv "
                        "(mark a part of the row above with 其中)",
                        cell=where,
                    )
                )
            else:
                out.skip("heading", where)
            continue
        _read_figure(grid, layout, display, findings, out, row, kind, code, in_part, ref)
    return out


def _read_figure(
    grid: _Sheet,
    layout: _Layout,
    display: str,
    findings: Findings,
    out: _Rows,
    row: int,
    kind: str,
    code: str | None,
    in_part: bool,
    ref: Reference,
) -> None:
    """One total or division row: a record for a panel division, the sums for the others."""
    value_cell = grid.name(row, layout.value_col)
    value, problem = _read_value(grid, row, layout.value_col)
    if problem is not None:
        findings.add(Issue(display, row, None, "numeric", f"the value cell {problem}", cell=value_cell))
        return
    if value is None:
        out.skip("no figure (empty or …)", value_cell)
        return
    if kind == "total":
        if out.total is None and not in_part:
            out.total = (float(value), value_cell)
        out.skip("total", grid.name(row, layout.name_col))
        return
    out.listed_sum += float(value)
    if code not in ref.sectors:
        out.skip("divisions outside the panel", f"{grid.name(row, layout.name_col)} ({code})")
        return
    out.table.rows.append(
        (
            row,
            {
                "area_code": layout.area_code,
                "sector_code": code,
                "year": layout.year,
                "value": value,
                "unit": layout.unit,
                "measure": layout.measure,
                "source": layout.source,
                "basis": "",
                "scope": layout.scope,
            },
        )
    )
    name_cell = grid.name(row, layout.name_col)
    out.table.cells.update(
        {
            (row, None): name_cell,
            (row, "sector_code"): name_cell,
            (row, "value"): value_cell,
            (row, "area_code"): layout.title_cell,
            (row, "source"): layout.title_cell,
            (row, "year"): layout.year_cell,
            (row, "unit"): layout.header_cell,
            (row, "measure"): layout.header_cell,
            (row, "scope"): layout.title_cell,
        }
    )


def _check_against_total(rows: _Rows, display: str, findings: Findings) -> None:
    """The divisions listed may not add up to more than the sheet's total (0.5 % for rounding)."""
    if rows.total is None:
        return
    total, cell = rows.total
    if rows.listed_sum > total * 1.005:
        findings.add(
            Issue(
                display,
                None,
                None,
                "parts_within_total",
                f"the divisions listed add up to {rows.listed_sum:,.6g}, more than the total {total:,.6g}: "
                "is a row a part of another (mark it 其中) or listed twice?",
                cell=cell,
            )
        )
