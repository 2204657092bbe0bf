"""A reported figure that cannot be used is listed, not fatal and not used.

One figure with a unit the warehouse cannot convert is added to a copy of the repository.
The build must still publish (exit 0) with a warning naming the figure, the published
marts.audit_rejected_figures must hold exactly that figure with the reason, and no other
mart - no fact, dimension or measure - may carry it.
"""

from __future__ import annotations

import duckdb
import pytest

# 亿美元 (100 million US dollars) is not in seeds/unit_conversions.csv: the figure cannot be
# normalised to yuan. Everything else about it is valid: a known area, metric, year and source.
BAD_FIGURE_ID = "F9999"
BAD_FIGURE = (f"{BAD_FIGURE_ID},四川省,510000,gdp,2020,7000,亿美元,"
              "http://www.tjcn.org/tjgb/23sc/36783.html (Sichuan 2020 statistical bulletin),"
              "test row: a unit the warehouse cannot convert,high\n")


@pytest.fixture(scope="module")
def rejected_build(tmp_path_factory):
    from conftest import make_workspace

    ws = make_workspace(tmp_path_factory.mktemp("rejected"))
    figures = ws.project / "seeds" / "reported_figures.csv"
    text = figures.read_text(encoding="utf-8")
    assert BAD_FIGURE_ID not in text
    figures.write_text(text + BAD_FIGURE, encoding="utf-8")
    result = ws.run("build")
    return ws, result, result.stdout + result.stderr


def test_the_build_publishes_with_a_warning_naming_the_figure(rejected_build):
    ws, result, output = rejected_build
    assert result.returncode == 0, output
    assert "Published" in result.stdout
    assert "WARNING dbt test assert_every_figure_parses" in output
    warning_rows = [line for line in output.splitlines() if BAD_FIGURE_ID in line and "亿美元" in line]
    assert warning_rows, output
    assert "figures rejected: 1" in result.stdout
    assert "Traceback" not in output


def test_the_audit_mart_holds_exactly_that_figure(rejected_build):
    ws, _, _ = rejected_build
    con = duckdb.connect(str(ws.published), read_only=True)
    try:
        rows = con.execute("select figure_id, unit_raw, rejection_reason from marts.audit_rejected_figures").fetchall()
        n_facts = con.execute("select count(*) from marts.fct_reported_figures").fetchone()[0]
    finally:
        con.close()
    assert [r[0] for r in rows] == [BAD_FIGURE_ID]
    assert rows[0][1] == "亿美元"
    assert rows[0][2].startswith("unit: '亿美元' cannot be parsed")
    # The 254 shipped figures are all still there; the bad one is not among them.
    assert n_facts == 254


def test_the_rejected_figure_enters_no_other_mart(rejected_build):
    # Every text column of every other public mart (figure ids, lists of figure ids that a
    # value was derived from, chosen figures, conflict pairs) is searched for the id.
    ws, _, _ = rejected_build
    con = duckdb.connect(str(ws.published), read_only=True)
    try:
        columns = con.execute("""
            select table_name, column_name from duckdb_columns()
            where schema_name = 'marts' and data_type = 'VARCHAR' and table_name <> 'audit_rejected_figures'
            order by table_name, column_name
        """).fetchall()
        found = [(table, column) for table, column in columns
                 if con.execute(f'select count(*) from marts."{table}" where contains("{column}", ?)',
                                [BAD_FIGURE_ID]).fetchone()[0]]
        # Sichuan's 2020 GDP in the indicators is the reported yuan figure, not the dollar one.
        chosen = con.execute("""
            select chosen_figure_id, base_unit from marts.fct_area_indicators
            where area_code = '510000' and metric_code = 'gdp' and year = 2020
        """).fetchone()
    finally:
        con.close()
    assert len(columns) > 50
    assert found == []
    assert chosen[0] != BAD_FIGURE_ID and chosen[1] == "yuan"
