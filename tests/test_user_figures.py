"""User figures at any level join the panel fit as hard constraints (issue 10): an area's
equipment total and a province's division fix the sums of the cells they cover, which stay
estimated; contradicting figures stop the build and name the rows."""
from __future__ import annotations

import duckdb

HEADER = "area_code,sector_code,year,value,unit,measure,source\n"


def test_an_area_total_and_a_province_division_fix_their_sums(workspace, tmp_path):
    # Deyang's 2023 equipment output (every division of the provincial definition: C33-C38,
    # C40, C43; C39 excluded) is given as 1600 亿元 = 1600 x 1e8 = 1.6e11 yuan, and Sichuan's
    # 2023 C36 as 2000 亿元 = 2.0e11 yuan (the shipped build has about 1393 and 2149).
    path = tmp_path / "totals.csv"
    path.write_text(HEADER + "510600,equipment,2023,1600,亿元,gross_output,test yearbook p. 1\n"
                             "510000,C36,2023,2000,亿元,gross_output,test yearbook p. 2\n", encoding="utf-8")
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
    assert audit == [("user:510000:C36:2023", "user_figure", True, True, "fitted"),
                     ("user:510600:equipment:2023", "user_figure", True, True, "fitted")]


def test_contradicting_user_figures_stop_the_build_and_name_them(workspace, tmp_path):
    # Deyang's C36 alone is 900 亿元 but C36 + C37 together only 500 亿元: with output >= 0
    # no panel meets both.
    path = tmp_path / "contradiction.csv"
    path.write_text(HEADER + "510600,C36,2023,900,亿元,gross_output,test p. 1\n"
                             "510600,C36+C37,2023,500,亿元,gross_output,test p. 2\n", encoding="utf-8")
    # The reader runs the fit's feasibility check on the file itself, so validate and build
    # both refuse it before dbt starts (exit 3), naming the lines.
    for command in ("validate", "build"):
        result = workspace.run(command, "--sector-output", str(path))
        output = result.stdout + result.stderr
        assert result.returncode == 3, output
        assert "Traceback" not in output
        assert "consistent_figures" in output and "line 2" in output and "line 3" in output
    assert not workspace.published.exists()
