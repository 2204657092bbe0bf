"""The microdata store's bookkeeping: garbage collection and month arithmetic (no DuckDB)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from chengyu_cluster.inputs import Findings
from chengyu_cluster.microdata import RowIssue, Store, _add_months, collect_garbage, list_files


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
    assert _add_months(dt.date(2020, 7, 1), -3) == dt.date(2020, 4, 1)
    assert _add_months(dt.date(2021, 2, 1), -3) == dt.date(2020, 11, 1)
    assert _add_months(dt.date(2019, 12, 1), 1) == dt.date(2020, 1, 1)


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
        ("supply_invoices", "supply_invoices/2024/d.PARQUET", "parquet")]
    assert [(i.file, i.rule) for i in findings.kept] == [("enterprise_month/", "required_folder")]


def test_row_issue_names_a_row():
    issue = RowIssue("supply_invoices/d.parquet", 7, "invoice_id", "unique_invoice_id", "repeated")
    assert str(issue) == ("ERROR supply_invoices/d.parquet, row 7, column 'invoice_id': repeated "
                          "[rule: unique_invoice_id]")
