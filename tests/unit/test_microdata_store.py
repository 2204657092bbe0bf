"""The microdata loader: the store's bookkeeping (garbage collection, leftovers, paths), and
the checks and the store on small real files of every kind a delivery may hold (DuckDB, no dbt)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import yaml

from chengyu_cluster.inputs.base import Findings
from chengyu_cluster.microdata.checks import check_microdata
from chengyu_cluster.microdata.credit_codes import org_check_char, uscc_check_char
from chengyu_cluster.microdata.listing import RowIssue, list_files
from chengyu_cluster.microdata.plan import add_months
from chengyu_cluster.microdata.rules import YTD_TOLERANCE
from chengyu_cluster.microdata.store import Store, collect_garbage


def make_object(store: Store, table: str, sha: str) -> Path:
    folder = store.object_dir(table, sha)
    folder.mkdir(parents=True)
    data = folder / "data.parquet"
    data.write_bytes(b"x")
    data.chmod(0o444)
    (folder / "meta.json").write_text("{}", encoding="utf-8")
    return data


def write_manifest(store: Store, build_id: str, files: list[Path]) -> None:
    store.manifests.mkdir(parents=True, exist_ok=True)
    (store.manifests / f"{build_id}.json").write_text(json.dumps({"store_files": [str(f) for f in files]}))


def test_garbage_is_what_no_kept_version_names(tmp_path):
    store = Store(tmp_path / "chengyu.microdata")
    a, b, c = (make_object(store, "supply_invoices", sha) for sha in ("a" * 64, "b" * 64, "c" * 64))
    write_manifest(store, "old", [a, b])  # a pruned version
    write_manifest(store, "kept", [b])  # a kept version
    write_manifest(store, "now", [c])  # the build running
    removed = collect_garbage(store, {"kept", "now"})
    assert removed == [a.parent]
    assert b.exists() and c.exists() and not a.parent.exists()
    assert sorted(p.stem for p in store.manifests.glob("*.json")) == ["kept", "now"]


def test_an_unreadable_manifest_keeps_everything(tmp_path):
    store = Store(tmp_path / "chengyu.microdata")
    a = make_object(store, "enterprises", "a" * 64)
    store.manifests.mkdir(parents=True)
    (store.manifests / "kept.json").write_text("{not json", encoding="utf-8")
    assert collect_garbage(store, {"kept"}) == []
    assert a.exists()


def test_add_months_across_years():
    # 2020-07 - 3 = 2020-04; 2021-02 - 3 = 2020-11; 2019-12 + 1 = 2020-01.
    assert add_months(dt.date(2020, 7, 1), -3) == dt.date(2020, 4, 1)
    assert add_months(dt.date(2021, 2, 1), -3) == dt.date(2020, 11, 1)
    assert add_months(dt.date(2019, 12, 1), 1) == dt.date(2020, 1, 1)


def test_listing_reports_missing_folders_and_ignores_other_files(tmp_path):
    (tmp_path / "enterprises").mkdir()
    (tmp_path / "enterprises" / "register.csv").write_text("x\n", encoding="utf-8")
    (tmp_path / "enterprises" / "README.txt").write_text("notes\n", encoding="utf-8")
    (tmp_path / "supply_invoices" / "2024").mkdir(parents=True)
    (tmp_path / "supply_invoices" / "2024" / "d.PARQUET").write_bytes(b"")
    findings = Findings()
    files = list_files(tmp_path, findings)
    assert [(f.table, f.display, f.fmt) for f in files] == [
        ("enterprises", "enterprises/register.csv", "csv"),
        ("supply_invoices", "supply_invoices/2024/d.PARQUET", "parquet"),
    ]
    assert [(i.file, i.rule) for i in findings.kept] == [("enterprise_month/", "required_folder")]


def test_row_issue_names_a_row():
    issue = RowIssue("supply_invoices/d.parquet", 7, "invoice_id", "unique_invoice_id", "repeated")
    assert str(issue) == (
        "ERROR supply_invoices/d.parquet, row 7, column 'invoice_id': repeated [rule: unique_invoice_id]"
    )


# ---- the loader on small real files (DuckDB, no dbt) -------------------------------------------

REPO = Path(__file__).resolve().parents[2]


def code(county: str, number: int) -> str:
    """A valid credit code: '91', the county, an organisation code and the GB 32100 check."""
    org = f"{number:08d}"
    body = "91" + county + org + org_check_char(org)
    return body + uscc_check_char(body)


A, B, S = code("510112", 1), code("500112", 2), code("310115", 4)
REGISTER = "credit_code,name,area_code,industry_class,above_scale,opened_on,closed_on,record_date"
REPORTS = "credit_code,report_month,value_kind,gross_output_yuan,revenue_yuan,employees"
INVOICES = "invoice_id,seller_code,buyer_code,issue_date,amount_yuan,tax_yuan,original_invoice_id"
# The layout's types of the invoices, for a Parquet file kept byte for byte.
TYPED_INVOICE = (
    "cast({id} as varchar) as invoice_id, cast({seller} as varchar) as seller_code, "
    "cast({buyer} as varchar) as buyer_code, date {date} as issue_date, "
    "cast({amount} as decimal(18,2)) as amount_yuan, cast({tax} as decimal(18,2)) as tax_yuan, "
    "null::varchar as tax_class_code, null::varchar as original_invoice_id, null::varchar as basis"
)


def write(path: Path, header: str, rows: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def parquet(path: Path, select: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        con.execute(f"copy ({select}) to '{path}' (format parquet)")
    finally:
        con.close()
    return path


def q(value: str) -> str:
    return f"'{value}'"


def small_set(directory: Path) -> Path:
    """A: Chengdu, in the register from 2020-01-01, year-to-date reports; B: Yubei, from
    2015-06-01, monthly reports. One invoice B -> A in March 2023, all CSV."""
    write(
        directory / "enterprises" / "register.csv",
        REGISTER,
        [f"{A},A,510112,C3670,true,2020-01-01,,2020-01-01", f"{B},B,500112,C3453,true,2015-06-01,,2015-06-01"],
    )
    write(
        directory / "enterprise_month" / "reports_2023.csv",
        REPORTS,
        [f"{A},2023-02-01,ytd,30,30,10", f"{A},2023-03-01,ytd,45,45,10", f"{B},2023-02-01,month,12,12,4"],
    )
    write(directory / "supply_invoices" / "invoices_2023.csv", INVOICES, [f"I1,{B},{A},2023-03-05,1000.00,130.00,"])
    return directory


def mixed_set(directory: Path) -> Path:
    """small_set with every table in CSV and Parquet: the register's B record and B's report in
    Parquet of castable types (text dates, an integer output), two more invoices in a typed
    Parquet (kept byte for byte; listed before the others, so it moves into the store first)
    and in a Parquet whose issue_date is text."""
    small_set(directory)
    write(directory / "enterprises" / "register.csv", REGISTER, [f"{A},A,510112,C3670,true,2020-01-01,,2020-01-01"])
    parquet(
        directory / "enterprises" / "b.parquet",
        f"select {q(B)} as credit_code, 'B' as name, '500112' as area_code, 'C3453' as industry_class, "
        "'true' as above_scale, '2015-06-01' as opened_on, null as closed_on, '2015-06-01' as record_date",
    )
    write(
        directory / "enterprise_month" / "reports_2023.csv",
        REPORTS,
        [f"{A},2023-02-01,ytd,30,30,10", f"{A},2023-03-01,ytd,45,45,10"],
    )
    parquet(
        directory / "enterprise_month" / "b_2023-02.parquet",
        f"select {q(B)} as credit_code, '2023-02-01' as report_month, 'month' as value_kind, "
        "12 as gross_output_yuan, 12.0 as revenue_yuan, 4::bigint as employees",
    )
    parquet(
        directory / "supply_invoices" / "a_typed.parquet",
        "select " + TYPED_INVOICE.format(id="'I2'", seller=q(B), buyer=q(A), date="'2023-03-06'", amount=500, tax=65),
    )
    parquet(
        directory / "supply_invoices" / "b_text_dates.parquet",
        f"select 'I3' as invoice_id, {q(S)} as seller_code, {q(A)} as buyer_code, '2023-03-07' as issue_date, "
        "50.0 as amount_yuan, 6.5 as tax_yuan",
    )
    return directory


def check(directory: Path, store: Store | None = None):
    findings = Findings()
    return check_microdata(REPO, directory, findings, store), findings


def stored_rows(micro, table: str) -> list[tuple]:
    con = duckdb.connect()
    try:
        files = ", ".join(q(str(f.store_file)) for f in micro.files if f.table == table)
        return con.execute(f"select * exclude (basis) from read_parquet([{files}]) order by all").fetchall()
    finally:
        con.close()


def test_a_delivery_mixing_csv_and_parquet_in_every_table_is_kept(tmp_path):
    # Before, the first file of a table rewritten as typed Parquet read it through a view over
    # all new files of the table, one of which (a_typed.parquet) was already moved into the
    # store: IOException "No files found ... incoming-<pid>-<n>.parquet", exit 1.
    directory = mixed_set(tmp_path / "micro")
    micro_validated, findings = check(directory)
    assert micro_validated is not None, findings.lines()  # validate (no store)
    store = Store(tmp_path / "chengyu.microdata")
    micro, findings = check(directory, store)
    assert micro is not None, findings.lines()  # the same verdict with the store
    assert [(f.display, f.rows) for f in micro.files] == [
        ("enterprises/b.parquet", 1),
        ("enterprises/register.csv", 1),
        ("enterprise_month/b_2023-02.parquet", 1),
        ("enterprise_month/reports_2023.csv", 2),
        ("supply_invoices/a_typed.parquet", 1),
        ("supply_invoices/b_text_dates.parquet", 1),
        ("supply_invoices/invoices_2023.csv", 1),
    ]
    assert micro.files[4].store_file.read_bytes() == (directory / "supply_invoices" / "a_typed.parquet").read_bytes()
    # Every store file holds the layout's types: the text dates and the integer output cast.
    assert stored_rows(micro, "supply_invoices") == [
        ("I1", B, A, dt.date(2023, 3, 5), Decimal("1000.00"), Decimal("130.00"), None, None),
        ("I2", B, A, dt.date(2023, 3, 6), Decimal("500.00"), Decimal("65.00"), None, None),
        ("I3", S, A, dt.date(2023, 3, 7), Decimal("50.00"), Decimal("6.50"), None, None),
    ]
    assert stored_rows(micro, "enterprise_month")[0] == (B, dt.date(2023, 2, 1), "month", 12.0, 12.0, 4)
    assert list(store.tmp.iterdir()) == []  # no incoming copy, object or spill folder left
    again, _ = check(directory, store)
    assert again is not None and all(f.reused for f in again.files)


def test_parquet_with_extra_or_missing_columns(tmp_path):
    directory = small_set(tmp_path / "micro")
    # An optional column left out (tax_class_code, original_invoice_id, basis) is NULL: accepted.
    parquet(
        directory / "supply_invoices" / "few.parquet",
        f"select 'I2' as invoice_id, {q(B)} as seller_code, {q(A)} as buyer_code, "
        "date '2023-03-06' as issue_date, 1.5 as amount_yuan, 0.2 as tax_yuan",
    )
    micro, findings = check(directory, Store(tmp_path / "store"))
    assert micro is not None, findings.lines()
    # A required column missing and a column outside the layout: one line each, no row checks.
    parquet(
        directory / "supply_invoices" / "odd.parquet",
        f"select 'I3' as invoice_id, {q(B)} as seller_code, date '2023-03-06' as issue_date, "
        "1.5 as amount_yuan, 0.2 as tax_yuan, 'x' as note",
    )
    micro, findings = check(directory, Store(tmp_path / "store"))
    assert micro is None
    assert [(i.file, i.column, i.rule) for i in findings.kept] == [
        ("supply_invoices/odd.parquet", "buyer_code", "required_column"),
        ("supply_invoices/odd.parquet", "note", "known_column"),
    ]


def test_files_without_rows_load_and_an_empty_file_is_one_line(tmp_path):
    directory = small_set(tmp_path / "micro")
    write(directory / "supply_invoices" / "2023-04.csv", INVOICES, [])  # the header line only
    parquet(
        directory / "supply_invoices" / "2023-05.parquet",
        "select "
        + TYPED_INVOICE.format(id="'X'", seller=q(B), buyer=q(A), date="'2023-05-01'", amount=1, tax=0)
        + " where false",
    )
    store = Store(tmp_path / "chengyu.microdata")
    micro, findings = check(directory, store)
    assert micro is not None, findings.lines()
    assert {f.display: (f.rows, f.months) for f in micro.files if f.table == "supply_invoices"} == {
        "supply_invoices/2023-04.csv": (0, {}),
        "supply_invoices/2023-05.parquet": (0, {}),
        "supply_invoices/invoices_2023.csv": (1, {"2023-03-01": 1}),
    }
    (directory / "supply_invoices" / "2023-06.csv").write_bytes(b"")  # zero bytes: not even a header
    micro, findings = check(directory, store)
    assert micro is None
    assert findings.lines() == [
        "ERROR supply_invoices/2023-06.csv: the file is empty: a CSV file starts with its "
        "header line (a delivery without rows too) [rule: csv_syntax]"
    ]


def test_a_file_that_breaks_midway_is_named_with_its_line(tmp_path):
    # 3,000 good lines, then bytes that are not UTF-8 (line 3,003: header, I1, 3,000 rows):
    # DuckDB fails only when it reaches them, in the row checks. Before: a traceback (exit 1).
    directory = small_set(tmp_path / "micro")
    rows = [f"Q{i},{B},{A},2023-03-05,1.00,0.13," for i in range(3000)]
    path = directory / "supply_invoices" / "invoices_2023.csv"
    with path.open("ab") as handle:
        handle.write(
            ("\n".join(rows) + "\n").encode() + f"Q_BAD,{B},{A},2023-03-05,1.00,0.13,\xff".encode("latin-1") + b"\n"
        )
    for store in (None, Store(tmp_path / "chengyu.microdata")):
        micro, findings = check(directory, store)
        assert micro is None
        assert len(findings.kept) == 1 and findings.kept[0].rule == "csv_syntax"
        assert str(findings.kept[0]).startswith(
            "ERROR supply_invoices/invoices_2023.csv, line 3003: cannot be read as CSV"
        ), findings.lines()
        assert store is None or list(store.tmp.iterdir()) == []


def test_a_parquet_damaged_midway_is_named(tmp_path):
    # 20 row groups; 64 bytes in the middle of the file flipped: the footer reads, a page does not.
    directory = small_set(tmp_path / "micro")
    path = parquet(
        directory / "supply_invoices" / "big.parquet",
        "select "
        + TYPED_INVOICE.format(
            id="'P' || i", seller=q(B), buyer=q(A), date="'2023-03-01'", amount="100 + i % 1000", tax=13
        )
        + " from range(100000) t(i)",
    )
    con = duckdb.connect()
    con.execute(f"copy (from '{path}') to '{path}.tmp' (format parquet, row_group_size 5000, compression zstd)")
    con.close()
    data = bytearray(Path(f"{path}.tmp").read_bytes())
    Path(f"{path}.tmp").unlink()
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(b ^ 0x5A for b in data[middle : middle + 64])
    path.write_bytes(bytes(data))
    store = Store(tmp_path / "chengyu.microdata")
    micro, findings = check(directory, store)
    assert micro is None
    assert [(i.file, i.rule) for i in findings.kept] == [("supply_invoices/big.parquet", "readable")]
    assert "incoming-" not in findings.lines()[0]  # the user's file is named, not the store's copy
    assert list(store.tmp.iterdir()) == []


def test_the_same_file_twice_is_refused_unless_it_has_no_rows(tmp_path):
    directory = small_set(tmp_path / "micro")
    store = Store(tmp_path / "chengyu.microdata")
    assert check(directory, store)[0] is not None
    # A copy of a stored file under another name: both are in the store already, so no key
    # check would see the repeat; its rows would count twice.
    shutil.copy(directory / "supply_invoices" / "invoices_2023.csv", directory / "supply_invoices" / "resent.csv")
    micro, findings = check(directory, store)
    assert micro is None
    assert findings.lines() == [
        "ERROR supply_invoices/resent.csv: has the same content as supply_invoices/invoices_2023.csv (1 row): its "
        "rows would count twice; remove one of the two files [rule: unique_file]"
    ]
    micro, findings = check(directory, None)  # validate: the same verdict, one line (not one per key)
    assert findings.lines() == [line for line in findings.lines() if "[rule: unique_file]" in line] != []
    # Two deliveries without rows can be the same header line.
    (directory / "supply_invoices" / "resent.csv").unlink()
    write(directory / "supply_invoices" / "2023-04.csv", INVOICES, [])
    write(directory / "supply_invoices" / "2023-05.csv", INVOICES, [])
    micro, findings = check(directory, store)
    assert micro is not None, findings.lines()
    empty = [f for f in micro.files if f.display.endswith(("2023-04.csv", "2023-05.csv"))]
    assert [f.rows for f in empty] == [0, 0] and empty[0].store_file == empty[1].store_file


def test_leftovers_of_dead_loads_are_removed_and_others_kept(tmp_path):
    directory = small_set(tmp_path / "micro")
    store = Store(tmp_path / "chengyu.microdata")
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(child.stdout)  # a process that has exited
    live = os.getppid()  # pytest's parent: running
    store.tmp.mkdir(parents=True)
    for name in (
        f"incoming-{dead}-3.csv",
        f"object-{dead}-{'a' * 64}",
        f"spill-{dead}",
        f"dbt-spill-{dead}",
        f"incoming-{live}-3.csv",
        f"object-{live}-{'b' * 64}",
        "notes.txt",
    ):
        path = store.tmp / name
        if "." in name:
            path.write_text("x", encoding="utf-8")
        else:
            path.mkdir()
            (path / "part.parquet").write_text("x", encoding="utf-8")
    micro, findings = check(directory, store)
    assert micro is not None, findings.lines()
    assert sorted(p.name for p in store.tmp.iterdir()) == sorted(
        [f"incoming-{live}-3.csv", f"object-{live}-{'b' * 64}", "notes.txt"]
    )


KILLED_LOAD = """
import os, sys
from pathlib import Path
import chengyu_cluster.microdata.checks as microdata
from chengyu_cluster.inputs.base import Findings

def killed(*args):  # the moment an object folder would be renamed into the store
    os._exit(9)

microdata.os.rename = killed
microdata.check_microdata(Path(sys.argv[1]), Path(sys.argv[2]), Findings(), microdata.Store(Path(sys.argv[3])))
"""


def test_a_load_killed_midway_leaves_what_the_next_load_removes(tmp_path):
    directory = mixed_set(tmp_path / "micro")
    store = Store(tmp_path / "chengyu.microdata")
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_LOAD, str(REPO), str(directory), str(store.root)], capture_output=True, text=True
    )
    assert killed.returncode == 9, killed.stderr
    left = sorted(p.name.split("-")[0] for p in store.tmp.iterdir())
    assert "incoming" in left and "object" in left, left  # copies and an unfinished object
    assert not store.objects.exists() or not any(store.objects.rglob("meta.json"))
    micro, findings = check(directory, store)
    assert micro is not None, findings.lines()
    assert list(store.tmp.iterdir()) == []
    assert len(list(store.objects.rglob("meta.json"))) == 7


def test_an_invoice_before_a_partys_first_register_record_is_refused(tmp_path):
    # A's first record is 2020-01-01: an invoice to A in December 2019 has no register record of
    # A by the end of its month (the model would count A as outside the register). One in the
    # month of a record (B, first record 2015-06-01, an invoice of 2015-06-01) is attributed.
    directory = small_set(tmp_path / "micro")
    write(
        directory / "supply_invoices" / "early.csv",
        INVOICES,
        [f"E1,{B},{A},2019-12-31,10.00,1.30,", f"E2,{B},{S},2015-06-01,10.00,1.30,"],
    )
    for store in (None, Store(tmp_path / "chengyu.microdata")):
        micro, findings = check(directory, store)
        assert micro is None
        assert findings.lines() == [
            f"ERROR supply_invoices/early.csv, line 2, column 'buyer_code': the register has no record of the "
            f"buyer {A} by the end of 2019-12, when the invoice was issued (first record 2020-01-01) "
            "[rule: invoice_before_record]"
        ]


def test_a_falling_year_to_date_series_is_refused_with_file_row_and_column(tmp_path):
    # A, ytd: Feb 30, Mar 45, then April 44.6 (a fall of 0.9 %: a revision, accepted) and May
    # 40 (a fall of 10.3 % from 44.6: more than 1 %, refused at its line). Revenue does not fall.
    directory = small_set(tmp_path / "micro")
    parquet(
        directory / "enterprise_month" / "reports_2023-04.parquet",
        f"select {q(A)} as credit_code, date '2023-04-01' as report_month, 'ytd' as value_kind, "
        "44.6 as gross_output_yuan, 60.0 as revenue_yuan, 10 as employees",
    )
    write(directory / "enterprise_month" / "reports_2023-05.csv", REPORTS, [f"{A},2023-05-01,ytd,40,70,10"])
    assert check(directory)[0] is None
    for store in (None, Store(tmp_path / "chengyu.microdata")):
        micro, findings = check(directory, store)
        assert findings.lines() == [
            f"ERROR enterprise_month/reports_2023-05.csv, line 2, column 'gross_output_yuan': gross output year to "
            f"date of {A} falls from 44.6 in 2023-04 (enterprise_month/reports_2023-04.parquet, row 1) to 40.0 in "
            "2023-05, more than 1% (a month's value in a ytd column?) [rule: ytd_non_decreasing]"
        ]


def test_the_loaders_ytd_tolerance_is_the_dbt_tests():
    spec = yaml.safe_load((REPO / "models/staging/microdata/_microdata__models.yml").read_text(encoding="utf-8"))
    tolerances = [
        test["ytd_non_decreasing"]["arguments"]["tolerance"]
        for model in spec["models"]
        for column in model.get("columns", [])
        for test in column.get("data_tests", [])
        if isinstance(test, dict) and "ytd_non_decreasing" in test
    ]
    assert tolerances == [YTD_TOLERANCE, YTD_TOLERANCE]


def test_store_paths_are_recorded_relative_and_resolve_after_a_move(tmp_path):
    store = Store(tmp_path / "moved" / "chengyu.microdata")
    kept = make_object(store, "enterprises", "a" * 64)
    assert store.relative(kept) == f"objects/enterprises/{'a' * 64}/data.parquet"
    # Recorded relative (now) or absolute where the store was before it moved (older versions).
    for recorded in (store.relative(kept), f"/old/place/chengyu.microdata/objects/enterprises/{'a' * 64}/data.parquet"):
        assert store.resolve(recorded) == kept
    store.manifests.mkdir(parents=True)
    (store.manifests / "kept.json").write_text(
        json.dumps({"store_files": [f"/old/place/chengyu.microdata/objects/enterprises/{'a' * 64}/data.parquet"]})
    )
    assert collect_garbage(store, {"kept"}) == [] and kept.exists()


def test_an_object_half_removed_is_taken_in_again_whole(tmp_path):
    # A garbage collection killed midway can leave an object folder without its data file (or
    # without meta.json): the next load takes the file in again and replaces the folder whole.
    directory = small_set(tmp_path / "micro")
    store = Store(tmp_path / "chengyu.microdata")
    micro, _ = check(directory, store)
    invoices = next(f for f in micro.files if f.table == "supply_invoices")
    invoices.store_file.chmod(0o644)
    invoices.store_file.unlink()
    micro, findings = check(directory, store)
    assert micro is not None, findings.lines()
    again = next(f for f in micro.files if f.table == "supply_invoices")
    assert not again.reused and again.store_file.is_file()
    assert stored_rows(micro, "supply_invoices") == [
        ("I1", B, A, dt.date(2023, 3, 5), Decimal("1000.00"), Decimal("130.00"), None, None)
    ]
