"""Read-only access to the published warehouse: the SQL shell (`chengyu sql`).

Every connection here is read-only, so any number of them can be open while a build
runs: a build never opens the published file, it publishes a new version and moves
the pointer.

`chengyu sql` accepts only read statements, checked by sql_guard (the definition it
shares with Superset's configuration): DuckDB's parser splits and classifies the
statements on the locked connection itself, only SELECTs run, and only with harmless
functions. External access is off and the configuration locked, so no query reads or
writes files or attaches databases. Results are rendered by DuckDB (each value cast to
VARCHAR, or to_json for --format json), so intervals, infinities, nested types and MAP
keys of any type print as DuckDB prints them.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import signal
import sys
import threading
from pathlib import Path

import duckdb

from chengyu_cluster.access.sql_guard import Refused, checked_statements, connect_reader
from chengyu_cluster.exits import EXIT_OK, EXIT_QUERY, EXIT_SIGINT
from chengyu_cluster.publish.versions import BuildLocked, CorruptVersion, OutOfMemory, is_lock_conflict

BATCH_ROWS = 2048
DEFAULT_MEMORY_SHARE = 4  # `chengyu sql` may use a quarter of the machine's memory by default


def default_memory_limit() -> str:
    """A quarter of physical memory, as a DuckDB size."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{total // DEFAULT_MEMORY_SHARE // 2**20}MiB"


def open_published(database: Path, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """A locked-down read-only connection; unqualified names resolve in `marts` first."""
    try:
        return connect_reader(str(database), memory_limit=memory_limit, search_path="marts,main")
    except duckdb.IOException as exc:
        if is_lock_conflict(exc):  # not any "lock": a damaged file's "... in block ..." is no lock
            raise BuildLocked(
                f"{database} is held open for writing by another process; close it "
                "(readers must open it read-only) and try again"
            ) from None
        raise CorruptVersion(
            f"{database} cannot be opened ({str(exc).splitlines()[0]}); "
            "`chengyu verify` checks the versions, "
            "`chengyu rollback` restores the one before"
        ) from None
    except duckdb.Error as exc:
        raise CorruptVersion(
            f"{database} does not open as a warehouse ({str(exc).splitlines()[0]}); "
            "`chengyu rollback` restores the version before"
        ) from None


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


def _describe_error(exc: duckdb.Error) -> Exception:
    message = str(exc).splitlines()[0]
    if isinstance(exc, duckdb.OutOfMemoryException):
        return OutOfMemory(
            f"out of memory: the query needs more than `chengyu sql --memory-limit` allows (DuckDB said: {message})"
        )
    if "read-only" in message or "read only" in message:
        return Refused(f"refused: the warehouse is opened read-only; chengyu sql only reads (DuckDB said: {message})")
    if "external access" in message.lower() or "file system operations are disabled" in message:
        return Refused(f"refused: chengyu sql cannot read or write files or attach databases (DuckDB said: {message})")
    return Refused(f"query failed: {message}")


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

    def add(self, rows: list[tuple]) -> None:
        if self.fmt == "csv":
            self._csv.writerows(rows)
        elif self.fmt == "json":
            for row in rows:
                values = json_safe(row)
                self.out.write(
                    ("[\n " if self._first_json else ",\n ")
                    + json.dumps(
                        dict(zip(self.columns, values, strict=True)), ensure_ascii=False, default=str, allow_nan=False
                    )
                )
                self._first_json = False
        else:
            room = (self.max_rows - len(self.shown)) if self.max_rows else len(rows)
            self.shown += [[("NULL" if v is None else str(v)) for v in row] for row in rows[: max(room, 0)]]
        self.n_rows += len(rows)

    def finish(self) -> None:
        if self.fmt == "json":
            self.out.write("\n]\n" if not self._first_json else "[]\n")
            return
        if self.fmt == "csv":
            return
        self.out.write(format_table(self.columns, self.shown))
        n = self.n_rows
        if len(self.shown) < n:
            self.out.write(
                f"(first {len(self.shown)} of {n} rows; --max-rows 0 prints all, --format csv streams them)\n"
            )
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


def display_query(statement: str, fmt: str) -> str:
    """A query giving each value of the checked statement as DuckDB renders it.

    Table and csv: the value cast to VARCHAR (intervals as `1 year 2 months`, infinite dates as
    `infinity`, maps with keys of any type as `{2024-01-01=1}`). json: to_json of the value, parsed
    back below. COLUMNS(*) applies it to every column whatever its name (DuckDB makes repeated
    names unique: a, a_1); the statement stands on its own lines, so a trailing comment cannot
    swallow the `)`."""
    render = "to_json(columns(*))" if fmt == "json" else "columns(*)::varchar"
    return f"select {render} from (\n{statement}\n) as checked"


def _from_json(row: tuple) -> tuple:
    # Python's parser takes DuckDB's NaN / Infinity; the printer writes them as null.
    return tuple(None if text is None else json.loads(text) for text in row)


def execute_and_print(con: duckdb.DuckDBPyConnection, statement: str, fmt: str, max_rows: int) -> None:
    """Run one checked statement and stream its result, as DuckDB renders it, to stdout."""
    # The query that runs is checked as a whole too: no text around the statement can add a call.
    queries = checked_statements(con, display_query(statement, fmt))
    if len(queries) != 1:
        raise Refused(f"refused: the statement does not stand alone as a subquery ({statement[:60]!r})")
    cursor = con.execute(queries[0])
    printer = Printer([d[0] for d in cursor.description], fmt, max_rows)
    while rows := cursor.fetchmany(BATCH_ROWS):
        printer.add([_from_json(row) for row in rows] if fmt == "json" else rows)
    printer.finish()


def run_checked(con: duckdb.DuckDBPyConnection, sql: str, fmt: str, max_rows: int) -> None:
    """Check every statement of sql, then run them; Ctrl-C stops the one running."""

    def work() -> None:
        try:
            for statement in checked_statements(con, sql):
                execute_and_print(con, statement, fmt, max_rows)
        except duckdb.Error as exc:
            raise _describe_error(exc) from None
        except RecursionError:
            raise Refused("query failed: its result nests too deeply to print") from None

    _interruptible(con, work)


def run_script(con: duckdb.DuckDBPyConnection, sql: str, fmt: str, max_rows: int) -> int:
    """Non-interactive: run every statement; exit 8 if any was refused or failed, 130 on Ctrl-C
    (out of memory: OutOfMemory, which the CLI turns into exit 13)."""
    try:
        run_checked(con, sql, fmt, max_rows)
    except Refused as exc:
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
    print(
        "chengyu sql (read-only; unqualified names are looked up in marts). End statements with ';'. "
        "Ctrl-C stops a query, Ctrl-D quits.",
        file=sys.stderr,
    )
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
        except (Refused, OutOfMemory) as exc:
            print(f"chengyu: {exc}", file=sys.stderr)
        except QueryInterrupted:
            print("chengyu: query interrupted", file=sys.stderr)
        buffer = ""
    return EXIT_OK
