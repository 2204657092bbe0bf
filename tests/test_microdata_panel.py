"""Microdata in the panel: whole-year cells replace estimates, cell by cell, and real
microdata must add up to the reported above-scale totals (real builds, hand-made sets).

The set: A, an auto maker in Chengdu (C3670, above scale, year-to-date reports); C, a motor
maker in Jiangjin (C3811, below scale, monthly reports, January and February combined);
optionally R, an above-scale motor maker in Mianyang (rest of Sichuan). All of 2023.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from test_microdata import INVOICES, REGISTER, REPORTS, code, write_csv

from conftest import build_only, make_workspace

A, C, R = code("510112", 11), code("500116", 13), code("510703", 17)


def full_year(directory: Path, with_rest: bool, basis: str | None = None) -> Path:
    extra = [basis] if basis else []
    with_basis = ["basis"] if basis else []
    register = [
        [A, "A", "510112", "C3670", "true", "2010-01-01", "", "2010-01-01"],
        [C, "C", "500116", "C3811", "false", "2012-01-01", "", "2012-01-01"],
    ]
    # A, year to date (yuan): Jan-Feb 2.0e9, then +1.0e9 a month: December 1.2e10.
    reports = [[A, f"2023-{m:02d}-01", "ytd", m * 1e9, m * 1e9, 500] for m in range(2, 13)]
    # C, monthly: Jan-Feb combined 8e8 (a February report and no January one), then 5e8 a month.
    reports += [[C, "2023-02-01", "month", 8e8, 8e8, 90]]
    reports += [[C, f"2023-{m:02d}-01", "month", 5e8, 5e8, 90] for m in range(3, 13)]
    if with_rest:
        # R: 2e8 for Jan-Feb, then 1e8 a month: 1.2e9 in the year.
        register.append([R, "R", "510703", "C3811", "true", "2011-01-01", "", "2011-01-01"])
        reports += [[R, "2023-02-01", "month", 2e8, 2e8, 40]]
        reports += [[R, f"2023-{m:02d}-01", "month", 1e8, 1e8, 40] for m in range(3, 13)]
    write_csv(directory / "enterprises" / "register.csv", REGISTER + with_basis, [r + extra for r in register])
    write_csv(directory / "enterprise_month" / "reports_2023.csv", REPORTS + with_basis, [r + extra for r in reports])
    write_csv(
        directory / "supply_invoices" / "invoices_2023.csv",
        INVOICES + with_basis,
        [["J1", C, A, "2023-06-05", "1000.00", "130.00", ""] + extra],
    )
    return directory


def panel_workspace(root: Path):
    """A copy whose builds build what these tests read: the panel (fct_sector_output via
    build_info), its constraint audits and the microdata layer with its reconciliation, with
    their ancestors and data tests. The other marts' data tests on microdata run in the whole
    builds of the synthetic set below and of tests/test_microdata.py (hand_built)."""
    ws = make_workspace(root)
    build_only(ws, "audit_panel_constraints", "audit_panel_cross_validation", paths=("models/marts/microdata",))
    return ws


def cells(con) -> list[tuple]:
    return con.execute("""
        select area_code, sector_code, output_value_yuan, basis, method, microdata_coverage_share,
            supplied_unit_original
        from marts.fct_sector_output where year = 2023 and method in ('microdata', 'user_supplied')
        order by 1, 2""").fetchall()


@pytest.fixture(scope="module")
def real_with_user_figure(tmp_path_factory):
    ws = panel_workspace(tmp_path_factory.mktemp("micro_panel"))
    data = full_year(ws.project.parent / "micro", with_rest=False)
    user = ws.project.parent / "user.csv"
    user.write_text(
        "area_code,sector_code,year,value,unit,measure,source\n510100,C36,2023,150,亿元,gross_output,test p. 1\n",
        encoding="utf-8",
    )
    result = ws.run("build", "--microdata", str(data), "--sector-output", str(user))
    assert result.returncode == 0, result.stdout + result.stderr
    con = duckdb.connect(str(ws.internal), read_only=True)
    yield con
    con.close()


def test_whole_year_microdata_replace_the_cell_and_a_user_figure_takes_precedence(real_with_user_figure):
    con = real_with_user_figure
    # Jiangjin C38 2023: 8e8 + 10 x 5e8 = 5.8e9 yuan, all twelve months: the microdata's cell,
    # reported (real microdata), which the fit meets (below); published NULL all the same, as one
    # enterprise (C) is fewer than the 3 disclosure control asks (var disclosure_min_enterprises).
    # Chengdu C36 2023: the microdata sum to 1.2e10 (December's year-to-date), but the user's
    # 150 亿元 = 1.5e10 for the same cell wins.
    assert cells(con) == [
        ("500116", "C38", None, "reported", "microdata", 1.0, "元"),
        ("510100", "C36", 1.5e10, "reported", "user_supplied", 1.0, "亿元"),
    ]
    assert con.execute("""select null_reason from marts.fct_sector_output
                          where area_code = '500116' and sector_code = 'C38' and year = 2023""").fetchone() == (
        "withheld by disclosure control of the enterprise microdata: too_few_enterprises",
    )
    # Every other cell stays estimated, and not synthetic: no synthetic input entered the fit.
    assert con.execute("""select count(*), count(*) filter (where basis = 'estimated')
                          from marts.fct_sector_output where method not in ('microdata', 'user_supplied')
                          and output_value_yuan is not null""").fetchone() == (648 - 72 - 2, 648 - 72 - 2)
    # The microdata's cell is a hard constraint the fit meets, named by its origin; the audit marts
    # do not give its value away: no value, target or fitted value, and no cross-validation row.
    assert con.execute("""select origin, is_hard, is_met, value_original, target, fitted_value, residual, status
                          from marts.audit_panel_constraints
                          where constraint_id = 'microdata:500116:C38:2023'""").fetchone() == (
        "microdata",
        True,
        True,
        None,
        None,
        None,
        None,
        "withheld by disclosure control of the enterprise microdata: too_few_enterprises",
    )
    assert con.execute("""select count(*) from marts.audit_panel_cross_validation
                          where constraint_id = 'microdata:500116:C38:2023'""").fetchone() == (0,)
    # 2 of 648 cells are supplied: one by the microdata.
    estimated, micro = con.execute("select estimated_cell_share, microdata_cell_share from marts.build_info").fetchone()
    assert (round(estimated * 648), round(micro * 648)) == (646, 1)


def test_the_above_scale_part_is_kept_apart(real_with_user_figure):
    con = real_with_user_figure
    # C is below scale: its 5.8e9 counts in the cell, none of it above scale. A is above scale.
    assert con.execute("""
        select area_code, sector_code, cast(output_value_yuan as double), cast(above_scale_output_yuan as double),
            n_enterprises, n_above_scale_enterprises
        from intermediate.int_microdata_sector_output order by 1""").fetchall() == [
        ("500116", "C38", 5.8e9, 0.0, 1, 0),
        ("510100", "C36", 1.2e10, 1.2e10, 1, 1),
    ]
    # F0040 (Sichuan 2023, above-scale equipment 8548.8 亿元): the register holds no enterprise
    # of the rest of Sichuan, so the province cannot be compared.
    assert con.execute("""select figure_id, status, relative_difference, months_covered
                          from microdata.audit_microdata_reconciliation""").fetchall() == [
        ("F0040", "no_rest_of_province", None, 12)
    ]


def test_real_microdata_that_miss_the_reported_total_are_not_published(tmp_path, no_tracebacks):
    ws = panel_workspace(tmp_path)
    data = full_year(ws.project.parent / "micro", with_rest=True)
    result = ws.run("build", "--microdata", str(data))
    output = result.stdout + result.stderr
    # Above scale in Sichuan 2023: A 1.2e10 + R 1.2e9 = 1.32e10 yuan against F0040's
    # 8548.8 亿元 = 8.5488e11: (1.32e10 - 8.5488e11) / 8.5488e11 = -0.98456, beyond 5 %.
    assert result.returncode == 4, output
    assert "assert_microdata_reconciles" in output and "F0040" in output
    assert "-0.9845" in output
    assert not ws.published.exists()


def test_synthetic_microdata_label_every_estimate_and_need_not_reconcile(tmp_path):
    # A whole build: every mart's data tests run on estimates labelled synthetic by microdata.
    ws = make_workspace(tmp_path)
    data = full_year(ws.project.parent / "micro", with_rest=True, basis="synthetic")
    result = ws.run("build", "--microdata", str(data))
    assert result.returncode == 0, result.stdout + result.stderr
    con = duckdb.connect(str(ws.internal), read_only=True)
    try:
        # Mianyang is no member: its cell only counts towards the reconciliation. Each member's
        # cell holds one enterprise: fewer than the 3 disclosure control asks, so the fit meets
        # them (5.8e9 and 1.2e10) but publishes them NULL, synthetic data as real ones.
        assert cells(con) == [
            ("500116", "C38", None, "synthetic", "microdata", 1.0, "元"),
            ("510100", "C36", None, "synthetic", "microdata", 1.0, "元"),
        ]
        # The fit is one joint solve: a synthetic input moves every estimate, so all are synthetic.
        assert con.execute("""select distinct basis from marts.fct_sector_output
                              where output_value_yuan is not null""").fetchall() == [("synthetic",)]
        status, difference = con.execute("""select status, round(relative_difference, 5)
                                             from microdata.audit_microdata_reconciliation""").fetchone()
        assert (status, difference) == ("differs", -0.98456)
    finally:
        con.close()
