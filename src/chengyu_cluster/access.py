"""Read-only access to the published warehouse: SQL and Parquet export.

Every connection here is read-only, so any number of them can be open while a build
runs: a build never opens the published file, it renames a new one over it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
from pathlib import Path

import duckdb


class QueryRefused(Exception):
    """A statement that would write, or that failed."""


def connect_read_only(database: Path) -> duckdb.DuckDBPyConnection:
    # External access off: a query can neither write files nor attach other databases.
    return duckdb.connect(str(database), read_only=True, config={"enable_external_access": False})


def run_query(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[list[str], list[tuple]]:
    try:
        cursor = con.execute(sql)
    except duckdb.Error as exc:
        message = str(exc)
        if "read-only" in message or "read only" in message:
            raise QueryRefused("refused: the warehouse is opened read-only; chengyu sql only reads "
                               f"(DuckDB said: {message.splitlines()[0]})") from None
        if "external access" in message.lower() or "file system operations are disabled" in message:
            raise QueryRefused("refused: chengyu sql cannot read or write files or attach databases "
                               f"(DuckDB said: {message.splitlines()[0]})") from None
        raise QueryRefused(f"query failed: {message}") from None
    if cursor.description is None:
        return [], []
    return [d[0] for d in cursor.description], cursor.fetchall()


def format_result(columns: list[str], rows: list[tuple], fmt: str) -> str:
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
        return buffer.getvalue()
    if fmt == "json":
        return json.dumps([dict(zip(columns, row)) for row in rows], ensure_ascii=False, default=str, indent=1) + "\n"
    cells = [[("NULL" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    line = " | ".join(c.ljust(w) for c, w in zip(columns, widths))
    out = [line, "-+-".join("-" * w for w in widths)]
    out += [" | ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out) + "\n"


def interactive(con: duckdb.DuckDBPyConnection, fmt: str) -> None:
    """Statements end with ';'. An empty line or Ctrl-D quits."""
    tty = sys.stdin.isatty()
    if tty:
        print("chengyu sql (read-only). End statements with ';'. Ctrl-D quits.", file=sys.stderr)
    buffer = ""
    while True:
        try:
            line = input(("chengyu> " if not buffer else "     ...> ") if tty else "")
        except EOFError:
            break
        buffer += line + "\n"
        if not buffer.strip():
            break
        if buffer.rstrip().endswith(";"):
            try:
                columns, rows = run_query(con, buffer)
                sys.stdout.write(format_result(columns, rows, fmt))
            except QueryRefused as exc:
                print(exc, file=sys.stderr)
            buffer = ""


def public_marts(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(table, description) of every table of the marts schema."""
    return con.execute("""
        select table_name, coalesce(comment, '') from duckdb_tables()
        where schema_name = 'marts' order by table_name
    """).fetchall()


def export_parquet(database: Path, out_dir: Path) -> Path:
    """Write every public mart as Parquet with a manifest (name, grain, rows, columns, sha256)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    # Exporting writes files, so this connection keeps external access (still read-only).
    con = duckdb.connect(str(database), read_only=True)
    manifest = {"warehouse": str(database), "tables": []}
    try:
        for table, description in public_marts(con):
            target = out_dir / f"{table}.parquet"
            con.execute(f"copy (select * from marts.{table}) to '{target}' (format parquet)")
            columns = con.execute("""
                select column_name, data_type, coalesce(comment, '') from duckdb_columns()
                where schema_name = 'marts' and table_name = ? order by column_index
            """, [table]).fetchall()
            manifest["tables"].append({
                "name": table,
                "file": target.name,
                # The first sentence of the description states the grain ("One row per ...").
                "grain": description.split(". ")[0].strip(),
                "row_count": con.execute(f"select count(*) from marts.{table}").fetchone()[0],
                "columns": [{"name": n, "type": t, "description": d} for n, t, d in columns],
                "sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
            })
    finally:
        con.close()
    path = out_dir / "manifest.json"
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return path
