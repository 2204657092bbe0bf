"""Checking a delivery: every rule over the new files, keys and cross-table rules over all of
them, in DuckDB SQL; findings in the input reader's form."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from chengyu_cluster.inputs.reader import Findings, InputFile, sql_text
from chengyu_cluster.microdata.listing import (
    MONTH_COLUMN,
    OPTIONAL,
    TABLES,
    MicrodataFile,
    add_issue,
    add_rows,
    layout,
    list_files,
)
from chengyu_cluster.microdata.rules import (
    EXPECTED_TEXT,
    YTD_TOLERANCE,
    code_ok,
    empty_select,
    row_rules,
    store_select,
    typed_select,
)
from chengyu_cluster.microdata.store import Store, keep_checked, remove_leftovers, take_in
from chengyu_cluster.pipeline.guard import duckdb_connection

DEFAULT_MEMORY_LIMIT = "3GB"


# Rows of a table whose keys are grouped in one pass of the duplicate check. DuckDB 1.5.5
# could not group 100 million distinct invoice ids at the 3GB limit (out of memory, also on
# their hashes); in passes over hash buckets of 10-13 million rows it needed 1.2 GiB.
KEY_GROUP_ROWS = 10_000_000


@dataclass
class Microdata:
    """What the checks accepted, and (for a build) how it enters the candidate."""

    directory: Path
    files: list[MicrodataFile]
    store: Store | None
    basis: str = "reported"
    state: dict = field(default_factory=dict)

    def record_inputs(self) -> list[dict]:
        return [
            {
                "file": f"{self.directory}/{f.display}",
                "sha256": f.sha256,
                "size_bytes": f.size_bytes,
                "kind": f"microdata_{f.table}",
                "rows": f.rows,
                "reused_from_store": f.reused,
            }
            for f in self.files
        ]

    def input_files(self) -> list[InputFile]:
        return [
            InputFile(f"{self.directory}/{f.display}", f"microdata_{f.table}", f.table, f.size_bytes, f.sha256)
            for f in self.files
        ]


def _connect(store: Store | None, memory_limit: str):
    config = {"memory_limit": memory_limit}
    if store is not None:
        store.tmp.mkdir(parents=True, exist_ok=True)
        config["temp_directory"] = str(store.tmp / f"spill-{os.getpid()}")
    return duckdb_connection(":memory:", config=config)


def _file_columns(con, f: MicrodataFile) -> list[tuple[str, str]]:
    path = sql_text(str(f.checked_path))
    if f.fmt == "parquet":
        return [(n, t.lower()) for n, t, *_ in con.execute(f"describe select * from read_parquet({path})").fetchall()]
    return [
        (n.strip(), "varchar")
        for n, *_ in con.execute(
            f"describe select * from read_csv({path}, header = true, delim = ',', quote = '\"', escape = '\"', "
            f"all_varchar = true)"
        ).fetchall()
    ]


def check_microdata(
    project_dir: Path,
    directory: Path,
    findings: Findings,
    store: Store | None = None,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
) -> Microdata | None:
    """Check the microdata in `directory`; with a store, copy new files in and keep the checked copies.

    Returns None when there were errors (they are in `findings`).
    """
    import duckdb

    started_errors = findings.n_errors
    directory = directory.absolute()
    files = list_files(directory, findings)
    if findings.n_errors > started_errors:
        return None
    if store is not None:
        _remove_leftovers_of_others(store)
    columns = layout(project_dir)
    try:
        with _connect(store, memory_limit) as con:
            con.execute("set enable_progress_bar = false")
            take_in(files, store, findings)
            if findings.n_errors > started_errors:
                return None
            checked = [f for f in files if f.same_as is None]  # a repeated file is judged by its first
            checker = _Checker(con, findings, columns, findings.keep)
            try:
                _check(checker, checked)
                if findings.n_errors == started_errors:
                    _same_content(files, findings)
                if findings.n_errors > started_errors:
                    return None
                basis = _one_basis(con, checked, findings)
            except duckdb.OutOfMemoryException:
                raise  # not the files' fault: the build stops with exit 13
            except duckdb.Error:
                if not _find_unreadable(con, checked, columns, findings):
                    raise
                return None
            if findings.n_errors > started_errors:
                return None
            if store is not None:
                keep_checked(con, files, columns, store)
            return Microdata(directory, files, store, basis)
    finally:
        if store is not None:
            remove_leftovers(store, own_only=True)


def _remove_leftovers_of_others(store: Store) -> None:
    for leftover in remove_leftovers(store):
        print(f"microdata store: removed what an interrupted load left: {leftover.relative_to(store.root)}", flush=True)


class _Checker:
    """Runs the rules of one load in a DuckDB connection; records findings."""

    def __init__(self, con, findings: Findings, columns: dict[str, dict[str, str]], limit: int):
        self.con = con
        self.findings = findings
        self.columns = columns
        self.limit = limit
        self.base_errors = findings.n_errors
        self.new_files: list[str] = []
        self.new_row_counts: dict[str, int] = {}

    @property
    def failed(self) -> bool:
        return self.findings.n_errors > self.base_errors

    def is_new(self, column: str = "_file") -> str:
        """SQL: the row comes from a file new in this build."""
        return f"{column} in ({', '.join(sql_text(d) for d in self.new_files) or 'null'})"

    def count_and_show(
        self, relation: str, condition: str, message: str, column: str | None, rule: str, order: str = "_file, _row"
    ) -> int:
        total = self.con.execute(f"select count(*) from {relation} where {condition}").fetchone()[0]
        if total:
            rows = self.con.execute(
                f"select _file, _row, {message} from {relation} where {condition} order by {order} limit {self.limit}"
            ).fetchall()
            add_rows(self.findings, rows, total, column, rule)
        return total

    def file_layout(self, f: MicrodataFile) -> dict[str, str] | None:
        """Check a new file's columns; return {name: type as stored} or None."""
        import duckdb

        try:
            present = _file_columns(self.con, f)
        except duckdb.OutOfMemoryException:
            raise  # not the file's fault: the build stops with exit 13
        except duckdb.Error as exc:
            _add_unreadable(self.findings, f, exc, "readable")
            return None
        if f.fmt == "csv" and not self._csv_parses(f):
            return None
        return dict(present) if self._columns_fit(f, [n for n, _ in present]) else None

    def _csv_parses(self, f: MicrodataFile) -> bool:
        """A CSV file has a header line and parses whole (its line named when it does not)."""
        import duckdb

        if f.size_bytes == 0:
            add_issue(
                self.findings,
                f.display,
                None,
                None,
                "csv_syntax",
                "the file is empty: a CSV file starts with its header line (a delivery without rows too)",
            )
            return False
        try:  # the whole file once: a stray comma or an open quote stops here with its line
            self.con.execute(
                f"select count(*) from read_csv({sql_text(str(f.checked_path))}, header = true, "
                "delim = ',', quote = '\"', escape = '\"', all_varchar = true)"
            ).fetchone()
        except duckdb.OutOfMemoryException:
            raise
        except duckdb.Error as exc:
            _add_unreadable(self.findings, f, exc, "csv_syntax")
            return False
        return True

    def _columns_fit(self, f: MicrodataFile, names: list[str]) -> bool:
        """Each column once, every required one present, none outside the layout."""
        expected = self.columns[f.table]
        ok = True
        for name in sorted({n for n in names if names.count(n) > 1}):
            add_issue(self.findings, f.display, None, name, "unique_column", f"column '{name}' appears more than once")
            ok = False
        for name in expected:
            if name not in names and name not in OPTIONAL[f.table]:
                add_issue(
                    self.findings,
                    f.display,
                    None,
                    name,
                    "required_column",
                    f"column '{name}' is missing (layout of {f.table}: {', '.join(expected)})",
                )
                ok = False
        for name in names:
            if name not in expected:
                add_issue(
                    self.findings,
                    f.display,
                    None,
                    name,
                    "known_column",
                    f"column '{name}' is not part of the layout of {f.table} ({', '.join(expected)})",
                )
                ok = False
        return ok

    def new_rows(self, table: str, view: str) -> None:
        """Type and per-row rules over the new files of a table (one pass for the counts)."""
        columns = self.columns[table]
        typed = [(c, t) for c, t in columns.items() if t != "varchar"]
        conditions = [f'"_bad_{c}"' for c, _ in typed] + [cond for _, _, cond, _ in row_rules(table)]
        counts = self.con.execute(
            "select " + ", ".join(f"count(*) filter (where {c})" for c in conditions) + f", count(*) from {view}"
        ).fetchone()
        self.new_row_counts[table] = counts[-1]
        for (column, target), n in zip(typed, counts[: len(typed)], strict=True):
            if n:
                rows = self.con.execute(
                    f"select _file, _row, '''' || \"_raw_{column}\" || ''' is not {EXPECTED_TEXT[target]}' "
                    f'from {view} where "_bad_{column}" order by _file, _row limit {self.limit}'
                ).fetchall()
                add_rows(self.findings, rows, n, column, f"type_{target.split('(')[0]}")
        for (column, rule, condition, message), n in zip(row_rules(table), counts[len(typed) : -1], strict=True):
            if n:
                rows = self.con.execute(
                    f"select _file, _row, {message} from {view} where {condition} "
                    f"order by _file, _row limit {self.limit}"
                ).fetchall()
                add_rows(self.findings, rows, n, column, rule)

    def credit_codes(self, table: str, view: str, columns: list[str]) -> None:
        """The check character, computed once per distinct code; rows reported only for bad ones."""
        self.con.execute(f"""
            create or replace temp table bad_codes as
            select code from (
                {" union ".join(f'select distinct "{c}" as code from {view}' for c in columns)}
            ) where code is not null and not {code_ok("code")}
        """)
        for column in columns:
            self.count_and_show(
                view,
                f'"{column}" in (select code from bad_codes)',
                f"'''' || \"{column}\" || ''' is not a valid unified social credit code (18 characters of "
                f"0-9A-HJ-NPQRTUWXY, digits 3-8 a county code, the GB 32100-2015 check character last)'",
                column,
                "credit_code_check",
            )


# ---- the load -------------------------------------------------------------------------------


def _same_content(files: list[MicrodataFile], findings: Findings) -> None:
    """A file delivered twice (under two names) would count its rows twice: refused, unless it
    has no rows (empty deliveries of two months can be the same header line)."""
    for f in files:
        first = f.same_as
        if first is None:
            continue
        if first.rows:
            add_issue(
                findings,
                f.display,
                None,
                None,
                "unique_file",
                f"has the same content as {first.display} ({first.rows:,} row{'s' if first.rows > 1 else ''}): "
                "its rows would count twice; "
                "remove one of the two files",
            )
        else:
            f.reused, f.rows, f.months, f.store_dir = first.reused, 0, {}, first.store_dir


def _find_unreadable(con, files: list[MicrodataFile], columns: dict[str, dict[str, str]], findings: Findings) -> bool:
    """After a read failed midway (a damaged or cut Parquet page, a CSV that breaks after its
    first blocks): read every file alone and whole, and report those that fail. Whether one did."""
    import duckdb

    found = False
    for f in files:
        wanted = columns[f.table]
        if f.reused:
            select, what = store_select(f, wanted), "the store copy of this file (checked before) cannot be read"
        elif f.present is not None:
            select, what = typed_select(f, wanted, f.present), None
        else:
            continue
        every_value = ", ".join(f'"{c}"' for c in wanted)
        try:
            con.execute(f"select count(hash({every_value})) from ({select})").fetchone()
        except duckdb.OutOfMemoryException:
            raise
        except duckdb.Error as exc:
            _add_unreadable(findings, f, exc, "csv_syntax" if f.fmt == "csv" and not f.reused else "readable", what)
            found = True
    return found


def _add_unreadable(findings: Findings, f: MicrodataFile, exc: Exception, rule: str, what: str | None = None) -> None:
    """A reader's error as one issue: the user's file named instead of the store's incoming
    copy, and the line of a CSV error when DuckDB gives it."""
    text = str(exc).splitlines()[0]
    if f.checked_path is not None:
        text = text.replace(str(f.checked_path), f.display)
    line = re.search(r"CSV Error on Line: ([0-9]+)", text) if f.fmt == "csv" else None
    kind = "Parquet" if f.fmt == "parquet" else "CSV (comma-separated, UTF-8, header line)"
    add_issue(
        findings,
        f.display,
        int(line[1]) if line else None,
        None,
        rule,
        f"{what or f'cannot be read as {kind}'}: {text}",
    )


def _check(checker: _Checker, files: list[MicrodataFile]) -> None:
    con = checker.con
    checker.new_files = [f.display for f in files if not f.reused]
    for table in TABLES:
        columns = checker.columns[table]
        selects = []
        for f in (f for f in files if f.table == table and not f.reused):
            f.present = checker.file_layout(f)
            if f.present is not None:
                selects.append(typed_select(f, columns, f.present))
        con.execute(
            f"create or replace temp view new_{table} as " + " union all ".join(selects or [empty_select(columns)])
        )
        cols = ", ".join(["_file", "_row"] + [f'"{c}"' for c in columns])
        old = [store_select(f, columns) for f in files if f.table == table and f.reused]
        con.execute(
            f"create or replace temp view old_{table} as "
            + (" union all ".join(old) if old else f"select {cols} from ({empty_select(columns)})")
        )
        con.execute(
            f"create or replace temp view all_{table} as select {cols} from new_{table} "
            f"union all select {cols} from old_{table}"
        )
    if checker.failed:
        return
    for table in TABLES:
        checker.new_rows(table, f"new_{table}")
        codes = {
            "enterprises": ["credit_code"],
            "enterprise_month": ["credit_code"],
            "supply_invoices": ["seller_code", "buyer_code"],
        }[table]
        checker.credit_codes(table, f"new_{table}", codes)
    if checker.failed:
        return
    _cross_file(checker, any(f.reused for f in files))
    for table in TABLES:
        _months(con, table, [f for f in files if f.table == table and not f.reused])


def _cross_file(checker: _Checker, has_old: bool) -> None:
    """Keys over all files (new against new and old), and the rules that join tables."""
    _duplicate_keys(checker, has_old)
    _one_value_kind(checker)
    _reports_in_register(checker)
    _invoices_in_register(checker)
    _ytd_falls(checker)
    _red_letter(checker)


def _duplicate_keys(checker: _Checker, has_old: bool) -> None:
    """Duplicated keys: every occurrence after the first (in file and row order) is reported. Old
    files were checked together before, so only a key that occurs in a new file can repeat:
    with old files, the keys of new rows are looked up among all rows (a scan of the key
    column); without, all rows are grouped, in passes of KEY_GROUP_ROWS over hash buckets."""
    con = checker.con
    for table, key, rule in (
        ("enterprises", ["credit_code", "record_date"], "unique_key"),
        ("enterprise_month", ["credit_code", "report_month"], "unique_key"),
        ("supply_invoices", ["invoice_id"], "unique_invoice_id"),
    ):
        keys = ", ".join(key)
        label = " || ', ' || ".join(f"'{k}=' || {k}" for k in key)
        candidates = (
            f"(select {keys} from all_{table} semi join new_{table} using ({keys}))" if has_old else f"all_{table}"
        )
        passes = 1 if has_old else max(1, -(-checker.new_row_counts[table] // KEY_GROUP_ROWS))
        for bucket in range(passes):
            where = f"where hash({keys}) % {passes} = {bucket}" if passes > 1 else ""
            con.execute(
                ("insert into repeated " if bucket else "create or replace temp table repeated as ")
                + f"select {keys} from {candidates} {where} group by all having count(*) > 1"
            )
        if con.execute("select count(*) from repeated").fetchone()[0] == 0:
            continue
        con.execute(f"""
            create or replace temp table repeats as
            select * from (
                select _file, _row, {keys},
                    first_value(_file) over key_order as first_file, first_value(_row) over key_order as first_row,
                    row_number() over key_order as occurrence
                from all_{table} semi join repeated using ({keys})
                window key_order as (partition by {keys} order by _file, _row)
            ) where occurrence > 1
        """)
        checker.count_and_show(
            "repeats",
            "true",
            f"{label} || ' already appears in ' || first_file || case "
            "when lower(first_file) like '%.csv' then ', line ' else ', row ' end || first_row",
            key[0] if len(key) == 1 else None,
            rule,
        )


def _one_value_kind(checker: _Checker) -> None:
    """One value kind per enterprise and year, over all files."""
    con = checker.con
    con.execute(
        "create or replace temp table mixed_kinds as select credit_code, year(report_month) as report_year "
        "from all_enterprise_month group by all having count(distinct value_kind) > 1"
    )
    checker.count_and_show(
        "(select m.* from all_enterprise_month m join mixed_kinds k "
        "on k.credit_code = m.credit_code and k.report_year = year(m.report_month))",
        "true",
        "'enterprise ' || credit_code || ' reports both ytd and month values in ' || year(report_month) "
        "|| ' (one kind per enterprise and year)'",
        "value_kind",
        "one_value_kind_per_year",
    )


def _reports_in_register(checker: _Checker) -> None:
    """Reports come from registered enterprises that have a record by the end of the month."""
    con = checker.con
    con.execute(
        "create or replace temp table first_record as "
        "select credit_code, min(record_date) as first_record_date from all_enterprises group by 1"
    )
    checker.count_and_show(
        "all_enterprise_month m left join first_record r using (credit_code)",
        "r.credit_code is null",
        "'enterprise ' || credit_code || ' is not in the register (enterprises/)'",
        "credit_code",
        "known_enterprise",
    )
    checker.count_and_show(
        "all_enterprise_month m join first_record r using (credit_code)",
        "r.first_record_date > last_day(m.report_month)",
        "'the register has no record of ' || credit_code || ' by the end of ' || strftime(report_month, '%Y-%m') "
        "|| ' (first record ' || first_record_date || ')'",
        "report_month",
        "reported_before_record",
    )


def _invoices_in_register(checker: _Checker) -> None:
    """Invoices likewise: a party in the register has a record by the end of the invoice's month
    (before it, the model would count the party as one outside the register). All invoices,
    old ones included (a register delivered anew can move a first record), in one scan."""
    con = checker.con
    con.execute("""
        create or replace temp table early_invoices as
        select i._file, i._row, i.issue_date, i.seller_code, i.buyer_code,
            s.first_record_date as seller_first_record, b.first_record_date as buyer_first_record
        from all_supply_invoices i
        left join first_record s on s.credit_code = i.seller_code
        left join first_record b on b.credit_code = i.buyer_code
        where s.first_record_date > last_day(i.issue_date) or b.first_record_date > last_day(i.issue_date)
    """)
    for party in ("seller", "buyer"):
        checker.count_and_show(
            "early_invoices",
            f"{party}_first_record > last_day(issue_date)",
            f"'the register has no record of the {party} ' || {party}_code || ' by the end of ' "
            "|| strftime(issue_date, '%Y-%m') || ', when the invoice was issued (first record ' "
            f"|| {party}_first_record || ')'",
            f"{party}_code",
            "invoice_before_record",
        )


def _red_letter(checker: _Checker) -> None:
    """Red-letter invoices: the invoice cancelled exists, is ordinary, has the same parties, and is
    not cancelled beyond its amount. Checked for every red-letter invoice naming an invoice that
    a new red-letter invoice names (so old ones count in the total)."""
    con = checker.con
    con.execute("""
        create or replace temp table red as
        select _file, _row, invoice_id, original_invoice_id, seller_code, buyer_code, amount_yuan, issue_date
        from all_supply_invoices
        where original_invoice_id in (select original_invoice_id from new_supply_invoices
                                      where original_invoice_id is not null)
    """)
    con.execute("""
        create or replace temp table cancelled as
        select invoice_id, seller_code, buyer_code, amount_yuan, original_invoice_id is not null as is_red
        from all_supply_invoices where invoice_id in (select original_invoice_id from red)
    """)
    red_new = f"(select * from red where {checker.is_new()})"
    checker.count_and_show(
        f"({red_new}) r left join cancelled c on c.invoice_id = r.original_invoice_id",
        "c.invoice_id is null",
        "'red-letter invoice ' || r.invoice_id || ' cancels ' || r.original_invoice_id || ', which is in no file'",
        "original_invoice_id",
        "red_letter_original_exists",
    )
    checker.count_and_show(
        f"({red_new}) r join cancelled c on c.invoice_id = r.original_invoice_id",
        "c.is_red or c.seller_code <> r.seller_code or c.buyer_code <> r.buyer_code",
        "'red-letter invoice ' || r.invoice_id || ' cancels ' || r.original_invoice_id || ', which is '"
        " || case when c.is_red then 'itself a red-letter invoice' else 'between other parties (' || c.seller_code"
        " || ' to ' || c.buyer_code || ')' end",
        "original_invoice_id",
        "red_letter_same_parties",
    )
    checker.count_and_show(
        "(select original_invoice_id, sum(-amount_yuan) as cancelled_yuan, max(_file) as _file, max(_row) as _row "
        "from red group by 1) r join cancelled c on c.invoice_id = r.original_invoice_id",
        "not c.is_red and r.cancelled_yuan > c.amount_yuan",
        "'red-letter invoices cancel ' || r.cancelled_yuan || ' yuan of invoice ' || r.original_invoice_id "
        "|| ', more than its ' || c.amount_yuan",
        "amount_yuan",
        "red_letter_within_original",
    )


def _ytd_falls(checker: _Checker) -> None:
    """A year-to-date value may fall within an enterprise and year by at most YTD_TOLERANCE of
    the previous report (a revision); a larger fall is a month's value in a ytd column. The same
    rule as dbt's ytd_non_decreasing test of the staging model, here with file, row and column."""
    for column, what in (("gross_output_yuan", "gross output"), ("revenue_yuan", "revenue")):
        checker.con.execute(f"""
            create or replace temp table ytd_falls as
            select * from (
                select _file, _row, credit_code, report_month, "{column}" as ytd_value,
                    lag("{column}") over by_month as previous_value, lag(report_month) over by_month as previous_month,
                    lag(_file) over by_month as previous_file, lag(_row) over by_month as previous_row
                from all_enterprise_month
                where value_kind = 'ytd'
                window by_month as (partition by credit_code, year(report_month) order by report_month)
            ) where ytd_value < previous_value * (1 - {YTD_TOLERANCE})
        """)
        checker.count_and_show(
            "ytd_falls",
            "true",
            f"'{what} year to date of ' || credit_code || ' falls from ' || previous_value || ' in ' "
            "|| strftime(previous_month, '%Y-%m') || ' (' || previous_file || case when lower(previous_file) "
            "like '%.csv' then ', line ' else ', row ' end || previous_row || ') to ' || ytd_value || ' in ' "
            f"|| strftime(report_month, '%Y-%m') || ', more than {YTD_TOLERANCE:.0%} (a month''s value in a ytd "
            "column?)'",
            column,
            "ytd_non_decreasing",
        )


def _months(con, table: str, new: list[MicrodataFile]) -> None:
    """Rows per month of the new files (for the manifest and the incremental plan)."""
    if not new:
        return
    month = MONTH_COLUMN[table]
    expr = f"strftime(date_trunc('month', {month}), '%Y-%m-%d')" if month else "null"
    counts: dict[str, dict] = {}
    for display, m, n in con.execute(f"select _file, {expr}, count(*) from new_{table} group by all").fetchall():
        counts.setdefault(display, {})[m] = n
    for f in new:
        by_month = counts.get(f.display, {})
        f.rows = sum(by_month.values())
        f.months = {m: n for m, n in sorted(by_month.items()) if m is not None}


def _one_basis(con, files: list[MicrodataFile], findings: Findings) -> str:
    """All microdata of a build share one basis: real and synthetic rows are never summed."""
    found = {
        b
        for (b,) in con.execute("""
        select distinct coalesce(basis, 'reported') from all_enterprises
        union select distinct coalesce(basis, 'reported') from all_enterprise_month
        union select distinct coalesce(basis, 'reported') from all_supply_invoices""").fetchall()
    }
    if len(found) > 1:
        add_issue(
            findings,
            "(all microdata files)",
            None,
            "basis",
            "one_basis",
            f"the files mix bases {sorted(found)}: real (reported) and synthetic microdata are never built "
            "together; build them separately",
        )
        return ""
    return found.pop() if found else "reported"
