"""User figures at any level join the panel fit as hard constraints (issue 10): an area's
equipment total and a province's division fix the sums of the cells they cover, which stay
estimated; contradicting figures stop the build and name the rows. A yearbook-style Excel
sheet is read into the same rows (issue 25, item 6)."""

from __future__ import annotations

import duckdb
import openpyxl

from conftest import build_only

HEADER = "area_code,sector_code,year,value,unit,measure,source\n"
# What these tests read: the panel (fct_sector_output, built for build_info), the province
# sums and the constraint audit, with their ancestors and data tests (tests/conftest.py
# build_only). The other marts' data tests on user figures run in the full builds of
# tests/test_faults.py and tests/test_bad_inputs.py.
READ_HERE = ("fct_province_sector_output", "audit_panel_constraints")


def test_an_area_total_and_a_province_division_fix_their_sums(workspace, tmp_path):
    # Deyang's 2023 equipment output (every division of the provincial definition: C33-C38,
    # C40, C43; C39 excluded) is given as 1600 亿元 = 1600 x 1e8 = 1.6e11 yuan, and Sichuan's
    # 2023 C36 as 2000 亿元 = 2.0e11 yuan (the shipped build has about 1393 and 2149).
    path = tmp_path / "totals.csv"
    path.write_text(
        HEADER + "510600,equipment,2023,1600,亿元,gross_output,test yearbook p. 1\n"
        "510000,C36,2023,2000,亿元,gross_output,test yearbook p. 2\n",
        encoding="utf-8",
    )
    build_only(workspace, *READ_HERE)
    result = workspace.run("build", "--sector-output", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    con = duckdb.connect(str(workspace.published), read_only=True)
    try:
        deyang, bases, c39 = con.execute("""
            select sum(output_value_yuan) filter (where sector_code <> 'C39'),
                   list_distinct(list(basis)), any_value(output_value_yuan) filter (where sector_code = 'C39')
            from marts.fct_sector_output where area_code = '510600' and year = 2023""").fetchone()
        sichuan_c36 = con.execute("""
            select output_value_yuan from marts.fct_province_sector_output
            where area_code = '510000' and sector_code = 'C36' and year = 2023""").fetchone()[0]
        audit = con.execute("""
            select constraint_id, origin, is_hard, is_met, status from marts.audit_panel_constraints
            where origin = 'user_figure' order by constraint_id""").fetchall()
    finally:
        con.close()
    assert abs(deyang - 1.6e11) <= 1e-6 * 1.6e11
    assert abs(sichuan_c36 - 2.0e11) <= 1e-6 * 2.0e11
    assert bases == ["estimated"]  # the cells move to meet the total; none of them is reported
    assert c39 is None  # C39 is outside the definition and stays NULL
    assert audit == [
        ("user:510000:C36:2023", "user_figure", True, True, "fitted"),
        ("user:510600:equipment:2023", "user_figure", True, True, "fitted"),
    ]


def test_contradicting_user_figures_stop_the_build_and_name_them(workspace, tmp_path):
    # Deyang's C36 alone is 900 亿元 but C36 + C37 together only 500 亿元: with output >= 0
    # no panel meets both.
    path = tmp_path / "contradiction.csv"
    path.write_text(
        HEADER + "510600,C36,2023,900,亿元,gross_output,test p. 1\n"
        "510600,C36+C37,2023,500,亿元,gross_output,test p. 2\n",
        encoding="utf-8",
    )
    # The reader runs the fit's feasibility check on the file itself, so validate and build
    # both refuse it before dbt starts (exit 3), naming the lines.
    for command in ("validate", "build"):
        result = workspace.run(command, "--sector-output", str(path))
        output = result.stdout + result.stderr
        assert result.returncode == 3, output
        assert "Traceback" not in output
        assert "consistent_figures" in output and "line 2" in output and "line 3" in output
    assert not workspace.published.exists()


def yearbook_sheet(path, value_of_c35):
    """Deyang's 2022 output by industry in 万元, as a yearbook prints it (title merged, a
    total, 其中 parts, a division outside the panel, a footnote)."""
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "Sheet1"
    ws["A1"] = "德阳市 规模以上工业分行业总产值（2022年）"
    ws.merge_cells("A1:C1")
    for row in (
        ["行业", "工业总产值（万元）", "比上年增长（%）"],
        ["合计", 50000000, 6.2],
        ["纺织业", 100000, None],
        ["通用设备制造业", 1234567, 4.0],
        ["  其中：锅炉及原动设备制造", 800000, None],
        ["专用设备制造业", value_of_c35, None],
        ["电气机械和器材制造业", "2,345,678", 8.5],
        [],
        ["注：试验用的表，数字为虚构（test data, invented numbers）。"],
    ):
        ws.append(row)
    book.save(path)


def test_a_yearbook_excel_sheet_in_wan_yuan_builds_as_user_figures(workspace, tmp_path):
    bad = tmp_path / "bad.xlsx"
    yearbook_sheet(bad, "12,34x")  # C7 cannot be read: exit 3, named, nothing built
    result = workspace.run("build", "--sector-output", str(bad))
    assert result.returncode == 3, result.stdout + result.stderr
    assert "cell Sheet1!B7: the value cell holds the text '12,34x'" in result.stderr
    assert not workspace.published.exists()

    path = tmp_path / "deyang_2022.xlsx"
    yearbook_sheet(path, 987654.5)
    build_only(workspace, *READ_HERE)
    result = workspace.run("build", "--sector-output", str(path), "--sheet", "Sheet1")
    assert result.returncode == 0, result.stdout + result.stderr
    con = duckdb.connect(str(workspace.internal), read_only=True)
    try:
        bounds = con.execute("""
            select constraint_id, sense, value_qualifier, target, value_original, unit_original, status, is_met,
                   scope
            from marts.audit_panel_constraints where origin = 'user_figure' order by constraint_id""").fetchall()
        cells = con.execute("""
            select sector_code, output_value_yuan >= case sector_code when 'C34' then 12345670000
                       when 'C35' then 9876545000 else 23456780000 end, method
            from marts.fct_sector_output
            where area_code = '510600' and year = 2022 and sector_code in ('C34', 'C35', 'C38')
            order by sector_code""").fetchall()
        lines = con.execute(
            "select supplied_line, supplied_file from intermediate.int_sector_output_supplied order by 1"
        ).fetchall()
    finally:
        con.close()
    # 规模以上 in the title: each figure is a lower bound ('>=') of its cell's output of all
    # enterprises, never the cell's value; the cells stay estimated, at or above the bound.
    # 1,234,567 万元 = 1,234,567 x 1e4 yuan = 12,345,670,000 yuan (123.4567 亿元);
    # 987,654.5 万元 = 9,876,545,000 yuan; 2,345,678 万元 = 23,456,780,000 yuan.
    # Not figures: the total (row 3), 纺织业 (C17, row 4), the 其中 part of C34 (row 6).
    scope = "above_scale_output_of_the_divisions_named"
    assert bounds == [
        (
            "user:510600:C34:2022:above_scale",
            ">=",
            "lower_bound",
            12_345_670_000.0,
            1234567.0,
            "万元",
            "fitted",
            True,
            scope,
        ),
        (
            "user:510600:C35:2022:above_scale",
            ">=",
            "lower_bound",
            9_876_545_000.0,
            987654.5,
            "万元",
            "fitted",
            True,
            scope,
        ),
        (
            "user:510600:C38:2022:above_scale",
            ">=",
            "lower_bound",
            23_456_780_000.0,
            2345678.0,
            "万元",
            "fitted",
            True,
            scope,
        ),
    ]
    assert cells == [
        ("C34", True, "constrained_fit"),
        ("C35", True, "constrained_fit"),
        ("C38", True, "constrained_fit"),
    ]
    assert lines == [(5, str(path)), (7, str(path)), (8, str(path))]
