"""Publish the public marts into a PostgreSQL schema for BI tools that speak Postgres.

The marts are copied into a fresh schema `<schema>__incoming` with their column types,
primary keys (from the DuckDB constraints dbt created) and descriptions (as comments);
then, in the same transaction, the previous publication is dropped and the new schema
renamed into place. A reader sees the old publication or the new one, never a mixture,
and running it again replaces the previous publication.

A role (default chengyu_reader, NOLOGIN) gets USAGE on the schema and SELECT on its
tables; grant it to the login roles of BI tools: `GRANT chengyu_reader TO superset;`.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import psycopg
from psycopg import sql

from .access import public_marts

POSTGRES_TYPES = {
    "VARCHAR": "text",
    "DOUBLE": "double precision",
    "FLOAT": "real",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
}
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def postgres_type(duckdb_type: str) -> str:
    if duckdb_type in POSTGRES_TYPES:
        return POSTGRES_TYPES[duckdb_type]
    if duckdb_type.startswith("DECIMAL"):
        return duckdb_type.replace("DECIMAL", "numeric")
    raise ValueError(f"no PostgreSQL type for DuckDB type {duckdb_type}")


def _table_definition(duck: duckdb.DuckDBPyConnection, table: str):
    columns = duck.execute("""
        select column_name, data_type, is_nullable, coalesce(comment, '') from duckdb_columns()
        where schema_name = 'marts' and table_name = ? order by column_index
    """, [table]).fetchall()
    primary_key = duck.execute("""
        select constraint_column_names from duckdb_constraints()
        where schema_name = 'marts' and table_name = ? and constraint_type = 'PRIMARY KEY'
    """, [table]).fetchone()
    return columns, (primary_key[0] if primary_key else [])


def publish_postgres(database: Path, dsn: str, schema: str = "chengyu",
                     reader_role: str | None = "chengyu_reader") -> dict[str, int]:
    for name in filter(None, (schema, reader_role)):
        if not IDENTIFIER.match(name):
            raise ValueError(f"'{name}' is not a plain lower-case identifier")
    incoming = f"{schema}__incoming"
    counts: dict[str, int] = {}
    duck = duckdb.connect(str(database), read_only=True)
    try:
        with psycopg.connect(dsn) as pg, pg.cursor() as cur:  # one transaction, committed at the end
            cur.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(incoming)))
            cur.execute(sql.SQL("create schema {}").format(sql.Identifier(incoming)))
            for table, description in public_marts(duck):
                columns, primary_key = _table_definition(duck, table)
                target = sql.Identifier(incoming, table)
                parts = [sql.SQL("{} {}{}").format(sql.Identifier(name), sql.SQL(postgres_type(dtype)),
                                                   sql.SQL("" if nullable else " not null"))
                         for name, dtype, nullable, _ in columns]
                if primary_key:
                    parts.append(sql.SQL("primary key ({})").format(
                        sql.SQL(", ").join(map(sql.Identifier, primary_key))))
                cur.execute(sql.SQL("create table {} ({})").format(target, sql.SQL(", ").join(parts)))
                names = [c[0] for c in columns]
                rows = duck.execute(f"select {', '.join(chr(34) + n + chr(34) for n in names)} from marts.{table}").fetchall()
                with cur.copy(sql.SQL("copy {} ({}) from stdin").format(
                        target, sql.SQL(", ").join(map(sql.Identifier, names)))) as copy:
                    for row in rows:
                        copy.write_row(row)
                counts[table] = len(rows)
                cur.execute(sql.SQL("comment on table {} is {}").format(target, sql.Literal(description)))
                for name, _, _, comment in columns:
                    cur.execute(sql.SQL("comment on column {} is {}").format(
                        sql.Identifier(incoming, table, name), sql.Literal(comment)))
            cur.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))
            cur.execute(sql.SQL("alter schema {} rename to {}").format(sql.Identifier(incoming), sql.Identifier(schema)))
            cur.execute(sql.SQL("comment on schema {} is {}").format(sql.Identifier(schema), sql.Literal(
                f"Chengdu-Chongqing equipment cluster warehouse, public marts, published from {database.name}")))
            if reader_role:
                cur.execute("select 1 from pg_roles where rolname = %s", [reader_role])
                if cur.fetchone() is None:
                    cur.execute(sql.SQL("create role {} nologin").format(sql.Identifier(reader_role)))
                cur.execute(sql.SQL("grant usage on schema {} to {}").format(
                    sql.Identifier(schema), sql.Identifier(reader_role)))
                cur.execute(sql.SQL("grant select on all tables in schema {} to {}").format(
                    sql.Identifier(schema), sql.Identifier(reader_role)))
    finally:
        duck.close()
    return counts
