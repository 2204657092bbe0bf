"""Finding the delivered files and classifying them by table; the data types of a delivery and
how its problems are reported."""

from __future__ import annotations

import os
import re
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from chengyu_cluster.inputs.base import ERROR, Findings, Issue

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


def add_issue(
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


def add_rows(findings: Findings, rows: list[tuple], total: int, column: str | None, rule: str) -> None:
    """Add the shown rows (file, row, message) as issues and count the rest without keeping them."""
    for display, row, message in rows:
        add_issue(findings, display, row, column, rule, message)
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


def list_files(directory: Path, findings: Findings) -> list[MicrodataFile]:
    """The input files under each table's folder, in path order; problems as findings."""
    files: list[MicrodataFile] = []
    if not directory.is_dir():
        add_issue(
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
            add_issue(
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
                add_issue(findings, display, None, None, "readable", f"the file cannot be read: {exc.strerror}")
                continue
            if not stat.S_ISREG(mode):
                add_issue(findings, display, None, None, "regular_file", "not a regular file")
                continue
            files.append(MicrodataFile(table, path, display, suffix[1:]))
    if not any(f.table == "enterprises" for f in files) and (directory / "enterprises").is_dir():
        add_issue(findings, "enterprises/", None, None, "has_rows", "no register file (*.parquet or *.csv)")
    return files
