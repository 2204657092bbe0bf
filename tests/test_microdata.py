"""`chengyu build --microdata`: real builds with small microdata sets.

A hand-made set whose results are worked out by hand (year-to-date with the combined
January-February report, red-letter netting, a relocation attributed by month, an
out-of-register counterpart); synthetic sets a month apart (an incremental build equals a
full refresh, and rebuilds only the recent months); and the bad-input kinds of the new
files (one-line errors, exit 3, nothing published).
"""

from __future__ import annotations

import csv
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import sqlalchemy

from chengyu_cluster.microdata.credit_codes import org_check_char, uscc_check_char
from chengyu_cluster.synth.generator import SynthConfig, synth

from conftest import REPO, build_only, dbt_parse_state, make_workspace


def code(county: str, number: int) -> str:
    """A valid credit code: '91', the county, an organisation code and the GB 32100 check."""
    org = f"{number:08d}"
    body = "91" + county + org + org_check_char(org)
    return body + uscc_check_char(body)


A, B, C, S = code("510112", 1), code("500112", 2), code("500116", 3), code("310115", 4)


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


REGISTER = [
    "credit_code",
    "name",
    "area_code",
    "industry_class",
    "above_scale",
    "opened_on",
    "closed_on",
    "record_date",
]
REPORTS = ["credit_code", "report_month", "value_kind", "gross_output_yuan", "revenue_yuan", "employees"]
INVOICES = ["invoice_id", "seller_code", "buyer_code", "issue_date", "amount_yuan", "tax_yuan", "original_invoice_id"]


def hand_made(directory: Path) -> Path:
    # A: auto parts maker in Chengdu (510112), moved to Deyang (510603) on 2023-04-10.
    # B: gear maker in Yubei (500112). C: motor maker in Jiangjin (500116). S: a Shanghai
    # supplier outside the register.
    write_csv(
        directory / "enterprises" / "register.csv",
        REGISTER,
        [
            [A, "A", "510112", "C3670", "true", "2020-01-01", "", "2020-01-01"],
            [A, "A", "510603", "C3670", "true", "2020-01-01", "", "2023-04-10"],
            [B, "B", "500112", "C3453", "true", "2015-06-01", "", "2015-06-01"],
            [C, "C", "500116", "C3811", "true", "2018-03-01", "", "2018-03-01"],
        ],
    )
    write_csv(
        directory / "enterprise_month" / "reports_2023.csv",
        REPORTS,
        [
            [A, "2023-02-01", "ytd", 30, 30, 10],
            [A, "2023-03-01", "ytd", 45, 45, 10],
            [A, "2023-04-01", "ytd", 60, 60, 10],
            [A, "2023-05-01", "ytd", 80, 80, 10],
            [B, "2023-02-01", "month", 12, 12, 4],
            [B, "2023-03-01", "month", 7, 7, 4],
            [C, "2023-01-01", "month", 5, 5, 3],
            [C, "2023-02-01", "month", 6, 6, 3],
        ],
    )
    write_csv(
        directory / "supply_invoices" / "invoices_2023.csv",
        INVOICES,
        [
            ["I1", B, A, "2023-03-05", "1000.00", "130.00", ""],
            ["I2", B, A, "2023-04-20", "500.00", "65.00", ""],
            ["R1", B, A, "2023-04-25", "-200.00", "-26.00", "I1"],
            ["I3", S, A, "2023-05-10", "50.00", "6.50", ""],
            ["I4", C, B, "2023-02-14", "80.00", "10.40", ""],
        ],
    )
    return directory


def move_to_parquet(csv_path: Path, first_column_in: tuple[str, ...], parquet_path: Path, select: str) -> None:
    """Move the CSV rows whose first value is in `first_column_in` into a Parquet file, read as
    text and converted by `select` (over relation `moved`)."""
    lines = csv_path.read_text(encoding="utf-8").splitlines()
    moved = [line for line in lines[1:] if line.split(",")[0] in first_column_in]
    csv_path.write_text("\n".join(line for line in lines if line not in moved) + "\n", encoding="utf-8")
    text = parquet_path.with_suffix(".txt")
    text.write_text("\n".join([lines[0], *moved]) + "\n", encoding="utf-8")
    con = duckdb.connect()
    try:
        con.execute(
            f"copy (with moved as (select * from read_csv('{text}', all_varchar = true)) {select}) "
            f"to '{parquet_path}' (format parquet)"
        )
    finally:
        con.close()
    text.unlink()


def mixed_kinds(directory: Path) -> Path:
    """The hand-made set as a delivery that mixes file kinds in every table (the same rows):
    B and C's register records in Parquet with text dates and flag; C's reports in Parquet with
    numbers as integers; I3 in a Parquet of the layout's types (kept byte for byte, and listed
    first: before, its move into the store broke the rewrite of the next file of the table,
    exit 1) and I4 in a Parquet whose issue_date is text."""
    move_to_parquet(
        directory / "enterprises" / "register.csv",
        (B, C),
        directory / "enterprises" / "b_c.parquet",
        "select * from moved",
    )
    move_to_parquet(
        directory / "enterprise_month" / "reports_2023.csv",
        (C,),
        directory / "enterprise_month" / "c.parquet",
        "select * replace (cast(gross_output_yuan as bigint) as gross_output_yuan, "
        "cast(revenue_yuan as integer) as revenue_yuan) from moved",
    )
    move_to_parquet(
        directory / "supply_invoices" / "invoices_2023.csv",
        ("I3",),
        directory / "supply_invoices" / "a_typed.parquet",
        "select invoice_id, seller_code, buyer_code, cast(issue_date as date) as issue_date, "
        "cast(amount_yuan as decimal(18,2)) as amount_yuan, cast(tax_yuan as decimal(18,2)) as tax_yuan, "
        "null::varchar as tax_class_code, nullif(original_invoice_id, '') as original_invoice_id, "
        "null::varchar as basis from moved",
    )
    move_to_parquet(
        directory / "supply_invoices" / "invoices_2023.csv",
        ("I4",),
        directory / "supply_invoices" / "b_text_dates.parquet",
        "select * exclude (original_invoice_id) from moved",
    )
    return directory


@pytest.fixture(scope="module")
def hand_built(tmp_path_factory):
    ws = make_workspace(tmp_path_factory.mktemp("micro_hand"))
    data = mixed_kinds(hand_made(ws.project.parent / "micro"))
    result = ws.run("build", "--microdata", str(data))
    assert result.returncode == 0, result.stdout + result.stderr
    ws.build_output = result.stdout
    con = duckdb.connect(str(ws.internal), read_only=True)
    yield ws, con
    con.close()


def rows(con, sql: str) -> list[tuple]:
    return [tuple(float(v) if hasattr(v, "as_tuple") else v for v in row) for row in con.execute(sql).fetchall()]


def test_ytd_with_combined_january_february_and_relocation_by_month(hand_built):
    _, con = hand_built
    # A (ytd 30, 45, 60, 80): Jan-Feb 30 and March 15 in Chengdu; April 15 and May 20 in Deyang
    # (the move on 2023-04-10 is before the end of April). B (monthly, no January report):
    # Jan-Feb 12, March 7. C (monthly, with January): January 5, February 6.
    assert rows(
        con,
        """
        select credit_code, strftime(report_month, '%m'), strftime(period_start_month, '%m'), months_covered,
            gross_output_yuan, area_code
        from microdata.fct_enterprise_month order by credit_code, report_month""",
    ) == sorted(
        [
            (A, "02", "01", 2, 30.0, "510100"),
            (A, "03", "03", 1, 15.0, "510100"),
            (A, "04", "04", 1, 15.0, "510600"),
            (A, "05", "05", 1, 20.0, "510600"),
            (B, "02", "01", 2, 12.0, "500112"),
            (B, "03", "03", 1, 7.0, "500112"),
            (C, "01", "01", 1, 5.0, "500116"),
            (C, "02", "02", 1, 6.0, "500116"),
        ]
    )
    # Bottom-up output 2023: Chengdu C36 30 + 15 = 45 over Jan-Mar (3 months, 0.25 of the year);
    # Deyang C36 15 + 20 = 35 over Apr-May; Yubei C34 12 + 7 = 19 over Jan-Mar; Jiangjin C38 5 + 6 = 11.
    assert rows(
        con,
        """
        select area_code, sector_code, output_value_yuan, months_covered, coverage_share, basis
        from intermediate.int_microdata_sector_output where year = 2023 order by 1, 2""",
    ) == [
        ("500112", "C34", 19.0, 3, 0.25, "reported"),
        ("500116", "C38", 11.0, 2, 2 / 12, "reported"),
        ("510100", "C36", 45.0, 3, 0.25, "reported"),
        ("510600", "C36", 35.0, 2, 2 / 12, "reported"),
    ]


def test_red_letter_invoice_netted_in_its_month_and_parties_by_month(hand_built):
    _, con = hand_built
    # I1 (March, 1000) goes to A in Chengdu; I2 (April, 500) and the red-letter R1 (April,
    # -200, cancelling I1) go to A in Deyang: 500 - 200 = 300 in April. I3 from the Shanghai
    # supplier outside the register: rest_of_china, division unknown. I4: Jiangjin -> Yubei.
    assert rows(
        con,
        """
        select strftime(month, '%Y-%m'), seller_area_code, seller_division_code, buyer_area_code, buyer_division_code,
            n_invoices, n_red_letter_invoices, ordinary_amount_yuan, red_letter_amount_yuan, net_amount_yuan, \
net_tax_yuan
        from microdata.fct_supply_flow order by month""",
    ) == [
        ("2023-02", "500116", "C38", "500112", "C34", 1, 0, 80.0, 0.0, 80.0, 10.4),
        ("2023-03", "500112", "C34", "510100", "C36", 1, 0, 1000.0, 0.0, 1000.0, 130.0),
        ("2023-04", "500112", "C34", "510600", "C36", 1, 1, 500.0, -200.0, 300.0, 39.0),
        ("2023-05", "rest_of_china", "unknown", "510600", "C36", 1, 0, 50.0, 0.0, 50.0, 6.5),
    ]


def test_local_sourcing_and_chain_linkage_by_hand(hand_built):
    _, con = hand_built
    # Every cell of the hand-made set has one buyer (and one seller): fewer than the 3 enterprises
    # disclosure control asks (var disclosure_min_enterprises), so no value leaves; the shares'
    # arithmetic is the unit test local_sourcing_shares_by_seller_origin. Deyang C36 bought in two
    # months (March from Yubei, May from the rest of China); the others in one.
    got = rows(
        con,
        """
        select buyer_area_code, buyer_division_code, purchases_net_yuan, same_area_share, rest_of_china_yuan,
            n_invoices, months_covered, suppression_reason
        from microdata.fct_local_sourcing where year = 2023 order by 1""",
    )
    assert got == [
        ("500112", "C34", None, None, None, None, 1, "too_few_enterprises"),
        ("510100", "C36", None, None, None, None, 1, "too_few_enterprises"),
        ("510600", "C36", None, None, None, None, 2, "too_few_enterprises"),
    ]
    # Chongqing -> Sichuan, C34 -> C36: one seller (B) and one buyer (A): withheld, with its members'
    # part, invoice count and growth; Sichuan -> Chongqing has no flow: a published zero.
    assert rows(
        con,
        """
        select seller_division_code, buyer_division_code, sichuan_to_chongqing_yuan, chongqing_to_sichuan_yuan,
            members_chongqing_to_sichuan_yuan, chongqing_to_sichuan_invoices, chongqing_to_sichuan_growth,
            sichuan_to_chongqing_suppression, chongqing_to_sichuan_suppression, members_chongqing_to_sichuan_suppression
        from microdata.fct_chain_linkage where year = 2023""",
    ) == [("C34", "C36", 0.0, None, None, None, None, None, "too_few_enterprises", "too_few_enterprises")]


def test_firm_dynamics_counts_a_relocated_firm_in_both_areas(hand_built):
    _, con = hand_built
    # A counts in Chengdu (January-March) and Deyang (April-May); one enterprise per cell: the
    # counts are published, the output withheld (too few enterprises).
    assert rows(
        con,
        """
        select area_code, division_code, n_open_enterprises, n_entries, n_exits, n_reporting_enterprises,
            gross_output_yuan, top10_share, suppression_reason
        from microdata.fct_firm_dynamics where year = 2023 and division_code = 'C36' order by 1""",
    ) == [
        ("510100", "C36", 1, 0, 0, 1, None, None, "too_few_enterprises"),
        ("510600", "C36", 1, 0, 0, 1, None, None, "too_few_enterprises"),
    ]


def test_history_is_scd2_and_the_load_is_recorded(hand_built):
    ws, con = hand_built
    assert rows(
        con,
        f"""
        select area_code, valid_from::varchar, valid_to::varchar, is_current
        from intermediate.int_microdata_enterprise_history where credit_code = '{A}' order by valid_from""",
    ) == [("510100", "2020-01-01", "2023-04-10", False), ("510600", "2023-04-10", None, True)]
    state = dict(con.execute("select key, value from raw_microdata.load_state").fetchall())
    assert state["carried_over"] == "false" and state["basis"] == "reported"
    # What dbt's run reads (no vars): every month built, DuckDB's limit and spill folder.
    assert state["reprocess_from"] == "" and state["memory_limit"] == "3GB"
    assert re.fullmatch(r".*/chengyu\.microdata/tmp/dbt-spill-\d+", state["temp_directory"])
    assert "microdata (reported): 7 files (7 new" in ws.build_output
    # The raw relations read the store's immutable copies, not the user's files.
    for (sql,) in con.execute("select sql from duckdb_views() where schema_name = 'raw_microdata'").fetchall():
        assert "chengyu.microdata/objects/" in sql and "/micro/" not in sql
    # What the warehouse records of them is relative to the store (the same in any warehouse
    # built from these files, and valid when the store moves).
    sources = con.execute("select distinct source_file from microdata.fct_enterprise_month order by 1").fetchall()
    assert sorted(re.sub("[0-9a-f]{64}", "<sha>", s) for (s,) in sources) == [
        "objects/enterprise_month/<sha>/c.parquet",
        "objects/enterprise_month/<sha>/reports_2023.parquet",
    ]
    assert (
        con.execute("select count(*) from raw_microdata.partitions where store_file not like 'objects/%'").fetchone()[0]
        == 0
    )
    manifest = next((ws.warehouse / "chengyu.microdata" / "manifests").glob("*.json")).read_text(encoding="utf-8")
    assert "/micro" not in manifest and '"objects/supply_invoices/' in manifest


def test_the_store_copy_does_not_change_when_the_input_does(hand_built, tmp_path):
    ws, con = hand_built
    (ws.project.parent / "micro" / "supply_invoices" / "invoices_2023.csv").write_text("changed\n", encoding="utf-8")
    assert con.execute("select count(*) from raw_microdata.supply_invoices").fetchone()[0] == 5


def test_plain_build_has_empty_microdata_marts(built):
    con = duckdb.connect(str(built.internal), read_only=True)
    try:
        for table in (
            "microdata.fct_supply_flow",
            "microdata.fct_local_sourcing",
            "microdata.fct_chain_linkage",
            "microdata.fct_firm_dynamics",
            "microdata.fct_enterprise_month",
            "intermediate.int_microdata_sector_output",
            "raw_microdata.supply_invoices",
        ):
            assert con.execute(f"select count(*) from {table}").fetchone()[0] == 0, table
    finally:
        con.close()


# ---- incremental ----------------------------------------------------------------------------

SYNTH = dict(enterprises=300, months=24, invoices=6000, seed=4)
COMPARED = [
    "microdata.fct_supply_flow",
    "microdata.fct_enterprise_month",
    "microdata.fct_local_sourcing",
    "microdata.fct_chain_linkage",
    "microdata.fct_firm_dynamics",
    "intermediate.int_microdata_sector_output",
    "intermediate.int_microdata_enterprise_months",
    "intermediate.int_microdata_supply_pairs",
    "intermediate.int_local_sourcing_cells",
    "intermediate.int_chain_linkage_cells",
    "intermediate.int_firm_dynamics_cells",
]


def assert_same_tables(first: Path, second: Path) -> None:
    """Every table of COMPARED holds the same rows (as multisets) in both internal files."""
    con = duckdb.connect()
    try:
        con.execute(f"attach '{first}' as incr (read_only)")
        con.execute(f"attach '{second}' as full_refresh (read_only)")
        for table in COMPARED:
            n = con.execute(f"select count(*) from incr.{table}").fetchone()[0]
            assert n > 0, table
            for a, b in (("incr", "full_refresh"), ("full_refresh", "incr")):
                extra = con.execute(
                    f"select count(*) from (select * from {a}.{table} except all select * from {b}.{table})"
                ).fetchone()[0]
                assert extra == 0, (table, a)
    finally:
        con.close()


@pytest.fixture(scope="module")
def incremental(tmp_path_factory):
    """One workspace, five builds in a row: as of 2020-06; as of 2020-07 (incremental); 2020-07
    --full-refresh; the same July data with a closure and a relocation of 2019 reported late
    (incremental, see late_register); that again --full-refresh. The July full refresh is both
    the reference of the July increment and the published state the late changes are applied
    to (it equals a fresh July build: every month built from the same files), so one
    workspace covers what two chains of three builds did. `internals`: the internal file
    published by each build (five versions are kept, so none is pruned)."""
    ws = make_workspace(tmp_path_factory.mktemp("micro_incr"))
    # The chain's checks read the microdata layer only: its builds build the microdata marts
    # and their ancestors (60 of 98 models; the full builds above and in test_microdata_panel.py
    # run the other models' data tests on microdata).
    build_only(ws, paths=("models/marts/microdata",))
    june, july, late = (ws.project.parent / name for name in ("june", "july", "july_late"))
    synth(REPO, june, SynthConfig(**SYNTH, as_of="2020-06"))
    synth(REPO, july, SynthConfig(**SYNTH, as_of="2020-07"))
    synth(REPO, late, SynthConfig(**SYNTH, as_of="2020-07"))
    ws.x, ws.y = late_register(late)
    ws.outputs, ws.internals = [], []
    for args in (
        ["--microdata", str(june)],
        ["--microdata", str(july)],
        ["--microdata", str(july), "--full-refresh"],
        ["--microdata", str(late)],
        ["--microdata", str(late), "--full-refresh"],
    ):
        result = ws.run("build", *args)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "fct_area_sector_specialization:" not in result.stdout  # the subgraph, not the whole project
        ws.outputs.append(result.stdout)
        ws.internals.append(ws.internal)
    assert len(ws.versions()) == len(set(ws.internals)) == 5
    ws.july = july
    return ws


def test_one_new_month_rebuilds_only_the_recent_months(incremental):
    june_build, july_build, full = incremental.outputs[:3]
    assert "microdata: no published version: every month built" in june_build
    # July's delivery brings invoices for July and late ones for June and May; the look-back
    # of 3 months from July reaches April: months from 2020-04 are rebuilt, 2019-01..2020-03 kept.
    assert "microdata: incremental: months from 2020-04 rebuilt" in july_build
    new_files = re.search(r"(\d+) files \((\d+) new", july_build)
    assert new_files and int(new_files.group(2)) == 3  # the register, one report file, one delivery
    assert "--full-refresh: every month rebuilt" in full


def test_microdata_builds_pass_no_vars_so_dbt_never_parses_in_full(incremental):
    # The five builds of one copy parse partially from the saved state of the shipped project
    # (conftest.dbt_parse_state, made by `dbt parse` without vars): a microdata build passes no
    # --vars (dbt reads the window and the DuckDB settings from raw_microdata.load_state), and
    # other vars would make dbt parse the whole project again. dbt logs each full parse at info
    # with the reason ("Unable to do partial parsing because ...").
    assert dbt_parse_state() is not None, "no saved parse state: see shared-parse/parse.log"
    log = (incremental.project / "logs" / "dbt.log").read_text(encoding="utf-8")
    assert log.count("Running with dbt=") == 5
    assert log.count("Unable to do partial parsing") == 0


def test_incremental_equals_full_refresh(incremental):
    assert_same_tables(incremental.internals[1], incremental.internals[2])


def late_register(directory: Path) -> tuple[str, str]:
    """Rewrite the register of a synthetic set with two changes reported late: enterprise Y
    (open, no record after 2019-01) closed on 2019-03-20, filled in on its existing records;
    enterprise X (one record, before 2019) relocated on 2019-09-10 to Yubei (500112), a new
    record. Returns (X, Y)."""
    path = directory / "enterprises" / "register.parquet"
    con = duckdb.connect()
    try:
        con.execute(f"create table register as select * from read_parquet('{path}')")
        singles = con.execute("""
            select credit_code from register group by credit_code
            having count(*) = 1 and max(record_date) < date '2019-01-01' and max(opened_on) < date '2019-01-01'
                and bool_and(closed_on is null) and bool_and(area_code not like '50%')
            order by credit_code limit 2""").fetchall()
        (x,), (y,) = singles
        con.execute(f"update register set closed_on = date '2019-03-20' where credit_code = '{y}'")
        con.execute(f"""insert into register select credit_code, name, '500112', industry_class, above_scale,
                        opened_on, closed_on, date '2019-09-10', basis from register where credit_code = '{x}'""")
        path.unlink()
        con.execute(f"copy (select * from register order by credit_code, record_date) to '{path}' (format parquet)")
    finally:
        con.close()
    return x, y


def test_late_register_changes_rebuild_from_their_month_and_equal_a_full_refresh(incremental):
    ws = incremental
    # The relocation's record date (2019-09) reaches back beyond the look-back window (2020-04);
    # the closure, filled in on Y's existing record without a new record date, reaches further:
    # its month, 2019-03, is the first rebuilt (the grid, the facts, and the marts from 2019 on).
    assert "microdata: incremental: months from 2019-03 rebuilt" in ws.outputs[3]
    assert "earliest changed input 2019-03" in ws.outputs[3]
    assert_same_tables(ws.internals[3], ws.internals[4])
    con = duckdb.connect(str(ws.internals[3]), read_only=True)
    try:
        # X counts in Yubei from September 2019 (the end of the month after the move), before in its old area.
        areas = dict(
            con.execute(f"""select strftime(month, '%Y-%m'), area_code
            from intermediate.int_microdata_enterprise_months where credit_code = '{ws.x}'
                and month between date '2019-08-01' and date '2019-09-01'""").fetchall()
        )
        assert areas["2019-09"] == "500112" and areas["2019-08"] != "500112"
        # Y is open in March 2019 (closed on the 20th) and not from April on.
        open_months = dict(
            con.execute(f"""select strftime(month, '%Y-%m'), is_open
            from intermediate.int_microdata_enterprise_months where credit_code = '{ws.y}'
                and month between date '2019-03-01' and date '2019-04-01'""").fetchall()
        )
        assert open_months == {"2019-03": True, "2019-04": False}
    finally:
        con.close()


def test_duplicate_invoice_id_against_the_store_is_refused(incremental, no_tracebacks):
    # A new delivery repeating an invoice of a stored (already checked) file.
    ws = incremental
    extra_dir = ws.project.parent / "july_plus"
    import shutil

    shutil.copytree(ws.july, extra_dir)
    con = duckdb.connect()
    try:
        first = con.execute(
            f"select * from read_parquet('{extra_dir}/supply_invoices/delivery_2019-03.parquet') "
            "where original_invoice_id is null limit 1"
        ).fetchone()
        con.execute(
            f"copy (select * from read_parquet('{extra_dir}/supply_invoices/delivery_2019-03.parquet') "
            f"where invoice_id = '{first[0]}') "
            f"to '{extra_dir}/supply_invoices/resent.parquet' (format parquet)"
        )
    finally:
        con.close()
    before = ws.state()
    result = ws.run("build", "--microdata", str(extra_dir))
    assert result.returncode == 3, result.stdout + result.stderr
    assert (
        f"ERROR supply_invoices/resent.parquet, row 1, column 'invoice_id': invoice_id={first[0]} already "
        f"appears in supply_invoices/delivery_2019-03.parquet, row "
    ) in result.stderr
    assert "[rule: unique_invoice_id]" in result.stderr
    assert ws.state() == before


# ---- bad inputs -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checker_ws(tmp_path_factory):
    return make_workspace(tmp_path_factory.mktemp("micro_bad"))


def validate(ws, directory: Path):
    result = ws.run("validate", "--microdata", str(directory))
    return result.returncode, result.stderr


def bad_set(tmp_path: Path, change) -> Path:
    directory = hand_made(tmp_path / "micro")
    change(directory)
    return directory


def edit(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")


def add_column(path: Path, name: str, value: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text(
        "\n".join([lines[0] + "," + name] + [line + "," + value for line in lines[1:]]) + "\n", encoding="utf-8"
    )


BAD_KINDS = {
    "bad_credit_code": (
        lambda d: edit(d / "supply_invoices" / "invoices_2023.csv", f"I3,{S}", f"I3,{S[:-1]}Z"),
        "supply_invoices/invoices_2023.csv, line 5, column 'seller_code'",
        "credit_code_check",
    ),
    "unknown_area_code": (
        lambda d: edit(d / "enterprises" / "register.csv", ",500116,", ",990116,"),
        "enterprises/register.csv, line 5, column 'area_code'",
        "county_code",
    ),
    "unparseable_date": (
        lambda d: edit(d / "supply_invoices" / "invoices_2023.csv", "2023-05-10", "10/05/2023"),
        "supply_invoices/invoices_2023.csv, line 5, column 'issue_date'",
        "type_date",
    ),
    "duplicate_invoice_id": (
        lambda d: edit(d / "supply_invoices" / "invoices_2023.csv", "I4,", "I2,"),
        "supply_invoices/invoices_2023.csv, line 6, column 'invoice_id'",
        "unique_invoice_id",
    ),
    "red_letter_without_original": (
        lambda d: edit(d / "supply_invoices" / "invoices_2023.csv", ",I1\n", ",I9\n"),
        "supply_invoices/invoices_2023.csv, line 4, column 'original_invoice_id'",
        "red_letter_original_exists",
    ),
    "red_letter_beyond_original": (
        lambda d: edit(d / "supply_invoices" / "invoices_2023.csv", "-200.00,-26.00", "-1200.00,-156.00"),
        "column 'amount_yuan'",
        "red_letter_within_original",
    ),
    "negative_without_original": (
        lambda d: edit(d / "supply_invoices" / "invoices_2023.csv", "50.00,6.50", "-50.00,-6.50"),
        "line 5, column 'amount_yuan'",
        "ordinary_non_negative",
    ),
    "mixed_value_kinds": (
        lambda d: edit(d / "enterprise_month" / "reports_2023.csv", f"{B},2023-03-01,month", f"{B},2023-03-01,ytd"),
        "column 'value_kind'",
        "one_value_kind_per_year",
    ),
    "report_of_unknown_enterprise": (
        lambda d: edit(d / "enterprise_month" / "reports_2023.csv", f"{C},2023-01-01", f"{S},2023-01-01"),
        "enterprise_month/reports_2023.csv, line 8, column 'credit_code'",
        "known_enterprise",
    ),
    # B's first register record is 2015-06-01, C's 2018-03-01: an invoice C -> B of May 2015.
    "invoice_before_record": (
        lambda d: edit(d / "supply_invoices" / "invoices_2023.csv", f"I4,{C},{B},2023-02-14", f"I4,{C},{B},2015-05-14"),
        "supply_invoices/invoices_2023.csv, line 6, column 'buyer_code'",
        "invoice_before_record",
    ),
    # A's year to date: 30, 45, then 40 in April (a fall of 11 %).
    "falling_ytd": (
        lambda d: edit(
            d / "enterprise_month" / "reports_2023.csv", f"{A},2023-04-01,ytd,60,60", f"{A},2023-04-01,ytd,40,60"
        ),
        "enterprise_month/reports_2023.csv, line 4, column 'gross_output_yuan'",
        "ytd_non_decreasing",
    ),
    "missing_column": (
        lambda d: edit(d / "enterprises" / "register.csv", ",record_date\n", ",recorded\n"),
        "enterprises/register.csv, column 'record_date'",
        "required_column",
    ),
    "mixed_basis": (
        lambda d: add_column(d / "supply_invoices" / "invoices_2023.csv", "basis", "synthetic"),
        "(all microdata files), column 'basis'",
        "one_basis",
    ),
}


# Each kind of BAD_KINDS is found with its place and rule in process: tests/unit/test_microdata_rules.py.


def test_good_hand_made_set_validates(checker_ws, tmp_path):
    code_, stderr = validate(checker_ws, hand_made(tmp_path / "micro"))
    assert code_ == 0, stderr


def test_many_bad_rows_print_fifty_and_a_count(checker_ws, tmp_path, no_tracebacks):
    def many(d: Path) -> None:
        with (d / "supply_invoices" / "invoices_2023.csv").open("a", encoding="utf-8") as handle:
            for i in range(70):
                handle.write(f"X{i},{B},{A},2023-13-{i:02d},1.00,0.13,\n")

    code_, stderr = validate(checker_ws, bad_set(tmp_path, many))
    assert code_ == 3
    errors = [line for line in stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 50
    assert "... and 20 more microdata problem(s) not shown" in stderr


def test_a_build_with_bad_microdata_publishes_nothing(checker_ws, tmp_path, no_tracebacks):
    directory = bad_set(tmp_path, BAD_KINDS["unparseable_date"][0])
    before = checker_ws.state()
    result = checker_ws.run("build", "--microdata", str(directory))
    assert result.returncode == 3
    assert "Input rejected" in result.stderr
    assert checker_ws.state() == before
    assert not checker_ws.published.exists()


def test_duplicate_keys_found_alike_in_one_pass_and_in_hash_buckets(tmp_path, monkeypatch):
    # The first load groups each table's keys in passes of KEY_GROUP_ROWS rows over hash
    # buckets (100 million invoice ids do not fit DuckDB's memory limit in one). The hand-made
    # set plus three repeats: I1 again (line 7), I4 twice more (lines 8 and 9) and a second
    # register record of C on its first record date (register line 6). One pass
    # (KEY_GROUP_ROWS = 10 million > 5 invoices) and passes of one row (8 invoices -> 8
    # buckets; 5 register rows -> 5) must report the same three invoice repeats, each against
    # its first line (I1: line 2, I4: line 6), and the register repeat against line 5. (The
    # appended lines end in CRLF like the csv module's: mixed line ends are refused.) A CSV is
    # located by line for both occurrences, a Parquet file by row.
    import chengyu_cluster.microdata.checks as microdata
    from chengyu_cluster.inputs.base import Findings

    def with_repeats(d: Path) -> None:
        with (d / "supply_invoices" / "invoices_2023.csv").open("a", encoding="utf-8") as handle:
            handle.write(f"I1,{B},{A},2023-06-01,1.00,0.13,\r\n")
            handle.write(f"I4,{C},{B},2023-06-02,1.00,0.13,\r\n")
            handle.write(f"I4,{C},{B},2023-06-03,1.00,0.13,\r\n")
        with (d / "enterprises" / "register.csv").open("a", encoding="utf-8") as handle:
            handle.write(f"{C},C,500116,C3811,true,2018-03-01,,2018-03-01\r\n")

    directory = bad_set(tmp_path, with_repeats)

    def repeats() -> list[str]:
        findings = Findings()
        assert microdata.check_microdata(REPO, directory, findings) is None
        return sorted(line for line in findings.lines() if "unique" in line)

    one_pass = repeats()
    monkeypatch.setattr(microdata, "KEY_GROUP_ROWS", 1)
    assert repeats() == one_pass
    assert len(one_pass) == 4
    assert any(
        "invoices_2023.csv, line 7, column 'invoice_id': invoice_id=I1 already appears in "
        "supply_invoices/invoices_2023.csv, line 2" in line
        for line in one_pass
    ), one_pass
    assert (
        sum("invoice_id=I4 already appears in supply_invoices/invoices_2023.csv, line 6" in line for line in one_pass)
        == 2
    ), one_pass
    assert any("register.csv, line 6" in line and "register.csv, line 5" in line for line in one_pass), one_pass


def test_memory_limit_reached_or_malformed_is_one_line_not_the_files_fault(checker_ws, tmp_path, no_tracebacks):
    # A limit of 1MB cannot hold one CSV block (DuckDB asks for about 30 MiB): exit 13, one
    # line, and the files are not blamed (before, each CSV was reported as unreadable, exit 3).
    # A limit that is not a plain size is refused before DuckDB or dbt see it (it reaches a
    # `set memory_limit` statement through a dbt var): exit 2.
    directory = hand_made(tmp_path / "micro")
    result = checker_ws.run("validate", "--microdata", str(directory), CHENGYU_MEMORY_LIMIT="1MB")
    assert result.returncode == 13, result.stderr
    assert "chengyu: cannot check the microdata: DuckDB ran out of memory within its limit" in result.stderr
    assert "[rule: readable]" not in result.stderr
    before = checker_ws.state()
    result = checker_ws.run("build", "--microdata", str(directory), CHENGYU_MEMORY_LIMIT="3GB'; select 1; --")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        'chengyu: CHENGYU_MEMORY_LIMIT="3GB\'; select 1; --" is not a size such as 3GB or 1536MiB'
    )
    assert checker_ws.state() == before


# ---- what leaves the build: the serving file ------------------------------------------------

NOT_SERVED = {"microdata", "raw", "raw_microdata", "staging", "intermediate", "audit"}
SERVING_RECIPE_SETTINGS = "?access_mode=read_only&enable_external_access=false&lock_configuration=true"


def test_no_documented_connection_reaches_an_enterprise_row(hand_built, tmp_path):
    """After a microdata build the internal file holds the enterprise rows (the tests above read
    them there); the pointer every recipe opens names the serving file, which holds the served
    schemas only, and every path to it (Python, `chengyu sql`, SQLAlchemy, the DuckDB CLI,
    the Parquet export) finds no other schema and no enterprise column."""
    ws, internal = hand_built
    assert internal.execute("select count(*) from microdata.fct_enterprise_month").fetchone()[0] == 8  # A 4, B 2, C 2
    assert ws.published.resolve().name == f"chengyu.{ws.current()}.duckdb"
    assert stat.S_IMODE(ws.internal.stat().st_mode) == 0o400  # only the account that builds reads it

    # Python recipe (README, Access for analysts and BI tools).
    con = duckdb.connect(str(ws.published), read_only=True, config={"enable_external_access": False})
    try:
        assert {s for (s,) in con.execute("select schema_name from duckdb_tables()").fetchall()} == {
            "marts",
            "semantic",
        }
        assert con.execute("select count(*) from duckdb_views() where not internal").fetchone()[0] == 0
        assert con.execute("select count(*) from duckdb_columns() where column_name = 'credit_code'").fetchone()[0] == 0
        with pytest.raises(duckdb.CatalogException):
            con.execute("select * from microdata.fct_enterprise_month")
    finally:
        con.close()

    # chengyu sql
    refused = ws.run("sql", "select * from microdata.fct_enterprise_month")
    assert refused.returncode == 8 and 'schema "microdata" does not exist' in refused.stderr, refused.stderr
    listed = ws.run(
        "sql", "select distinct schema_name from duckdb_schemas() where not internal order by 1", "--format", "csv"
    )
    assert listed.returncode == 0 and not set(listed.stdout.split()) & NOT_SERVED, listed.stdout

    # SQLAlchemy / Superset URI (duckdb_engine names schemas catalog.schema).
    engine = sqlalchemy.create_engine(f"duckdb:///{ws.published}{SERVING_RECIPE_SETTINGS}")
    try:
        schemas = {name.split(".")[-1] for name in sqlalchemy.inspect(engine).get_schema_names()}
        assert "marts" in schemas and not schemas & NOT_SERVED, schemas
    finally:
        engine.dispose()

    # DuckDB CLI recipe (bi/duckdb/duckdb-safe: duckdb-cli of this Python, -safe -readonly).
    out = subprocess.run(
        [
            str(REPO / "bi" / "duckdb" / "duckdb-safe"),
            str(ws.published),
            "-csv",
            "-c",
            "select distinct schema_name from duckdb_tables()",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, DUCKDB_CLI_PYTHON=sys.executable),
    )
    assert out.returncode == 0 and set(out.stdout.split()) == {"schema_name", "marts", "semantic"}, out

    # The Parquet export: the public marts only (the PostgreSQL copy takes the same list,
    # access/export.public_marts, from the same serving file).
    export = ws.run("export", "--out", str(tmp_path / "export"))
    assert export.returncode == 0, export.stderr
    manifest = json.loads((tmp_path / "export" / "manifest.json").read_text(encoding="utf-8"))
    exported = {t["name"] for t in manifest["tables"]}
    assert "build_info" in exported and "fct_sector_output" in exported
    assert not exported & {
        "fct_enterprise_month",
        "fct_supply_flow",
        "fct_local_sourcing",
        "fct_chain_linkage",
        "fct_firm_dynamics",
        "audit_microdata_reconciliation",
    }
    assert not any(c["name"] == "credit_code" for t in manifest["tables"] for c in t["columns"])


def test_docs_read_the_internal_file(hand_built, tmp_path):
    """dbt docs describe every model: their catalog comes from the internal file."""
    ws, _ = hand_built
    result = ws.run("docs", "--out", str(tmp_path / "docs"))
    assert result.returncode == 0, result.stderr
    catalog = json.loads((tmp_path / "docs" / "catalog.json").read_text(encoding="utf-8"))
    found = {node["metadata"]["schema"] for node in catalog["nodes"].values()}
    assert {"marts", "microdata", "intermediate", "staging"} <= found, found
