"""Read-only access to the published warehouse: the SQL shell and the Parquet export.

Every connection here is read-only, so any number of them can be open while a build
runs: a build never opens the published file, it publishes a new version and moves
the pointer.

`chengyu sql` accepts only read statements: each statement is parsed by DuckDB first,
and only SELECT statements (which include DESCRIBE, SHOW, SUMMARIZE and PRAGMA
table_info) run; among table functions only an allow-list of read-only ones may be
called, because some (enable_logging, checkpoint, query) change the session or run
SQL given as text. External access is off and the configuration locked, so no query
reads or writes files or attaches databases.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import signal
import sys
import threading
from pathlib import Path

import duckdb

from .warehouse import BuildLocked, CorruptVersion

EXIT_OK, EXIT_QUERY, EXIT_SIGINT = 0, 8, 130
BATCH_ROWS = 2048

# Table functions that only read the database or generate values.
ALLOWED_TABLE_FUNCTIONS = frozenset({
    "range", "generate_series", "unnest", "repeat", "repeat_row", "json_each", "json_tree",
    "duckdb_columns", "duckdb_tables", "duckdb_views", "duckdb_schemas", "duckdb_databases",
    "duckdb_constraints", "duckdb_types", "duckdb_functions", "duckdb_keywords", "duckdb_indexes",
    "duckdb_dependencies", "duckdb_sequences", "duckdb_settings",
    "table_info", "pragma_table_info", "show", "pragma_show", "show_tables", "show_tables_expanded",
    "show_databases", "summary", "version", "pragma_version", "database_size", "pragma_database_size",
    "histogram", "histogram_values", "pg_timezone_names", "icu_calendar_names",
})


class QueryRefused(Exception):
    """A statement that is not a read, or that failed."""


def open_published(database: Path) -> duckdb.DuckDBPyConnection:
    """A locked-down read-only connection; unqualified names resolve in `marts` first."""
    try:
        con = duckdb.connect(str(database), read_only=True, config={"enable_external_access": False})
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise BuildLocked(f"{database} is held open for writing by another process; close it "
                              "(readers must open it read-only) and try again") from None
        raise CorruptVersion(f"{database} cannot be opened ({str(exc).splitlines()[0]}); "
                             "`chengyu verify` checks the versions, "
                             "`chengyu rollback` restores the one before") from None
    except duckdb.Error as exc:
        raise CorruptVersion(f"{database} does not open as a warehouse ({str(exc).splitlines()[0]}); "
                             "`chengyu rollback` restores the version before") from None
    con.execute("set search_path = 'marts,main'")
    con.execute("set lock_configuration = true")
    return con


def _functions_called(con: duckdb.DuckDBPyConnection, statement: str) -> set[str]:
    tree = json.loads(con.execute("select json_serialize_sql(?)", [statement]).fetchone()[0])
    names: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("function_name"), str):
                names.add(node["function_name"].lower())
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tree)
    return names


def check_read_only(con: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    """The statements of sql, each checked to be a read; QueryRefused otherwise."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryRefused(f"query failed: {str(exc).splitlines()[0]}") from None
    table_functions = {name for (name,) in con.execute(
        "select distinct function_name from duckdb_functions() where function_type in ('table', 'table_macro')"
    ).fetchall()}
    checked = []
    for statement in statements:
        text = statement.query.strip()
        kind = statement.type.name
        if kind != "SELECT":
            raise QueryRefused(f"refused: chengyu sql only reads; {kind} statements are not reads "
                               f"({text[:60]!r})")
        denied = sorted((_functions_called(con, text) & table_functions) - ALLOWED_TABLE_FUNCTIONS)
        if denied:
            raise QueryRefused(f"refused: chengyu sql cannot call {', '.join(denied)} (it reads files, "
                               "runs SQL from text or changes the session)")
        checked.append(text)
    return checked


class QueryInterrupted(Exception):
    """Ctrl-C stopped the running query."""


def _interruptible(con: duckdb.DuckDBPyConnection, work):
    """Run work() in a worker thread; Ctrl-C interrupts DuckDB's query instead of raising
    into the middle of it, and QueryInterrupted is raised once the worker has stopped."""
    outcome: dict = {}
    interrupted = threading.Event()

    def target() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    def on_sigint(_signum, _frame) -> None:
        interrupted.set()
        con.interrupt()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        while thread.is_alive():
            thread.join(0.1)
    finally:
        signal.signal(signal.SIGINT, previous)
    if interrupted.is_set():
        raise QueryInterrupted()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def _describe_error(exc: duckdb.Error) -> QueryRefused:
    message = str(exc).splitlines()[0]
    if "read-only" in message or "read only" in message:
        return QueryRefused("refused: the warehouse is opened read-only; chengyu sql only reads "
                            f"(DuckDB said: {message})")
    if "external access" in message.lower() or "file system operations are disabled" in message:
        return QueryRefused("refused: chengyu sql cannot read or write files or attach databases "
                            f"(DuckDB said: {message})")
    return QueryRefused(f"query failed: {message}")


class Printer:
    """Writes one result in batches: nothing holds more than one batch of rows."""

    def __init__(self, columns: list[str], fmt: str, max_rows: int, out=None):
        self.fmt, self.max_rows = fmt, max_rows
        self.columns = unique_names(columns)
        self.out = out or sys.stdout
        self.n_rows = 0
        self.shown: list[list[str]] = []  # table format: the rows shown, for column widths
        self._first_json = True
        if fmt == "csv":
            self._csv = csv.writer(self.out, lineterminator="\n")
            self._csv.writerow(columns)
        elif fmt == "json":
            self.out.write("[")

    def add(self, rows: list[tuple]) -> None:
        if self.fmt == "csv":
            self._csv.writerows(rows)
        elif self.fmt == "json":
            for row in rows:
                values = json_safe(row)
                self.out.write(("\n " if self._first_json else ",\n ")
                               + json.dumps(dict(zip(self.columns, values, strict=True)), ensure_ascii=False,
                                            default=str, allow_nan=False))
                self._first_json = False
        else:
            room = (self.max_rows - len(self.shown)) if self.max_rows else len(rows)
            self.shown += [[("NULL" if v is None else str(v)) for v in row] for row in rows[:max(room, 0)]]
        self.n_rows += len(rows)

    def finish(self) -> None:
        if self.fmt == "json":
            self.out.write("\n]\n" if not self._first_json else "]\n")
            return
        if self.fmt == "csv":
            return
        self.out.write(format_table(self.columns, self.shown))
        n = self.n_rows
        if len(self.shown) < n:
            self.out.write(f"(first {len(self.shown)} of {n} rows; --max-rows 0 prints all, "
                           "--format csv streams them)\n")
        else:
            self.out.write(f"({n} row{'s' if n != 1 else ''})\n")


def unique_names(columns: list[str]) -> list[str]:
    """Column names made unique (a, a, a_2 -> a, a_3, a_2): JSON objects cannot repeat a key."""
    taken = set(columns)
    out: list[str] = []
    for name in columns:
        if name in out:
            n = 2
            while f"{name}_{n}" in taken:
                n += 1
            name = f"{name}_{n}"
            taken.add(name)
        out.append(name)
    return out


def json_safe(value):
    """NaN and infinity, at any depth, as null: JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    return value


def format_table(columns: list[str], cells: list[list[str]]) -> str:
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    out = [" | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)), "-+-".join("-" * w for w in widths)]
    out += [" | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(out) + "\n"


def format_result(columns: list[str], rows: list[tuple], fmt: str, max_rows: int = 0) -> str:
    """A whole result as text (for callers that already hold the rows)."""
    buffer = io.StringIO()
    printer = Printer(columns, fmt, max_rows, buffer)
    printer.add(rows)
    printer.finish()
    return buffer.getvalue()


def execute_and_print(con: duckdb.DuckDBPyConnection, statement: str, fmt: str, max_rows: int) -> None:
    """Run one checked statement and stream its result to stdout."""
    try:
        cursor = con.execute(statement)
        if cursor.description is None:
            return
        printer = Printer([d[0] for d in cursor.description], fmt, max_rows)
        while rows := cursor.fetchmany(BATCH_ROWS):
            printer.add(rows)
        printer.finish()
    except duckdb.Error as exc:
        raise _describe_error(exc) from None


def run_checked(con: duckdb.DuckDBPyConnection, sql: str, fmt: str, max_rows: int) -> None:
    """Check every statement of sql, then run them; Ctrl-C stops the one running."""
    def work() -> None:
        for statement in check_read_only(con, sql):
            execute_and_print(con, statement, fmt, max_rows)

    _interruptible(con, work)


def run_script(con: duckdb.DuckDBPyConnection, sql: str, fmt: str, max_rows: int) -> int:
    """Non-interactive: run every statement; exit 8 if any was refused or failed, 130 on Ctrl-C."""
    try:
        run_checked(con, sql, fmt, max_rows)
    except QueryRefused as exc:
        print(f"chengyu: {exc}", file=sys.stderr)
        return EXIT_QUERY
    except QueryInterrupted:
        print("chengyu: query interrupted", file=sys.stderr)
        return EXIT_SIGINT
    return EXIT_OK


def interactive(con: duckdb.DuckDBPyConnection, fmt: str, max_rows: int) -> int:
    """At a terminal: statements end with ';', Ctrl-C stops the running query, Ctrl-D quits.

    Fed from a pipe or file, the whole input is one script (split into statements by
    DuckDB's parser, so a ';' inside a string is no end): exit 8 if any statement was
    refused or failed.
    """
    if not sys.stdin.isatty():
        return run_script(con, sys.stdin.read(), fmt, max_rows)
    print("chengyu sql (read-only; unqualified names are looked up in marts). End statements with ';'. "
          "Ctrl-C stops a query, Ctrl-D quits.", file=sys.stderr)
    buffer = ""
    while True:
        try:
            line = input("chengyu> " if not buffer else "     ...> ")
        except EOFError:
            break
        except KeyboardInterrupt:
            print("", file=sys.stderr)
            buffer = ""
            continue
        buffer += line + "\n"
        if not buffer.rstrip().endswith(";"):
            continue
        try:
            run_checked(con, buffer, fmt, max_rows)
        except QueryRefused as exc:
            print(f"chengyu: {exc}", file=sys.stderr)
        except QueryInterrupted:
            print("chengyu: query interrupted", file=sys.stderr)
        buffer = ""
    return EXIT_OK


def public_marts(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(table, description) of every table of the marts schema."""
    return con.execute("""
        select table_name, coalesce(comment, '') from duckdb_tables()
        where schema_name = 'marts' order by table_name
    """).fetchall()


def export_parquet(database: Path, out_dir: Path) -> Path:
    """Write every public mart as Parquet with a manifest (name, grain, rows, columns, sha256)
    into out_dir, which must be new or empty (outputs.new_folder: written beside it, then
    renamed into place, so nothing planted in it is followed or overwritten).

    No user string becomes SQL: the output path goes to DuckDB as an argument of the
    relation API, table names come from the catalog and are quoted.
    """
    from .outputs import new_folder

    with new_folder(out_dir) as folder:
        _write_export(database, folder)
    return out_dir / "manifest.json"


def _write_export(database: Path, out_dir: Path) -> None:
    con = duckdb.connect(str(database), read_only=True)
    manifest = {"warehouse": str(database), "tables": []}
    try:
        for table, description in public_marts(con):
            target = out_dir / f"{table}.parquet"
            relation = con.table(f'marts."{table}"')
            relation.write_parquet(str(target))
            columns = con.execute("""
                select column_name, data_type, coalesce(comment, '') from duckdb_columns()
                where schema_name = 'marts' and table_name = ? order by column_index
            """, [table]).fetchall()
            manifest["tables"].append({
                "name": table,
                "file": target.name,
                # The first sentence of the description states the grain ("One row per ...").
                "grain": description.split(". ")[0].strip(),
                "row_count": relation.count("*").fetchone()[0],
                "columns": [{"name": n, "type": t, "description": d} for n, t, d in columns],
                "sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
            })
    finally:
        con.close()
    (out_dir / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
