"""A reported figure that cannot be used is listed, not fatal and not used.

One figure with a unit the warehouse cannot convert is added to a copy of the repository
(beside one moved to an unknown area, checked in tests/test_bad_inputs.py: one shared build).
The build must still publish (exit 0) with a warning naming the figure, the published
marts.audit_rejected_figures must hold exactly these figures with the reason, and no other
mart - no fact, dimension or measure - may carry it.
"""

from __future__ import annotations

import duckdb
import pytest

from conftest import UNCONVERTIBLE_FIGURE_ID as BAD_FIGURE_ID


@pytest.fixture(scope="module")
def rejected_build(rejected_figures_built):
    """The shared build with two unplaceable figures (conftest): this file checks the one in
    亿美元; tests/test_bad_inputs.py the one with an unknown area."""
    ws = rejected_figures_built
    result = ws.build_result
    return ws, result, result.stdout + result.stderr


def test_the_build_publishes_with_a_warning_naming_the_figure(rejected_build):
    ws, result, output = rejected_build
    assert result.returncode == 0, output
    assert "Published" in result.stdout
    assert "WARNING dbt test assert_every_figure_parses" in output
    warning_rows = [line for line in output.splitlines() if BAD_FIGURE_ID in line and "亿美元" in line]
    assert warning_rows, output
    assert "figures rejected: 2" in result.stdout  # and F0158 with its unknown area
    assert "Traceback" not in output


def test_the_audit_mart_holds_exactly_that_figure(rejected_build):
    ws, _, _ = rejected_build
    con = duckdb.connect(str(ws.published), read_only=True)
    try:
        rows = con.execute(
            "select figure_id, unit_raw, rejection_reason from marts.audit_rejected_figures order by figure_id"
        ).fetchall()
        n_facts = con.execute("select count(*) from marts.fct_reported_figures").fetchone()[0]
    finally:
        con.close()
    assert [r[0] for r in rows] == ["F0158", BAD_FIGURE_ID]
    assert rows[1][1] == "亿美元"
    assert rows[1][2].startswith("unit: '亿美元' cannot be parsed")
    # Every shipped figure but F0158 (its area moved to an unknown code) is still there; the bad one is not.
    # The copy's file: the shipped figures and F9999, one line each after the header.
    in_copy = (ws.project / "seeds" / "reported_figures.csv").read_text(encoding="utf-8").count("\nF")
    assert n_facts == in_copy - 2


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
        found = [
            (table, column)
            for table, column in columns
            if con.execute(
                f'select count(*) from marts."{table}" where contains("{column}", ?)', [BAD_FIGURE_ID]
            ).fetchone()[0]
        ]
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
