"""`chengyu export`: every public mart of the published warehouse as Parquet, with a manifest.

Read-only, like every reader of the published file; the public marts listed here are also
what the PostgreSQL copy takes (publish/postgres.py).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb


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
    from chengyu_cluster.outputs import new_folder

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
            columns = con.execute(
                """
                select column_name, data_type, coalesce(comment, '') from duckdb_columns()
                where schema_name = 'marts' and table_name = ? order by column_index
            """,
                [table],
            ).fetchall()
            manifest["tables"].append(
                {
                    "name": table,
                    "file": target.name,
                    # The first sentence of the description states the grain ("One row per ...").
                    "grain": description.split(". ")[0].strip(),
                    "row_count": relation.count("*").fetchone()[0],
                    "columns": [{"name": n, "type": t, "description": d} for n, t, d in columns],
                    "sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
                }
            )
    finally:
        con.close()
    (out_dir / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
