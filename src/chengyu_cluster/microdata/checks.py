"""Enterprise microdata: check the files, keep immutable copies, load them into the candidate.

`chengyu build --microdata DIR` (layout: docs/microdata_layout.md) runs, before dbt:

1. **Read once, into the store.** Every input file under DIR/enterprises, DIR/enterprise_month
   and DIR/supply_invoices is hashed (sha256). A file whose hash the warehouse's microdata
   store already holds was checked by an earlier build and is reused as it is. A new file is
   copied into the store's incoming folder (hashed again while copying: a file that changes
   while being read is refused), and everything after reads that copy, never the user's file.
2. **Checks** on the copies, in DuckDB SQL so that a hundred million rows need no Python
   loop: per row (types, required values, credit-code check characters, area and class
   codes, signs of amounts, ...), and across all files, new and reused (duplicated keys and
   invoice ids, red-letter invoices against the invoices they cancel, one value kind per
   enterprise and year, reports and invoices of enterprises in the register by their month,
   year-to-date values that fall, files delivered twice). Problems are reported as
   one line each, `file, row, column, rule`, with the error type of the input reader
   (inputs.Issue, inputs.Findings): the first 50 printed and all counted; any error stops
   the build with exit 3 before a candidate exists.
3. **Store.** A checked copy becomes immutable (read-only): a Parquet file already in the
   layout's types is kept byte for byte, anything else (CSV, other Parquet types) is written
   once as typed Parquet. Store layout, beside the warehouse file:

       <warehouse>/<name>.microdata/objects/<table>/<sha256>/<file name>.parquet
       <warehouse>/<name>.microdata/objects/<table>/<sha256>/meta.json   rows per month
       <warehouse>/<name>.microdata/manifests/<build id>.json           store files a build uses
       <warehouse>/<name>.microdata/tmp/                                incoming copies, spill

   Each object is written from its own checked copy, so a delivery may mix CSV and Parquet
   (of any castable types) in one table. The warehouse records store files relative to the
   store (`objects/...`: the same in every warehouse built from the same files, and valid
   when the store moves); the names in tmp/ carry the process id, and what a killed load left
   there is removed by the next one (remove_leftovers).

4. **Load.** In the candidate, `raw_microdata.enterprises | enterprise_month | supply_invoices`
   are views over the store files of this build (`raw_microdata.partitions` lists them with
   their months). A published version's views name only immutable store files, kept as long
   as a kept version's manifest names them (garbage collected at the next build), so the
   warehouse never depends on a file the user can change, and no version copies the history.
5. **Incremental.** If the published version was built from the same microdata code and
   seeds (the layer fingerprint), its incremental models (INCREMENTAL_FACTS: the enterprise x
   month grid, `microdata.fct_supply_flow`, `microdata.fct_enterprise_month` and the three
   marts by year; a few million rows of aggregates, not the invoices) are copied into the
   candidate and dbt runs them incrementally from `microdata_reprocess_from`: the earliest
   month whose input files were added, removed or replaced, whose register records changed,
   or whose enterprise opening or closing date changed, and at least the look-back window
   (var microdata_lookback_months) before the newest month. Months before it are not read
   again. `--full-refresh` (or any change of code or seeds) rebuilds every month; the result
   is the same (tests/test_microdata.py; the rule per model: docs/microdata_layout.md).

Why not DuckLake (the duckdb-extension-ducklake wheel exists for DuckDB 1.5.5): the published
warehouse is one DuckDB file opened read-only with external access disabled (`chengyu sql`,
BI tools); its marts must be tables inside it either way, and the invoices only need to be
immutable and addressable per build. Content-addressed Parquet files plus the version's own
manifest give that with the file system alone, one dependency less, and the same crash
safety as the versions: a copy becomes visible by a rename, and nothing a published version
names is ever rewritten.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import stat
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from chengyu_cluster.inputs.reader import ERROR, WARNING, Findings, InputFile, Issue, sql_text
from chengyu_cluster.microdata.credit_codes import USCC_ALPHABET, uscc_check_sql

TABLES = ("enterprises", "enterprise_month", "supply_invoices")
SOURCES_YAML = "models/staging/microdata/_microdata__sources.yml"
# Columns a file may leave out (NULL then).
OPTIONAL = {
    "enterprises": {"name", "closed_on", "basis"},
    "enterprise_month": {"employees", "revenue_yuan", "basis"},
    "supply_invoices": {"tax_class_code", "original_invoice_id", "basis"},
}
# The month a row belongs to, for the manifest (the register has none).
MONTH_COLUMN = {"enterprises": None, "enterprise_month": "report_month", "supply_invoices": "issue_date"}
# The incremental models a build carries over from the published version: the enterprise x
# month grid, the two facts (by month) and the cells of the three marts (by year; the marts
# apply disclosure control to them in every run).
INCREMENTAL_FACTS = (
    ("intermediate", "int_microdata_enterprise_months"),
    ("microdata", "fct_supply_flow"),
    ("microdata", "fct_enterprise_month"),
    ("intermediate", "int_local_sourcing_cells"),
    ("intermediate", "int_chain_linkage_cells"),
    ("intermediate", "int_firm_dynamics_cells"),
)
DEFAULT_MEMORY_LIMIT = "3GB"
# How far a year-to-date value may fall from the previous report of the year (a revision): the
# tolerance of the ytd_non_decreasing tests in models/staging/microdata/_microdata__models.yml,
# which keep the invariant in the build (tests/unit/test_microdata_store.py checks both agree).
YTD_TOLERANCE = 0.01
# Rows of a table whose keys are grouped in one pass of the duplicate check. DuckDB 1.5.5
# could not group 100 million distinct invoice ids at the 3GB limit (out of memory, also on
# their hashes); in passes over hash buckets of 10-13 million rows it needed 1.2 GiB.
KEY_GROUP_ROWS = 10_000_000
# Province-level prefixes of GB/T 2260 (the first two digits of a county code).
PROVINCES = {
    "11",
    "12",
    "13",
    "14",
    "15",
    "21",
    "22",
    "23",
    "31",
    "32",
    "33",
    "34",
    "35",
    "36",
    "37",
    "41",
    "42",
    "43",
    "44",
    "45",
    "46",
    "50",
    "51",
    "52",
    "53",
    "54",
    "61",
    "62",
    "63",
    "64",
    "65",
    "71",
    "81",
    "82",
}
# Text rules for CSV cells, the same dialect as the input reader (inputs.py).
TEXT_PATTERNS = {
    "date": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    "integer": r"^[+-]?[0-9]+$",
    "bigint": r"^[+-]?[0-9]+$",
    "double": r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$",
    "decimal(18,2)": r"^[+-]?([0-9]+(\.[0-9]{0,2})?|\.[0-9]{1,2})$",
    "boolean": r"^(true|false|TRUE|FALSE|True|False)$",
}
EXPECTED_TEXT = {
    "date": "a date written YYYY-MM-DD",
    "integer": "a whole number in ASCII digits",
    "bigint": "a whole number in ASCII digits",
    "double": "a number in ASCII digits (like 1200 or -3.5)",
    "decimal(18,2)": "an amount in yuan with at most two decimals (like 1200.50)",
    "boolean": "true or false",
}


class RowIssue(Issue):
    """An Issue located by data row (Parquet has rows, not lines): `file, row N, column 'c'`."""

    def __str__(self) -> str:
        return super().__str__().replace(f", line {self.line}", f", row {self.line}", 1)


def layout(project_dir: Path) -> dict[str, dict[str, str]]:
    """Input columns and their types per table, from the source YAML (loader columns left out)."""
    spec = yaml.safe_load((project_dir / SOURCES_YAML).read_text(encoding="utf-8"))
    tables = spec["sources"][0]["tables"]
    return {
        t["name"]: {c["name"]: c["data_type"] for c in t["columns"] if not c.get("meta", {}).get("loader_column")}
        for t in tables
        if t["name"] in TABLES
    }


@dataclass
class MicrodataFile:
    table: str
    path: Path  # the user's file
    display: str  # relative to the microdata directory, as printed
    fmt: str  # parquet | csv
    sha256: str = ""
    size_bytes: int = 0
    reused: bool = False  # already in the store: checked by an earlier build
    checked_path: Path | None = None  # what the checks read (the incoming copy, or the user's file)
    present: dict[str, str] | None = None  # the file's columns and their types, once its layout is checked
    same_as: MicrodataFile | None = None  # an earlier file of the delivery with the same bytes
    store_dir: Path | None = None
    store_file: Path | None = None
    months: dict[str, int] = field(default_factory=dict)
    rows: int = 0

    @property
    def base_name(self) -> str:
        return re.sub(r"[^A-Za-z0-9._-]", "_", Path(self.display).stem) + ".parquet"


@dataclass
class Store:
    root: Path

    @classmethod
    def of(cls, paths) -> Store:
        return cls(paths.directory / f"{paths.name}.microdata")

    @property
    def objects(self) -> Path:
        return self.root / "objects"

    @property
    def manifests(self) -> Path:
        return self.root / "manifests"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    def object_dir(self, table: str, sha: str) -> Path:
        return self.objects / table / sha

    def relative(self, path: Path) -> str:
        """How the warehouse records a store file: relative to the store (the same in every
        warehouse built from the same data, and valid when the store moves)."""
        return str(path.relative_to(self.root))

    def resolve(self, recorded: str) -> Path:
        """The store file a recorded path names: objects/<table>/<sha256>/<file>, relative to the
        store or (as versions before recorded it) absolute, possibly where the store used to be."""
        return self.root.joinpath(*Path(recorded).parts[-4:])


@dataclass
class Microdata:
    """What the checks accepted, and (for a build) how it enters the candidate."""

    directory: Path
    files: list[MicrodataFile]
    store: Store | None
    basis: str = "reported"
    dbt_vars: dict = field(default_factory=dict)
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


# ---- reporting ---------------------------------------------------------------------------


def _add(
    findings: Findings,
    display: str,
    row: int | None,
    column: str | None,
    rule: str,
    message: str,
    severity: str = ERROR,
) -> None:
    """A CSV file is located by line (as the input reader does), a Parquet file by data row."""
    kind = Issue if display.lower().endswith(".csv") else RowIssue
    findings.add(kind(display, row, column, rule, message, severity))


def _add_rows(findings: Findings, rows: list[tuple], total: int, column: str | None, rule: str) -> None:
    """Add the shown rows (file, row, message) as issues and count the rest without keeping them."""
    for display, row, message in rows:
        _add(findings, display, row, column, rule, message)
    hidden = total - len(rows)
    if hidden > 0:  # counted like Findings.add counts what it does not keep
        findings.n_errors += hidden


def print_new_findings(findings: Findings, kept_before: int, total_before: int) -> None:
    """Print the issues added since the counts given (the seeds' were printed already)."""
    for issue in findings.kept[kept_before:]:
        print(issue, file=sys.stderr if issue.severity == ERROR else sys.stdout)
    added = findings.n_total - total_before
    shown = len(findings.kept) - kept_before
    if added > shown:
        print(
            f"... and {added - shown:,} more microdata problem(s) not shown (the first {shown} are above)",
            file=sys.stderr,
        )


# ---- listing and reading -------------------------------------------------------------------


def list_files(directory: Path, findings: Findings) -> list[MicrodataFile]:
    """The input files under each table's folder, in path order; problems as findings."""
    files: list[MicrodataFile] = []
    if not directory.is_dir():
        _add(
            findings,
            str(directory),
            None,
            None,
            "microdata_directory",
            "not a directory; give the folder holding enterprises/, enterprise_month/ and supply_invoices/",
        )
        return files
    for table in TABLES:
        folder = directory / table
        if not folder.is_dir():
            _add(
                findings,
                f"{table}/",
                None,
                None,
                "required_folder",
                f"the folder {folder} is missing (layout: docs/microdata_layout.md)",
            )
            continue
        for path in sorted(folder.rglob("*")):
            name = path.name
            if name.startswith(".") or path.is_dir():
                continue
            suffix = path.suffix.lower()
            if suffix not in (".parquet", ".csv"):
                continue
            display = str(path.relative_to(directory))
            try:
                mode = os.stat(path).st_mode
            except OSError as exc:
                _add(findings, display, None, None, "readable", f"the file cannot be read: {exc.strerror}")
                continue
            if not stat.S_ISREG(mode):
                _add(findings, display, None, None, "regular_file", "not a regular file")
                continue
            files.append(MicrodataFile(table, path, display, suffix[1:]))
    if not any(f.table == "enterprises" for f in files) and (directory / "enterprises").is_dir():
        _add(findings, "enterprises/", None, None, "has_rows", "no register file (*.parquet or *.csv)")
    return files


def _sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _copy_hashing(source: Path, target: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(source, "rb") as src, open(target, "wb") as dst:
        for chunk in iter(lambda: src.read(1 << 22), b""):
            digest.update(chunk)
            dst.write(chunk)
            size += len(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    return digest.hexdigest(), size


def _connect(store: Store | None, memory_limit: str):
    import duckdb

    config = {"memory_limit": memory_limit}
    if store is not None:
        store.tmp.mkdir(parents=True, exist_ok=True)
        config["temp_directory"] = str(store.tmp / f"spill-{os.getpid()}")
    con = duckdb.connect(config=config)
    con.execute("set enable_progress_bar = false")
    return con


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


def _typed_select(f: MicrodataFile, columns: dict[str, str], present: dict[str, str]) -> str:
    """SELECT of one file in the layout's types, with _file, _row and _bad_<column> flags.

    A CSV cell must match the dialect's text pattern before it is cast; a Parquet value must
    cast. A missing optional column is NULL.
    """
    path = sql_text(str(f.checked_path))
    parts = [f"{sql_text(f.display)} as _file"]
    if f.fmt == "parquet":
        source = f"read_parquet({path}, file_row_number = true)"
        parts.append("file_row_number + 1 as _row")
    else:
        names = ", ".join(f"{sql_text(n)}: 'varchar'" for n in present)
        source = (
            f"(select *, row_number() over () + 1 as file_line from read_csv({path}, header = true, "
            f"delim = ',', quote = '\"', escape = '\"', all_varchar = true, auto_detect = false, "
            f"columns = {{{names}}}))"
        )
        parts.append("file_line as _row")
    for name, target in columns.items():
        q = f'"{name}"'
        if name not in present:
            parts += [f"cast(null as {target}) as {q}", f'false as "_bad_{name}"', f'null::varchar as "_raw_{name}"']
            continue
        if f.fmt == "csv":
            text = f"nullif(trim({q}), '')"
            if target == "varchar":
                parts += [f"{text} as {q}", f'false as "_bad_{name}"', f'{text} as "_raw_{name}"']
            else:
                pattern = TEXT_PATTERNS[target]
                parts += [
                    f"case when regexp_full_match({text}, {sql_text(pattern)}) "
                    f"then try_cast({text} as {target}) end as {q}",
                    f"({text} is not null and (not regexp_full_match({text}, {sql_text(pattern)}) "
                    f'or try_cast({text} as {target}) is null)) as "_bad_{name}"',
                    f'{text} as "_raw_{name}"',
                ]
        elif present[name] == target:
            parts += [f"{q}", f'false as "_bad_{name}"', f'null::varchar as "_raw_{name}"']
        else:
            parts += [
                f"try_cast({q} as {target}) as {q}",
                f'({q} is not null and try_cast({q} as {target}) is null) as "_bad_{name}"',
                f'cast({q} as varchar) as "_raw_{name}"',
            ]
    return f"select {', '.join(parts)} from {source}"


def _store_select(f: MicrodataFile, columns: dict[str, str]) -> str:
    """SELECT of a stored (already checked, typed) file with _file and _row."""
    cols = ", ".join(f'"{c}"' for c in columns)
    return (
        f"select {sql_text(f.display)} as _file, file_row_number + 1 as _row, {cols} "
        f"from read_parquet({sql_text(str(f.store_file))}, file_row_number = true)"
    )


# ---- rules ------------------------------------------------------------------------------------


def _code_ok(expr: str) -> str:
    """SQL: the credit code in `expr` has 18 characters of the alphabet, digits at 3-8, the right check."""
    return (
        f"(regexp_full_match({expr}, '[{USCC_ALPHABET}]{{2}}[0-9]{{6}}[{USCC_ALPHABET}]{{10}}') "
        f"and right({expr}, 1) = {uscc_check_sql(expr)})"
    )


def _county_ok(expr: str) -> str:
    provinces = ", ".join(sql_text(p) for p in sorted(PROVINCES))
    return (
        f"(regexp_full_match({expr}, '[0-9]{{6}}') and left({expr}, 2) in ({provinces}) and right({expr}, 2) <> '00')"
    )


def _row_rules(table: str) -> list[tuple[str, str, str, str]]:
    """(column, rule, condition that marks a bad row, SQL message) checked on every new row."""

    def not_null(c: str, what: str) -> tuple[str, str, str, str]:
        return c, "not_empty", f'"{c}" is null and not "_bad_{c}"', sql_text(f"{what} is empty")

    basis = (
        "basis",
        "accepted_values",
        "basis is not null and basis not in ('reported', 'synthetic')",
        "'basis ''' || basis || ''' is not reported or synthetic'",
    )
    rules = {
        "enterprises": [
            not_null("credit_code", "the credit code"),
            not_null("area_code", "the area code"),
            not_null("industry_class", "the industry class"),
            not_null("above_scale", "the above-scale flag"),
            not_null("opened_on", "the opening date"),
            not_null("record_date", "the record date"),
            (
                "area_code",
                "county_code",
                f"area_code is not null and not {_county_ok('area_code')}",
                "'''' || area_code || ''' is not a GB/T 2260 county-level code (six digits of a known province, "
                "not ending in 00)'",
            ),
            (
                "industry_class",
                "industry_class",
                "industry_class is not null and not regexp_full_match(industry_class, '[A-T][0-9]{4}')",
                "'''' || industry_class || ''' is not a GB/T 4754-2017 class (section letter and four digits, "
                "like C3670)'",
            ),
            (
                "closed_on",
                "closed_after_opened",
                "closed_on < opened_on",
                "'closed on ' || closed_on || ', before it opened on ' || opened_on",
            ),
            (
                "record_date",
                "record_after_opening",
                "record_date < opened_on",
                "'record date ' || record_date || ' is before the opening date ' || opened_on",
            ),
            basis,
        ],
        "enterprise_month": [
            not_null("credit_code", "the credit code"),
            not_null("report_month", "the report month"),
            not_null("value_kind", "the value kind"),
            not_null("gross_output_yuan", "the gross output"),
            (
                "report_month",
                "first_of_month",
                "day(report_month) <> 1",
                "'report month ' || report_month || ' is not the first day of a month'",
            ),
            (
                "value_kind",
                "accepted_values",
                "value_kind not in ('ytd', 'month')",
                "'value kind ''' || value_kind || ''' is not ytd or month'",
            ),
            (
                "gross_output_yuan",
                "non_negative",
                "gross_output_yuan < 0",
                "'gross output ' || gross_output_yuan || ' is negative'",
            ),
            ("revenue_yuan", "non_negative", "revenue_yuan < 0", "'revenue ' || revenue_yuan || ' is negative'"),
            ("employees", "non_negative", "employees < 0", "'employees ' || employees || ' is negative'"),
            basis,
        ],
        "supply_invoices": [
            not_null("invoice_id", "the invoice id"),
            not_null("seller_code", "the seller's credit code"),
            not_null("buyer_code", "the buyer's credit code"),
            not_null("issue_date", "the issue date"),
            not_null("amount_yuan", "the amount"),
            not_null("tax_yuan", "the tax"),
            (
                "buyer_code",
                "seller_is_not_buyer",
                "seller_code = buyer_code",
                "'seller and buyer are the same enterprise ' || seller_code",
            ),
            (
                "amount_yuan",
                "ordinary_non_negative",
                "original_invoice_id is null and amount_yuan < 0",
                "'amount ' || amount_yuan || ' is negative: a red-letter invoice must name the invoice it cancels "
                "(original_invoice_id)'",
            ),
            (
                "amount_yuan",
                "red_letter_negative",
                "original_invoice_id is not null and amount_yuan >= 0",
                "'a red-letter invoice (it names ' || original_invoice_id || ') must have a negative amount, not ' "
                "|| amount_yuan",
            ),
            (
                "tax_yuan",
                "tax_sign",
                "sign(tax_yuan) * sign(amount_yuan) < 0",
                "'tax ' || tax_yuan || ' and amount ' || amount_yuan || ' have opposite signs'",
            ),
            basis,
        ],
    }
    return rules[table]


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
            _add_rows(self.findings, rows, total, column, rule)
        return total

    def file_layout(self, f: MicrodataFile) -> dict[str, str] | None:
        """Check a new file's columns; return {name: type as stored} or None."""
        import duckdb

        expected = self.columns[f.table]
        try:
            present = _file_columns(self.con, f)
        except duckdb.OutOfMemoryException:
            raise  # not the file's fault: the build stops with exit 13
        except duckdb.Error as exc:
            _add_unreadable(self.findings, f, exc, "readable")
            return None
        if f.fmt == "csv":
            if f.size_bytes == 0:
                _add(
                    self.findings,
                    f.display,
                    None,
                    None,
                    "csv_syntax",
                    "the file is empty: a CSV file starts with its header line (a delivery without rows too)",
                )
                return None
            try:  # the whole file once: a stray comma or an open quote stops here with its line
                self.con.execute(
                    f"select count(*) from read_csv({sql_text(str(f.checked_path))}, header = true, "
                    "delim = ',', quote = '\"', escape = '\"', all_varchar = true)"
                ).fetchone()
            except duckdb.OutOfMemoryException:
                raise
            except duckdb.Error as exc:
                _add_unreadable(self.findings, f, exc, "csv_syntax")
                return None
        names = [n for n, _ in present]
        ok = True
        for name in sorted({n for n in names if names.count(n) > 1}):
            _add(self.findings, f.display, None, name, "unique_column", f"column '{name}' appears more than once")
            ok = False
        for name in expected:
            if name not in names and name not in OPTIONAL[f.table]:
                _add(
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
                _add(
                    self.findings,
                    f.display,
                    None,
                    name,
                    "known_column",
                    f"column '{name}' is not part of the layout of {f.table} ({', '.join(expected)})",
                )
                ok = False
        return dict(present) if ok else None

    def new_rows(self, table: str, view: str) -> None:
        """Type and per-row rules over the new files of a table (one pass for the counts)."""
        columns = self.columns[table]
        typed = [(c, t) for c, t in columns.items() if t != "varchar"]
        conditions = [f'"_bad_{c}"' for c, _ in typed] + [cond for _, _, cond, _ in _row_rules(table)]
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
                _add_rows(self.findings, rows, n, column, f"type_{target.split('(')[0]}")
        for (column, rule, condition, message), n in zip(_row_rules(table), counts[len(typed) : -1], strict=True):
            if n:
                rows = self.con.execute(
                    f"select _file, _row, {message} from {view} where {condition} "
                    f"order by _file, _row limit {self.limit}"
                ).fetchall()
                _add_rows(self.findings, rows, n, column, rule)

    def credit_codes(self, table: str, view: str, columns: list[str]) -> None:
        """The check character, computed once per distinct code; rows reported only for bad ones."""
        self.con.execute(f"""
            create or replace temp table bad_codes as
            select code from (
                {" union ".join(f'select distinct "{c}" as code from {view}' for c in columns)}
            ) where code is not null and not {_code_ok("code")}
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
        for leftover in remove_leftovers(store):
            print(
                f"microdata store: removed what an interrupted load left: {leftover.relative_to(store.root)}",
                flush=True,
            )
    columns = layout(project_dir)
    con = _connect(store, memory_limit)
    try:
        _take_in(files, store, findings)
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
            _keep(con, files, columns, store)
        return Microdata(directory, files, store, basis)
    finally:
        con.close()
        if store is not None:
            remove_leftovers(store, own_only=True)


# What a load keeps in the store's tmp folder while it runs, named by its process id.
TMP_NAME = re.compile(r"(?:incoming|object|spill|dbt-spill)-(?P<pid>[0-9]+)(?:[-.].*)?")


def remove_leftovers(store: Store, own_only: bool = False) -> list[Path]:
    """Remove the incoming copies, unfinished objects and spill folders that loads left in the
    store's tmp folder: this process's own (`own_only`), or also those of processes that no
    longer run (a load killed before its end). Other names, and a running load's, are left alone."""
    if not store.tmp.is_dir():
        return []
    removed = []
    for path in sorted(store.tmp.iterdir()):
        match = TMP_NAME.fullmatch(path.name)
        if match is None:
            continue
        pid = int(match["pid"])
        if pid != os.getpid() and (own_only or _running(pid)):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _take_in(files: list[MicrodataFile], store: Store | None, findings: Findings) -> None:
    """Hash every file; copy the new ones into the store's incoming folder (a build) or check
    them where they are (validate only). A file with the bytes of an earlier one is marked
    `same_as` it and neither copied nor checked again (_same_content judges it)."""
    first_of: dict[tuple[str, str], MicrodataFile] = {}
    for number, f in enumerate(files):
        try:
            f.sha256, f.size_bytes = _sha256(f.path)
        except OSError as exc:
            _add(findings, f.display, None, None, "readable", f"the file cannot be read: {exc.strerror}")
            continue
        f.same_as = first_of.setdefault((f.table, f.sha256), f)
        if f.same_as is f:
            f.same_as = None
        else:
            continue
        if store is not None:
            f.store_dir = store.object_dir(f.table, f.sha256)
            meta = f.store_dir / "meta.json"
            if meta.is_file():
                info = json.loads(meta.read_text(encoding="utf-8"))
                f.reused, f.store_file = True, f.store_dir / info["store_file"]
                f.months, f.rows = info["months"], info["rows"]
                if f.store_file.is_file():
                    continue
                f.reused = False  # a half-removed object: take the file in again
            store.tmp.mkdir(parents=True, exist_ok=True)
            copy = store.tmp / f"incoming-{os.getpid()}-{number}.{f.fmt}"
            sha, size = _copy_hashing(f.path, copy)
            if sha != f.sha256:
                _add(
                    findings,
                    f.display,
                    None,
                    None,
                    "stable_file",
                    "the file changed while it was being read; build again when it is complete",
                )
                continue
            f.checked_path = copy
        else:
            f.checked_path = f.path


def _same_content(files: list[MicrodataFile], findings: Findings) -> None:
    """A file delivered twice (under two names) would count its rows twice: refused, unless it
    has no rows (empty deliveries of two months can be the same header line)."""
    for f in files:
        first = f.same_as
        if first is None:
            continue
        if first.rows:
            _add(
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
            select, what = _store_select(f, wanted), "the store copy of this file (checked before) cannot be read"
        elif f.present is not None:
            select, what = _typed_select(f, wanted, f.present), None
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
    _add(
        findings,
        f.display,
        int(line[1]) if line else None,
        None,
        rule,
        f"{what or f'cannot be read as {kind}'}: {text}",
    )


def _empty_select(columns: dict[str, str]) -> str:
    parts = ["cast(null as varchar) as _file", "cast(null as bigint) as _row"]
    for name, target in columns.items():
        parts += [f'cast(null as {target}) as "{name}"', f'false as "_bad_{name}"', f'null::varchar as "_raw_{name}"']
    return f"select {', '.join(parts)} where false"


def _check(checker: _Checker, files: list[MicrodataFile]) -> None:
    con = checker.con
    checker.new_files = [f.display for f in files if not f.reused]
    for table in TABLES:
        columns = checker.columns[table]
        selects = []
        for f in (f for f in files if f.table == table and not f.reused):
            f.present = checker.file_layout(f)
            if f.present is not None:
                selects.append(_typed_select(f, columns, f.present))
        con.execute(
            f"create or replace temp view new_{table} as " + " union all ".join(selects or [_empty_select(columns)])
        )
        cols = ", ".join(["_file", "_row"] + [f'"{c}"' for c in columns])
        old = [_store_select(f, columns) for f in files if f.table == table and f.reused]
        con.execute(
            f"create or replace temp view old_{table} as "
            + (" union all ".join(old) if old else f"select {cols} from ({_empty_select(columns)})")
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
    con = checker.con
    # Duplicated keys: every occurrence after the first (in file and row order) is reported. Old
    # files were checked together before, so only a key that occurs in a new file can repeat:
    # with old files, the keys of new rows are looked up among all rows (a scan of the key
    # column); without, all rows are grouped, in passes of KEY_GROUP_ROWS over hash buckets.
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
    # One value kind per enterprise and year, over all files.
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
    # Reports come from registered enterprises that have a record by the end of the month.
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
    # Invoices likewise: a party in the register has a record by the end of the invoice's month
    # (before it, the model would count the party as one outside the register). All invoices,
    # old ones included (a register delivered anew can move a first record), in one scan.
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
    _ytd_falls(checker)
    # Red-letter invoices: the invoice cancelled exists, is ordinary, has the same parties, and is
    # not cancelled beyond its amount. Checked for every red-letter invoice naming an invoice that
    # a new red-letter invoice names (so old ones count in the total).
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
        _add(
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


def _keep(con, files: list[MicrodataFile], columns: dict[str, dict[str, str]], store: Store) -> None:
    """Make each new checked copy an immutable store object (atomic: a rename of its folder).

    Each object is written from its own checked copy alone, never through a view over several
    files: a copy already moved into the store by this loop is gone from the incoming folder."""
    for f in files:
        if f.reused or f.same_as is not None:
            continue
        wanted = columns[f.table]
        staging = store.tmp / f"object-{os.getpid()}-{f.sha256}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        target = staging / f.base_name
        exact = f.fmt == "parquet" and f.present == wanted  # the layout's names and types, in any order
        if exact:
            os.replace(f.checked_path, target)  # the checked bytes themselves
        else:
            cols = ", ".join(f'"{c}"' for c in wanted)
            con.execute(
                f"copy (select {cols} from ({_typed_select(f, wanted, f.present)}) order by _row) "
                f"to {sql_text(str(target))} (format parquet, compression zstd)"
            )
        os.chmod(target, 0o444)
        (staging / "meta.json").write_text(
            json.dumps(
                {
                    "input_file": f.display,
                    "table": f.table,
                    "sha256": f.sha256,
                    "size_bytes": f.size_bytes,
                    "store_file": target.name,
                    "rows": f.rows,
                    "months": f.months,
                    "kept_bytes": exact,
                    "stored_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                },
                indent=1,
            ),
            encoding="utf-8",
        )
        f.store_dir.parent.mkdir(parents=True, exist_ok=True)
        if f.store_dir.exists():  # half removed by a killed garbage collection (whole ones are reused)
            _remove_object(f.store_dir)
        os.rename(staging, f.store_dir)
        f.store_file = f.store_dir / target.name
    for f in files:
        if f.same_as is not None:
            f.store_file = f.same_as.store_file


# ---- into the candidate -----------------------------------------------------------------------


def layer_fingerprint(project_dir: Path, seed_hashes: list[str]) -> str:
    """What the incremental facts depend on besides the microdata: the layer's SQL and YAML, its
    macros, the seeds (areas, sectors), and this module."""
    digest = hashlib.sha256()
    parts = sorted(
        p
        for folder in (
            "models/staging/microdata",
            "models/intermediate/microdata",
            "models/marts/microdata",
            "macros/microdata",
        )
        for p in (project_dir / folder).rglob("*")
        if p.is_file()
    )
    for path in parts + [Path(__file__)]:
        digest.update(str(path.relative_to(project_dir) if path.is_relative_to(project_dir) else path.name).encode())
        digest.update(path.read_bytes())
    for sha in sorted(seed_hashes):
        digest.update(sha.encode())
    return digest.hexdigest()


def attach(
    con,
    micro: Microdata,
    project_dir: Path,
    build_id: str,
    previous_database: Path | None,
    seed_hashes: list[str],
    full_refresh: bool,
    lookback_months: int,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
) -> dict:
    """Create the raw_microdata relations in the candidate, carry the facts over when the plan
    allows, write the build's manifest and collect the store's garbage. Returns the dbt vars."""
    columns = layout(project_dir)
    store = micro.store
    con.execute("create schema if not exists raw_microdata")
    for table in TABLES:
        stored = [f for f in micro.files if f.table == table]
        cols = ", ".join(f'"{c}"' for c in columns[table])
        if stored:
            paths = ", ".join(sql_text(str(f.store_file)) for f in stored)
            con.execute(
                f"create or replace view raw_microdata.{table} as select {cols}, filename as source_file "
                f"from read_parquet([{paths}], filename = true)"
            )
        else:
            typed = ", ".join(f'cast(null as {t}) as "{c}"' for c, t in columns[table].items())
            con.execute(
                f"create or replace view raw_microdata.{table} as select {typed}, "
                "cast(null as varchar) as source_file where false"
            )
    con.execute("""create or replace table raw_microdata.partitions (table_name varchar, input_file varchar,
                   store_file varchar, sha256 varchar, size_bytes bigint, month date, row_count bigint)""")
    rows = []
    for f in micro.files:
        for month, n in f.months.items() if f.months else [(None, f.rows)]:
            rows.append((f.table, f.display, store.relative(f.store_file), f.sha256, f.size_bytes, month, n))
    if rows:
        con.executemany("insert into raw_microdata.partitions values (?, ?, ?, ?, ?, ?, ?)", rows)

    fingerprint = layer_fingerprint(project_dir, seed_hashes)
    plan = _plan(con, micro, previous_database, fingerprint, full_refresh, lookback_months)
    state = {
        "layer_fingerprint": fingerprint,
        "microdata_dir": str(micro.directory),
        "basis": micro.basis,
        "carried_over": str(plan["carry"]).lower(),
        "reprocess_from": plan.get("reprocess_from") or "",
        "plan": plan["reason"],
    }
    con.execute("create or replace table raw_microdata.load_state (key varchar, value varchar)")
    con.executemany("insert into raw_microdata.load_state values (?, ?)", sorted(state.items()))
    micro.state = state

    store.manifests.mkdir(parents=True, exist_ok=True)
    manifest = store.manifests / f"{build_id}.json"
    manifest.write_text(
        json.dumps(
            {"build_id": build_id, "store_files": sorted({store.relative(f.store_file) for f in micro.files})}, indent=1
        ),
        encoding="utf-8",
    )
    # The spill folder carries this process's id: what a killed build leaves is removed by the next
    # load (remove_leftovers), never while this build runs.
    dbt_vars = {
        "microdata_memory_limit": memory_limit,
        "microdata_temp_directory": str(store.tmp / f"dbt-spill-{os.getpid()}"),
    }
    if plan["carry"]:
        dbt_vars["microdata_reprocess_from"] = plan["reprocess_from"]
    micro.dbt_vars = dbt_vars
    return dbt_vars


def _plan(
    con, micro: Microdata, previous: Path | None, fingerprint: str, full_refresh: bool, lookback_months: int
) -> dict:
    """Carry the published version's facts over, and from which month to rebuild them."""
    import duckdb

    if full_refresh:
        return {"carry": False, "reason": "--full-refresh: every month rebuilt"}
    if previous is None:
        return {"carry": False, "reason": "no published version: every month built"}
    try:
        con.execute(f"attach {sql_text(str(previous))} as previous_version (read_only)")
    except duckdb.Error as exc:
        return {"carry": False, "reason": f"the published version cannot be read ({str(exc).splitlines()[0]})"}
    try:
        tables = {
            (s, t)
            for s, t in con.execute(
                "select schema_name, table_name from duckdb_tables() where database_name = 'previous_version'"
            ).fetchall()
        }
        if ("raw_microdata", "load_state") not in tables or not all(f in tables for f in INCREMENTAL_FACTS):
            return {"carry": False, "reason": "the published version has no microdata: every month built"}
        old_state = dict(con.execute("select key, value from previous_version.raw_microdata.load_state").fetchall())
        if old_state.get("layer_fingerprint") != fingerprint:
            return {"carry": False, "reason": "the microdata code or the seeds changed: every month rebuilt"}
        if old_state.get("basis") != micro.basis:
            return {"carry": False, "reason": "the basis changed: every month rebuilt"}
        old = con.execute(
            "select table_name, sha256, month, store_file from previous_version.raw_microdata.partitions"
        ).fetchall()
        new_files = {(f.table, f.sha256) for f in micro.files}
        old_files = {(t, s) for t, s, _, _ in old}
        changed: list[dt.date] = []
        # Months of report and invoice files added, removed or replaced.
        for f in micro.files:
            if (f.table, f.sha256) not in old_files:
                changed += [dt.date.fromisoformat(m) for m in f.months]
        changed += [m for t, s, m, _ in old if (t, s) not in new_files and m is not None]
        # Register: the earliest record date among records added, removed or changed (what
        # attributes a month is the latest record by its end).
        old_register = sorted({str(micro.store.resolve(p)) for t, _, _, p in old if t == "enterprises"})
        new_register = sorted({str(f.store_file) for f in micro.files if f.table == "enterprises"})
        if old_register != new_register:
            record = "credit_code, record_date, area_code, industry_class, above_scale"
            old_sql = (
                f"select {record} from read_parquet([{', '.join(sql_text(p) for p in old_register)}])"
                if old_register
                else None
            )
            if old_sql is None or not all(Path(p).is_file() for p in old_register):
                return {"carry": False, "reason": "the published version's register is no longer in the store"}
            earliest = con.execute(f"""
                select min(record_date) from (
                    (select {record} from raw_microdata.enterprises except select * from ({old_sql}))
                    union all
                    (select * from ({old_sql}) except select {record} from raw_microdata.enterprises)
                )""").fetchone()[0]
            if earliest is not None:
                changed.append(earliest.replace(day=1))
            # An enterprise's opening and closing dates come from its latest record and hold for
            # all its months (whether it is open, the month it enters or exits): when they change
            # without a new record date (a closure filled in on the same record), the months from
            # the earlier of the old and new date change. An enterprise new to the register or
            # gone from it counts by its record dates (above): it has no months before them.
            latest = (
                "select credit_code, opened_on, closed_on from ({}) "
                "qualify row_number() over (partition by credit_code order by record_date desc) = 1"
            )
            earliest = con.execute(f"""
                select min(least(
                    case when o.opened_on is distinct from n.opened_on then least(o.opened_on, n.opened_on) end,
                    case when o.closed_on is distinct from n.closed_on then least(o.closed_on, n.closed_on) end))
                from ({
                latest.format(
                    f"select credit_code, record_date, opened_on, closed_on from "
                    f"read_parquet([{', '.join(sql_text(p) for p in old_register)}])"
                )
            }) as o
                inner join ({latest.format("select * from raw_microdata.enterprises")}) as n using (credit_code)
                where o.opened_on is distinct from n.opened_on or o.closed_on is distinct from n.closed_on
            """).fetchone()[0]
            if earliest is not None:
                changed.append(earliest.replace(day=1))
        newest = con.execute("select max(month) from raw_microdata.partitions where month is not null").fetchone()[0]
        if newest is None:
            return {"carry": False, "reason": "no reports or invoices: every month built"}
        window = _add_months(newest, -lookback_months)
        start = min(changed + [window])
        for schema, table in INCREMENTAL_FACTS:
            con.execute(f"create schema if not exists {schema}")
            con.execute(f"create table {schema}.{table} as select * from previous_version.{schema}.{table}")
        reason = (
            f"incremental: months from {start:%Y-%m} rebuilt (look-back {lookback_months} months from "
            f"{newest:%Y-%m}" + (f"; earliest changed input {min(changed):%Y-%m}" if changed else "") + ")"
        )
        return {"carry": True, "reprocess_from": start.isoformat(), "reason": reason}
    finally:
        con.execute("detach previous_version")


def _add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def collect_garbage(store: Store, keep_build_ids: set[str]) -> list[Path]:
    """Remove manifests of builds that are no kept version, and store objects no kept manifest names."""
    if not store.manifests.is_dir():
        return []
    referenced: set[str] = set()
    for manifest in store.manifests.glob("*.json"):
        build_id = manifest.stem
        if build_id not in keep_build_ids:
            manifest.unlink(missing_ok=True)
            continue
        try:
            referenced |= {
                str(store.resolve(p).parent) for p in json.loads(manifest.read_text(encoding="utf-8"))["store_files"]
            }
        except (OSError, ValueError, KeyError):
            return []  # an unreadable manifest: keep everything
    removed = []
    if store.objects.is_dir():
        for table_dir in store.objects.iterdir():
            for obj in table_dir.iterdir():
                if str(obj) not in referenced:
                    _remove_object(obj)
                    removed.append(obj)
    return removed


def _remove_object(obj: Path) -> None:
    for child in obj.iterdir():
        os.chmod(child, 0o644)
    shutil.rmtree(obj)


# ---- the CLI's use of it ---------------------------------------------------------------------

MEMORY_SIZE = re.compile(r"[0-9]+(\.[0-9]+)? ?(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)


def memory_limit_setting() -> str:
    """CHENGYU_MEMORY_LIMIT (default 3GB), checked: it goes into DuckDB's settings and, through a
    dbt var, into a `set memory_limit` statement, so only a plain size is accepted."""
    value = os.environ.get("CHENGYU_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT)
    if not MEMORY_SIZE.fullmatch(value):
        from chengyu_cluster.publish.versions import BadSetting

        raise BadSetting(f"CHENGYU_MEMORY_LIMIT={value!r} is not a size such as 3GB or 1536MiB")
    return value


def check_for_cli(args, project_dir: Path, accepted, paths=None) -> Microdata | None:
    """`--microdata DIR` of build and validate: check (a build also takes the files into the store),
    print the problems found, and add them to the inputs' findings (so exit 3 follows)."""
    if not getattr(args, "microdata", None):
        return None
    findings = accepted.findings
    kept_before, total_before = len(findings.kept), findings.n_total
    from chengyu_cluster.publish import versions as wh

    store = Store.of(paths) if paths is not None else None
    started = time.perf_counter()
    with wh.storage_errors("check the microdata" + (f" and keep them in {store.root}" if store else "")):
        micro = check_microdata(
            project_dir, Path(os.path.expanduser(args.microdata)), findings, store, memory_limit_setting()
        )
    print_new_findings(findings, kept_before, total_before)
    if micro is not None:
        n_new = sum(not f.reused for f in micro.files)
        rows = {t: sum(f.rows for f in micro.files if f.table == t) for t in TABLES}
        print(
            f"microdata ({micro.basis}): {len(micro.files)} files ({n_new} new, {len(micro.files) - n_new} "
            f"already in the store), {rows['enterprises']:,} register rows, {rows['enterprise_month']:,} reports, "
            f"{rows['supply_invoices']:,} invoices checked in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
    return micro


def attach_for_cli(con, micro: Microdata, args, project_dir: Path, paths, build_id: str, accepted) -> dict:
    """After the inputs are in the candidate: the microdata relations, the plan, the store's GC."""
    previous = None
    try:
        current = paths.current()
        previous = current.internal_database() if current is not None else None  # its microdata
    except Exception:  # a broken pointer: build everything, the build reports the pointer itself
        previous = None
    import yaml as _yaml

    lookback = int(
        _yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8"))["vars"].get(
            "microdata_lookback_months", 3
        )
    )
    from chengyu_cluster.publish import versions as wh

    seed_hashes = [f.sha256 for f in accepted.files if f.kind == "seed"]
    with wh.storage_errors(f"load the microdata into the candidate from {micro.store.root}"):
        dbt_vars = attach(
            con,
            micro,
            project_dir,
            build_id,
            previous,
            seed_hashes,
            bool(getattr(args, "full_refresh", False)),
            lookback,
            memory_limit_setting(),
        )
    print(f"microdata: {micro.state['plan']}", flush=True)
    kept = {v.build_id for v in paths.versions()} | {build_id}
    removed = collect_garbage(micro.store, kept)
    if removed:
        print(f"microdata store: removed {len(removed)} file(s) no kept version uses", flush=True)
    return dbt_vars


__all__ = [
    "Microdata",
    "RowIssue",
    "Store",
    "attach",
    "attach_for_cli",
    "check_for_cli",
    "check_microdata",
    "collect_garbage",
    "layout",
    "WARNING",
]
