"""`chengyu synth`: check characters, determinism and the shape of what it writes (small sets)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from chengyu_cluster.microdata.credit_codes import (
    USCC_ALPHABET,
    USCC_WEIGHTS,
    is_valid_uscc,
    org_check_char,
    uscc_check_char,
    uscc_check_sql,
)
from chengyu_cluster.synth.generator import SynthConfig, synth

REPO = Path(__file__).resolve().parents[2]
N, M, K, SEED = 400, 26, 20_000, 5


def test_uscc_weights_are_the_standards_table():
    # GB 32100-2015 table 2: W_i = 3^(i-1) mod 31.
    assert USCC_WEIGHTS == [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    assert len(USCC_ALPHABET) == 31 and not set("IOSVZ") & set(USCC_ALPHABET)


def test_uscc_check_character_hand_worked():
    # The standard's worked example, body 91350100M000100Y4:
    #   values   9  1  3  5  0  1  0  0  M=21 0  0  0  1  0  0  Y=30 4
    #   weights  1  3  9 27 19 26 16 17 20   29 25 13  8 24 10 30   28
    #   products 9  3 27 135 0 26  0  0 420   0  0  0  8  0  0 900 112  -> sum 1640
    #   1640 mod 31 = 28 (31 * 52 = 1612), C18 = 31 - 28 = 3 -> '3'.
    assert uscc_check_char("91350100M000100Y4") == "3"
    assert is_valid_uscc("91350100M000100Y43")
    assert not is_valid_uscc("91350100M000100Y4Z")  # the example's wrong check character
    assert not is_valid_uscc("91350100M000100Y4")  # 17 characters
    assert not is_valid_uscc("91350100I000100Y43")  # I is not in the alphabet
    # sum mod 31 = 0 gives 31 - 0 = 31, written as 0: body of seventeen zeros.
    assert uscc_check_char("0" * 17) == "0"


def test_org_code_check_character_hand_worked():
    # GB 11714: body 12345678, weights 3 7 9 10 5 8 4 2:
    # 3 + 14 + 27 + 40 + 25 + 48 + 28 + 16 = 201; 201 mod 11 = 3; 11 - 3 = 8.
    assert org_check_char("12345678") == "8"
    # 00000000: sum 0, 11 - 0 = 11, written 0.
    assert org_check_char("00000000") == "0"
    # 00000004: 4 * 2 = 8, 11 - 8 = 3.  00000040: 4 * 4 = 16, 16 mod 11 = 5, 11 - 5 = 6.
    assert org_check_char("00000004") == "3"
    assert org_check_char("00000040") == "6"
    # 00000006: 6 * 2 = 12, 12 mod 11 = 1, 11 - 1 = 10, written X.
    assert org_check_char("00000006") == "X"


def test_sql_check_character_agrees_with_python():
    bodies = ["91350100M000100Y4", "0" * 17, "915101120010472970", "Y" * 17]
    bodies = [b[:17] for b in bodies]
    con = duckdb.connect()
    try:
        for body in bodies:
            assert con.execute(f"select {uscc_check_sql('?')}", [body]).fetchone()[0] == uscc_check_char(body)
        # and over many generated bodies
        rows = con.execute(f"""
            with b as (
                select '91' || lpad((i * 7919 % 1000000)::varchar, 6, '0')
                    || substr('{USCC_ALPHABET}', (i % 31) + 1, 1) || lpad(i::varchar, 8, '0') as body
                from range(500) t(i)
            )
            select body, {uscc_check_sql("body")} from b
        """).fetchall()
    finally:
        con.close()
    assert all(uscc_check_char(body) == check for body, check in rows)


def content_hash(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*.parquet")):
        digest.update(str(path.relative_to(directory)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "data"
    result = synth(REPO, out, SynthConfig(enterprises=N, months=M, invoices=K, seed=SEED))
    assert result.rows["supply_invoices"] > K
    return out


@pytest.fixture(scope="module")
def con(generated):
    connection = duckdb.connect()
    for table in ("enterprises", "enterprise_month", "supply_invoices"):
        connection.execute(
            f"create view {table} as select * from read_parquet('{generated / table}/*.parquet', filename = true)"
        )
    yield connection
    connection.close()


def test_same_seed_same_files_other_seed_other_files(generated, tmp_path):
    again = tmp_path / "again"
    synth(REPO, again, SynthConfig(enterprises=N, months=M, invoices=K, seed=SEED, threads=1))
    assert content_hash(again) == content_hash(generated)
    other = tmp_path / "other"
    synth(REPO, other, SynthConfig(enterprises=N, months=M, invoices=K, seed=SEED + 1))
    assert content_hash(other) != content_hash(generated)


def test_refuses_an_existing_directory(generated):
    with pytest.raises(FileExistsError):
        synth(REPO, generated, SynthConfig(enterprises=N, months=M, invoices=K, seed=SEED))


def test_counts_match_the_arguments(con):
    # N register enterprises, K ordinary invoices (red-letter ones on top), M months.
    assert con.execute("select count(distinct credit_code) from enterprises").fetchone()[0] == N
    assert con.execute("select count(*) from supply_invoices where original_invoice_id is null").fetchone()[0] == K
    first, last = con.execute("select min(issue_date), max(issue_date) from supply_invoices").fetchone()
    assert (first.year, first.month) == (2019, 1)
    assert (last.year, last.month) == (2021, 2)  # month 26
    # no Januaries
    assert con.execute("select count(distinct report_month) from enterprise_month").fetchone()[0] == M - 3
    assert con.execute("select count(*) from supply_invoices where basis <> 'synthetic'").fetchone()[0] == 0
    assert con.execute("select count(*) from enterprises where basis <> 'synthetic'").fetchone()[0] == 0
    assert con.execute("select count(*) from enterprise_month where basis <> 'synthetic'").fetchone()[0] == 0


def test_every_credit_code_is_valid(con):
    codes = [
        c
        for (c,) in con.execute("""
        select credit_code from enterprises union select seller_code from supply_invoices
        union select buyer_code from supply_invoices""").fetchall()
    ]
    assert len(codes) > N
    assert all(is_valid_uscc(c) for c in codes)


def test_invoice_ids_are_unique_and_20_digits(con):
    n, distinct, bad = con.execute("""
        select count(*), count(distinct invoice_id),
            count(*) filter (where not regexp_full_match(invoice_id, '[0-9]{20}'))
        from supply_invoices""").fetchone()
    assert n == distinct and bad == 0


def test_red_letter_invoices_cancel_an_existing_invoice(con):
    rows = con.execute("""
        select r.invoice_id, b.invoice_id is not null as found,
            b.seller_code = r.seller_code and b.buyer_code = r.buyer_code as same_parties,
            r.amount_yuan < 0 and r.tax_yuan <= 0 as negative,
            -r.amount_yuan <= b.amount_yuan as within_original,
            r.issue_date >= b.issue_date as after_original
        from supply_invoices r left join supply_invoices b on b.invoice_id = r.original_invoice_id
        where r.original_invoice_id is not null
    """).fetchall()
    assert len(rows) > 100  # about 1.5 % of 20,000
    assert all(all(r[1:]) for r in rows)
    # Only red-letter invoices are negative.
    assert (
        con.execute(
            "select count(*) from supply_invoices where amount_yuan < 0 and original_invoice_id is null"
        ).fetchone()[0]
        == 0
    )


def test_some_invoices_arrive_late(con):
    lags = dict(
        con.execute("""
        select date_diff('month', date_trunc('month', issue_date),
            strptime(regexp_extract(filename, 'delivery_([0-9-]+)', 1) || '-01', '%Y-%m-%d')::date), count(*)
        from supply_invoices group by 1""").fetchall()
    )
    assert set(lags) == {0, 1, 2} and lags[1] > lags[2] > 0


def test_ytd_is_monotone_per_firm_year_and_one_kind(con):
    assert (
        con.execute("""
        select count(*) from (
            select gross_output_yuan - lag(gross_output_yuan) over w as d_output,
                revenue_yuan - lag(revenue_yuan) over w as d_revenue
            from enterprise_month where value_kind = 'ytd'
            window w as (partition by credit_code, year(report_month) order by report_month)
        ) where d_output < 0 or d_revenue < 0""").fetchone()[0]
        == 0
    )
    assert (
        con.execute("""
        select count(*) from (select credit_code, year(report_month) from enterprise_month
                              group by all having count(distinct value_kind) > 1)""").fetchone()[0]
        == 0
    )
    kinds = dict(con.execute("select value_kind, count(*) from enterprise_month group by 1").fetchall())
    assert set(kinds) == {"ytd", "month"}


def test_january_and_february_come_as_one_report(con):
    months = {m for (m,) in con.execute("select distinct month(report_month) from enterprise_month").fetchall()}
    assert 1 not in months and 2 in months
    assert con.execute("select count(*) from enterprise_month where day(report_month) <> 1").fetchone()[0] == 0
    # The combined report is about two months' output: for monthly reporters, February's
    # value over March's is near (0.80 + 0.75) / 1.02 = 1.5 (seasonal factors), far above 1.
    ratio = con.execute("""
        select median(feb.gross_output_yuan / mar.gross_output_yuan)
        from enterprise_month feb join enterprise_month mar
            on mar.credit_code = feb.credit_code and mar.report_month = feb.report_month + interval 1 month
        where feb.value_kind = 'month' and month(feb.report_month) = 2""").fetchone()[0]
    assert 1.3 < ratio < 1.8


def test_history_has_relocations_and_reclassifications(con):
    moved, reclassified = con.execute("""
        select count(*) filter (where n_areas > 1), count(*) filter (where n_classes > 1) from (
            select credit_code, count(distinct area_code) as n_areas, count(distinct industry_class) as n_classes
            from enterprises group by 1)""").fetchone()
    assert moved >= 1 and reclassified >= 1
    # A relocated firm keeps its code: positions 3-8 are where it registered first.
    assert (
        con.execute("""
        select count(*) from enterprises e
        where record_date = (select min(record_date) from enterprises f where f.credit_code = e.credit_code)
            and substr(credit_code, 3, 6) <> area_code""").fetchone()[0]
        == 0
    )


def test_as_of_writes_the_deliveries_up_to_that_month(generated, tmp_path):
    # The data set as of 2020-06 is the full one's files up to that month (the register is
    # cut at the month's end, so only it differs).
    early = tmp_path / "early"
    synth(REPO, early, SynthConfig(enterprises=N, months=M, invoices=K, seed=SEED, as_of="2020-06"))
    for folder in ("supply_invoices", "enterprise_month"):
        names = sorted(p.name for p in (early / folder).glob("*.parquet"))
        assert names[-1].endswith("2020-06.parquet")
        for name in names:
            assert (early / folder / name).read_bytes() == (generated / folder / name).read_bytes(), name


def test_writes_into_a_folder_whose_name_has_a_quote(tmp_path):
    # The output path reaches DuckDB's COPY ... TO as a quoted literal: a ' in it is doubled,
    # never read as the end of the string. 20 firms, 3 months, 100 invoices: seconds.
    out = tmp_path / "o'brien" / "data"
    out.parent.mkdir()
    result = synth(REPO, out, SynthConfig(enterprises=20, months=3, invoices=100, seed=1))
    assert (out / "enterprises" / "register.parquet").exists()
    # 3 months from January: reports for February and March (January comes with February),
    # deliveries for all three months.
    assert len(list((out / "enterprise_month").glob("*.parquet"))) == 2
    assert len(list((out / "supply_invoices").glob("*.parquet"))) == 3
    assert result.files == 1 + 2 + 3  # the register, two report files, three deliveries
    # K is apportioned exactly: 100 blue invoices, the rest are red-letter rows cancelling them.
    assert result.rows["supply_invoices"] - result.rows["red_letter_invoices"] == 100
