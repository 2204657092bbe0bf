"""Yearbook-style Excel sheets as --sector-output (issue 25, item 6), without a build: each
sheet is made here with openpyxl, read into the CSV layout's records and checked as a CSV
file is; every problem is named by its cell."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from chengyu_cluster.inputs.excel import name_key, read_sheet
from chengyu_cluster.inputs.reader import ERROR, Findings, read_inputs

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "templates" / "sector_output_template.xlsx"
LIMIT = 16 * 2**20
TITLE = "德阳市 规模以上工业分行业总产值（2022年）"
HEADER = ["行业代码", "行业名称", "工业总产值（万元）", "比上年增长（%）"]


@pytest.fixture(scope="module")
def ref():
    return read_inputs(REPO).reference


def workbook(rows: list[list], title: str = "Sheet", merge: str | None = "A1:D1", more_sheets: int = 0) -> bytes:
    """A workbook whose sheet holds `rows` from A1 down (None leaves a cell empty)."""
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = title
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            if value is not None:
                ws.cell(r, c, value)
    if merge:
        ws.merge_cells(merge)
    for n in range(more_sheets):
        book.create_sheet(f"extra{n}")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def yearbook(*data: list, title: str = TITLE) -> bytes:
    # Row 1 the title (merged over A1:D1), row 2 the unit line, row 3 the header, data from row 4.
    return workbook([[title], [None, None, None, "单位：万元"], HEADER, *data])


def read(raw: bytes, ref, sheet: str | None = None):
    findings = Findings()
    return read_sheet(raw, "t.xlsx", sheet, ref, findings, LIMIT), findings


def errors(findings: Findings) -> list[tuple[str | None, str]]:
    return [(i.cell, i.rule) for i in findings.kept if i.severity == ERROR]


def test_a_sheet_in_wan_yuan_becomes_the_csv_records_and_yuan(tmp_path, ref):
    path = tmp_path / "deyang.xlsx"
    path.write_bytes(yearbook(["34", "通用设备制造业", 1234567, 3.1], ["36", "汽车制造业", "2,000,000.5", None]))
    accepted = read_inputs(REPO, path)
    assert accepted.ok, accepted.findings.lines()
    rows = accepted.tables["user_sector_output"]
    # The rows the CSV reader yields for `510600,C34,2022,1234567,万元,gross_output,...`, the
    # Excel row as line; the value stays as printed, in its unit.
    assert [
        (r["line_number"], r["area_code"], r["sector_code"], r["year"], r["value"], r["unit"], r["measure"])
        for r in rows
    ] == [
        (4, "510600", "C34", 2022, 1234567.0, "万元", "gross_output"),
        (5, "510600", "C36", 2022, 2000000.5, "万元", "gross_output"),
    ]
    # 规模以上 in the title: enterprises above designated size, a lower bound of each cell
    # (int_panel_constraints reads scope above_scale as '>=').
    assert rows[0]["source"].startswith(TITLE) and [r["scope"] for r in rows] == ["above_scale", "above_scale"]
    # Normalised as the warehouse does (factor_to_base of seeds/unit_conversions.csv):
    # 1,234,567 万元 = 1,234,567 x 1e4 yuan = 12,345,670,000 yuan = 123.4567 亿元;
    # 2,000,000.5 万元 = 20,000,005,000 yuan = 200.00005 亿元.
    assert ref.to_yuan(rows[0]["value"], "万元") == 12_345_670_000
    assert ref.to_yuan(rows[0]["value"], "万元") / ref.to_yuan(1, "亿元") == pytest.approx(123.4567, abs=1e-9)
    assert ref.to_yuan(rows[1]["value"], "万元") / ref.to_yuan(1, "亿元") == pytest.approx(200.00005, abs=1e-9)
    assert accepted.files[-1].kind == "sector_output" and accepted.files[-1].size_bytes == len(path.read_bytes())


def test_names_map_through_the_seed_with_aliases_and_yearbook_spellings(ref):
    table, findings = read(
        yearbook(
            [None, "铁路船舶航空航天和其他运输设备制造业", 10, None],  # no 、 : C37
            [None, "C38 电气机械和器材制造业", 20, None],  # a leading code: C38
            [None, "\u3000\u3000仪器仪表制造业（40）", 30, None],  # full-width spaces, code in brackets: C40
            [None, "石油加工、炼焦和核燃料加工业", 40, None],
        ),
        ref,
    )  # the 2011 name of C25: outside the panel
    assert errors(findings) == []
    assert [(line, r["sector_code"], r["value"]) for line, r in table.rows] == [
        (4, "C37", "10"),
        (5, "C38", "20"),
        (6, "C40", "30"),
    ]
    skipped = next(i.message for i in findings.kept if i.rule == "rows_not_read")
    assert "divisions outside the panel: Sheet!B7 (C25)" in skipped


def test_the_names_seed_agrees_with_the_panel_sectors(ref):
    keys = [name_key(r["name_zh"]) for r in ref.division_names]
    assert len(keys) == len(set(keys))  # no two names meet after white space and punctuation go
    official = {r["division_code"]: r["name_zh"] for r in ref.division_names if r["name_kind"] == "official"}
    assert sum(r["name_kind"] == "official" for r in ref.division_names) == len(official) == 3 + 41
    sectors = read_inputs(REPO).tables["sectors"]
    assert {s["sector_code"]: s["name_zh"] for s in sectors} == {c: official[c] for c in ref.sectors}


def test_totals_are_not_figures_and_parts_are_not_counted_twice(ref):
    table, findings = read(
        yearbook(
            [None, "合计", 5000, None],
            [None, "制造业", 4800, None],  # a section: a total of its divisions
            [None, "  其中：通用设备制造业", 1000, None],  # a part of a total that is a division: its figure
            [None, "汽车制造业", 2000, None],
            [None, "  其中：汽车整车制造", 1500, None],  # parts of C36: not counted again
            [None, "    汽车零部件及配件制造", 500, None],  # more indented after 其中: still a part
            [None, "专用设备制造业", 800, None],
            [],
            [None, "注：1. 本表为规模以上工业企业。", None, None],
            [None, "2. 数据来源：德阳市统计局。", None, None],
        ),
        ref,
    )
    # The divisions counted, 1000 + 2000 + 800 = 3800, stay within the total 5000.
    assert errors(findings) == []
    assert [(line, r["sector_code"], r["value"]) for line, r in table.rows] == [
        (6, "C34", "1000"),
        (7, "C36", "2000"),
        (10, "C35", "800"),
    ]
    skipped = next(i.message for i in findings.kept if i.rule == "rows_not_read")
    assert "total: Sheet!B4, Sheet!B5" in skipped
    assert "part of the row above (其中): Sheet!B8, Sheet!B9" in skipped and "footnote: Sheet!B12, Sheet!B13" in skipped


def test_the_same_division_twice_is_named_by_its_cell(tmp_path, ref):
    path = tmp_path / "twice.xlsx"
    path.write_bytes(yearbook([None, "通用设备制造业", 1000, None], [None, "通用设备制造业", 1200, None]))
    findings = read_inputs(REPO, path).findings
    assert errors(findings) == [("Sheet!B5", "same_key_same_value")]


def test_divisions_adding_up_to_more_than_the_total_are_refused(ref):
    # 2000 + 1500 = 3500 > 3000 x 1.005: the 汽车整车制造 row was meant as a part of C36 but is a
    # division name here, so something counts twice.
    _, findings = read(
        yearbook([None, "合计", 3000, None], [None, "汽车制造业", 2000, None], [None, "通用设备制造业", 1500, None]),
        ref,
    )
    assert errors(findings) == [("Sheet!C4", "parts_within_total")]


def test_a_cell_that_cannot_be_read_is_named_by_sheet_row_and_column(ref):
    _, findings = read(
        yearbook(
            [None, "通用设备制造业", 1000, None],
            [None, "专用设备制造业", 900, None],
            [None, "汽车制造业", "", None],  # empty: no figure, a warning
            [None, "金属制品业", "…", None],  # a yearbook's "not available": no figure
            [None, "仪器仪表制造业", "12,34x", None],
        ),
        ref,
    )
    assert errors(findings) == [("Sheet!C8", "numeric")]
    message = str(findings.kept[0])
    assert message.startswith("ERROR t.xlsx, cell Sheet!C8: the value cell holds the text '12,34x'")


def test_an_unknown_industry_name_is_named_with_its_row(ref):
    _, findings = read(yearbook([None, "通用设备制造业", 1000, None], [None, "汽车整车制造", 700, None]), ref)
    assert [(i.line, i.cell, i.rule) for i in findings.kept if i.severity == ERROR] == [
        (5, "Sheet!B5", "industry_name")
    ]


@pytest.mark.parametrize(
    "title,rule",
    [
        ("广州市 规模以上工业分行业总产值（2022年）", "area_in_title"),  # no area of seeds/areas.csv
        ("德阳市 规模以上工业分行业总产值", "year_in_title"),  # no year
        ("德阳市 2021-2022年 工业总产值", "year_in_title"),  # two years
    ],
)
def test_the_title_must_name_one_known_area_and_one_year(ref, title, rule):
    _, findings = read(yearbook([None, "通用设备制造业", 1000, None], title=title), ref)
    assert errors(findings) == [("Sheet!A1", rule)]


def test_the_csv_checks_name_the_cells_they_read(tmp_path, ref):
    # 广东省 is an area of seeds/areas.csv but neither a member nor a cluster province; 2031 is
    # after the panel; a negative value is no output: the same rules as for a CSV row.
    path = tmp_path / "checks.xlsx"
    path.write_bytes(yearbook([None, "通用设备制造业", -5, None], title="广东省 工业分行业总产值（2031年）"))
    findings = read_inputs(REPO, path).findings
    assert [(i.cell, i.rule) for i in findings.kept if i.severity == ERROR] == [
        ("Sheet!A1", "known_member_area"),
        ("Sheet!A1", "year_range"),
        ("Sheet!C4", "non_negative"),
    ]


def test_revenue_is_read_and_refused_as_another_measure(tmp_path):
    path = tmp_path / "revenue.xlsx"
    path.write_bytes(
        workbook(
            [["成都市 规模以上工业分行业营业收入（2022年）"], ["行业", "营业收入（亿元）"], ["汽车制造业", 1800.5]],
            merge=None,
        )
    )
    findings = read_inputs(REPO, path).findings
    assert errors(findings) == [("Sheet!B2", "same_scope")]


def test_workbooks_sheets_and_formulas(tmp_path, ref):
    two = yearbook([None, "通用设备制造业", 1000, None])
    _, several = read(workbook([[TITLE], HEADER, [None, "通用设备制造业", 1]], more_sheets=1), ref)
    assert [i.rule for i in several.kept] == ["sheet_named"] and "name one with --sheet" in several.kept[0].message
    table, _ = read(workbook([[TITLE], HEADER, [None, "通用设备制造业", 1]], more_sheets=1), ref, sheet="Sheet")
    assert len(table.rows) == 1
    assert [i.rule for i in read(two, ref, sheet="Sheet2")[1].kept] == ["sheet_named"]
    assert [i.rule for i in read(b"area_code,sector_code\n", ref)[1].kept] == ["excel_workbook"]
    # openpyxl stores a formula without its result: nothing to read, named by its cell.
    _, formula = read(yearbook([None, "通用设备制造业", 1000, None], [None, "专用设备制造业", "=C4*2", None]), ref)
    assert errors(formula) == [("Sheet!C5", "numeric")] and "formula" in formula.kept[0].message
    csv = tmp_path / "figures.csv"
    csv.write_text("area_code,sector_code,year,value,unit,measure,source\n", encoding="utf-8")
    assert [i.rule for i in read_inputs(REPO, csv, sheet="Sheet1").findings.kept] == ["sheet_of_a_workbook"]


def test_the_template_reads_once_filled_in(tmp_path, ref):
    # As shipped, its title names no area and no year and every value is blank: no figure.
    _, findings = read(TEMPLATE.read_bytes(), ref)
    assert errors(findings) == [("工业总产值!A1", "area_in_title"), ("工业总产值!A1", "year_in_title")]
    book = openpyxl.load_workbook(TEMPLATE)
    ws = book.active
    ws["A1"] = ws["A1"].value.replace("地区名", "资阳市").replace("年份", "2022年")
    row = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 2).value == "汽车制造业")
    ws.cell(row, 3, 123456)
    filled = tmp_path / "filled.xlsx"
    book.save(filled)
    accepted = read_inputs(REPO, filled)
    assert accepted.ok, accepted.findings.lines()
    assert [
        (r["area_code"], r["sector_code"], r["year"], r["value"], r["unit"], r["scope"])
        for r in accepted.tables["user_sector_output"]
    ] == [("512000", "C36", 2022, 123456.0, "万元", "above_scale")]


def test_the_template_script_rebuilds_the_template(tmp_path):
    out = tmp_path / "t.xlsx"
    subprocess.run([sys.executable, str(REPO / "templates" / "make_sector_output_template.py"), str(out)], check=True)

    def cells(path):
        return [[c.value for c in row] for row in openpyxl.load_workbook(path).active.iter_rows()]

    assert cells(out) == cells(TEMPLATE)


def test_a_two_row_merged_header_reads_the_column_of_the_titles_year(ref):
    # 行业 is merged over A2:A3 and 工业总产值 over B2:C2, with the years below it; the unit
    # comes from the 单位 line; the title's year picks column B (2022), C (2021) is not read.
    raw = workbook(
        [
            ["成都市规模以上工业企业分行业主要指标（2022年）", None, "单位：亿元"],
            ["行业", "工业总产值"],
            [None, "2022年", "2021年"],
            ["汽车制造业", 1530.25, 1400],
        ],
        merge="A2:A3",
    )
    book = openpyxl.load_workbook(io.BytesIO(raw))
    book.active.merge_cells("B2:C2")
    out = io.BytesIO()
    book.save(out)
    table, findings = read(out.getvalue(), ref)
    assert errors(findings) == []
    assert [(line, r["area_code"], r["sector_code"], r["year"], r["value"], r["unit"]) for line, r in table.rows] == [
        (4, "510100", "C36", "2022", "1530.25", "亿元")
    ]
    assert table.cells[(4, "value")] == "Sheet!B4" and table.cells[(4, "year")] == "Sheet!B3"
    assert next(i for i in findings.kept if i.rule == "value_column").message.endswith(
        "not read: Sheet!C3 工业总产值2021年"
    )
