"""Publish the public marts into a PostgreSQL schema for BI tools that speak Postgres.

The marts are copied into a fresh schema `<schema>__incoming` with their column types,
primary keys (from the DuckDB constraints dbt created) and descriptions (as comments);
then, in the same transaction, the previous publication is dropped and the new schema
renamed into place. A reader sees the old publication or the new one, never a mixture,
and running it again replaces the previous publication.

A role (default chengyu_reader, NOLOGIN) gets USAGE on the schema and SELECT on its
tables; grant it to the login roles of BI tools: `GRANT chengyu_reader TO superset;`.

Only a schema chengyu created is ever replaced. Its comment carries a marker line,
`chengyu-publication: {"build_id": ..., "tables": [...]}`; a schema without it (`public`,
another application's schema) is refused (ForeignSchema, exit 9) before anything is
copied. The previous publication is dropped table by table, then the schema, all without
CASCADE: a table chengyu did not publish in it, or another application's view on one of
its tables, makes PostgreSQL refuse the drop, and the whole transaction changes nothing.
`copy_build_id(dsn, schema)` reads the marker: which build a copy holds.

What the publishing login needs (checked before anything is copied):
- CREATE on the database (it creates `<schema>__incoming`), and to own the previous
  publication's schema (it drops it; a login that published it before owns it);
- the reader role must exist, unless the login may create roles (CREATEROLE or superuser):
  then it creates it.
Dropping the previous publication waits for readers whose transactions use it, at most
`lock_timeout` seconds; then it gives up and names the sessions that held it (their state
and transaction start are shown if the login may see them: pg_read_all_stats).
Every refusal by the server is raised as PostgresRefused with a one-line message.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import psycopg
from psycopg import sql

from chengyu_cluster.access.export import public_marts
from chengyu_cluster.exits import EXIT_IN_THE_WAY, EXIT_POSTGRES_REFUSED

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
INCOMING_SUFFIX = "__incoming"
# PostgreSQL cuts names at 63 bytes; the schema name must leave room for the suffix.
MAX_SCHEMA_NAME = 63 - len(INCOMING_SUFFIX)
MARKER = "chengyu-publication: "
# The comment chengyu wrote before the marker existed: such a schema is a publication too.
LEGACY_COMMENT = "Chengdu-Chongqing equipment cluster warehouse, public marts, published from "


class PostgresRefused(Exception):
    """The server refused: no connection, a missing privilege or role, or a lock wait timed out."""

    exit_code = EXIT_POSTGRES_REFUSED


class ForeignSchema(PostgresRefused):
    """The schema (or something in or on it) is not chengyu's: nothing is replaced."""

    exit_code = EXIT_IN_THE_WAY


def schema_comment(database_name: str, build_id: str, tables: list[str]) -> str:
    """The comment of a publication: a sentence for people, then the marker line."""
    return (
        f"Chengdu-Chongqing equipment cluster warehouse: public marts published by chengyu from {database_name}."
        f"\n{MARKER}{json.dumps({'build_id': build_id, 'tables': sorted(tables)})}"
    )


def read_marker(comment: str | None) -> dict | None:
    """{'build_id': str | None, 'tables': [...] | None} of a chengyu publication's schema comment,
    None for any other comment (tables None: a publication from before the marker)."""
    for line in (comment or "").splitlines():
        if line.startswith(MARKER):
            try:
                marker = json.loads(line[len(MARKER) :])
            except ValueError:
                return None
            tables = marker.get("tables") if isinstance(marker, dict) else None
            if isinstance(tables, list) and all(isinstance(t, str) for t in tables):
                build_id = marker.get("build_id")
                return {"build_id": build_id if isinstance(build_id, str) else None, "tables": tables}
            return None
    if (comment or "").startswith(LEGACY_COMMENT):
        return {"build_id": None, "tables": None}
    return None


def _publication_tables(cur: psycopg.Cursor, schema: str, marts: list[str]) -> list[str] | None:
    """The tables of chengyu's publication in schema (None: no such schema); ForeignSchema if the
    schema is not chengyu's or holds a relation chengyu did not publish."""
    cur.execute("select oid, obj_description(oid, 'pg_namespace') from pg_namespace where nspname = %s", [schema])
    row = cur.fetchone()
    if row is None:
        return None
    marker = read_marker(row[1])
    if marker is None:
        raise ForeignSchema(
            f"schema {schema} exists and was not created by chengyu publish-postgres (its comment has no "
            f"'{MARKER.strip()}' marker): chengyu replaces only its own publication, so nothing was changed; "
            "pick another --schema"
        )
    tables = marker["tables"] if marker["tables"] is not None else marts
    cur.execute(
        """
        select c.relname from pg_class c
        where c.relnamespace = %s and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S') and not (c.relname = any(%s))
        order by c.relname
    """,
        [row[0], tables],
    )
    others = [r[0] for r in cur.fetchall()]
    if others:
        raise ForeignSchema(
            f"schema {schema} holds {len(others)} relation(s) chengyu did not publish ({', '.join(others[:5])}"
            f"{', ...' if len(others) > 5 else ''}): chengyu will not drop them, so nothing was changed; move them "
            "to another schema or pick another --schema"
        )
    return tables


def _drop_publication(cur: psycopg.Cursor, schema: str, tables: list[str]) -> None:
    """Drop chengyu's tables, then the schema, without CASCADE: PostgreSQL refuses if anything
    else is in the schema or depends on one of the tables (DependentObjectsStillExist)."""
    for table in tables:
        cur.execute(sql.SQL("drop table if exists {}").format(sql.Identifier(schema, table)))
    cur.execute(sql.SQL("drop schema {}").format(sql.Identifier(schema)))


def copy_build_id(dsn: str, schema: str = "chengyu") -> str | None:
    """The build id of the publication in schema (from its marker, or from its build_info for a
    copy published before the marker); None if there is no chengyu publication there.
    Raises PostgresRefused (one line) if the server cannot be asked."""
    if not IDENTIFIER.match(schema):
        raise ValueError(f"'{schema}' is not a plain lower-case identifier")
    try:
        with psycopg.connect(dsn, connect_timeout=10, autocommit=True, application_name="chengyu versions") as pg:
            row = pg.execute(
                "select obj_description(oid, 'pg_namespace') from pg_namespace where nspname = %s", [schema]
            ).fetchone()
            marker = read_marker(row[0]) if row else None
            if marker is None or marker["build_id"] is not None:
                return marker["build_id"] if marker else None
            found = pg.execute(
                "select 1 from pg_tables where schemaname = %s and tablename = 'build_info'", [schema]
            ).fetchone()
            if found is None:
                return None
            row = pg.execute(sql.SQL("select build_id from {}").format(sql.Identifier(schema, "build_info"))).fetchone()
            return row[0] if row else None
    except psycopg.Error as exc:
        raise PostgresRefused(f"cannot read the copy in schema {schema}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _preflight(cur: psycopg.Cursor, schema: str, reader_role: str | None) -> bool:
    """Check the privileges publishing needs; True if the reader role must be created."""
    cur.execute("""
        select current_user, current_database(),
               has_database_privilege(current_database(), 'CREATE'),
               (select rolcreaterole or rolsuper from pg_roles where rolname = current_user)
    """)
    user, database, may_create_schema, may_create_role = cur.fetchone()
    if not may_create_schema:
        raise PostgresRefused(
            f"user {user} may not create schemas in database {database}: "
            f"the DBA can run `GRANT CREATE ON DATABASE {database} TO {user};`"
        )
    cur.execute(
        """
        select pg_get_userbyid(nspowner), pg_has_role(current_user, nspowner, 'USAGE')
        from pg_namespace where nspname = %s
    """,
        [schema],
    )
    owner = cur.fetchone()
    if owner is not None and not owner[1]:
        raise PostgresRefused(
            f"schema {schema} belongs to {owner[0]} and user {user} may not replace it: publish as "
            f"{owner[0]}, pick another --schema, or the DBA can run `ALTER SCHEMA {schema} OWNER TO {user};`"
        )
    if not reader_role:
        return False
    cur.execute("select 1 from pg_roles where rolname = %s", [reader_role])
    if cur.fetchone() is not None:
        return False
    if not may_create_role:
        raise PostgresRefused(
            f"role {reader_role} does not exist and user {user} may not create roles (no CREATEROLE): "
            f"the DBA can run `CREATE ROLE {reader_role} NOLOGIN;`, or pass --reader-role '' to grant nothing"
        )
    return True


def _lock_holders(dsn: str, schemas: list[str]) -> list[tuple]:
    """Other sessions holding locks on the schemas or their tables: pid, user, application, state, since."""
    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as pg:
        return pg.execute(
            """
            select distinct a.pid, a.usename, a.application_name, a.state,
                   to_char(coalesce(a.xact_start, a.backend_start), 'YYYY-MM-DD HH24:MI:SS TZ')
            from pg_locks l join pg_stat_activity a on a.pid = l.pid
            where l.granted and l.pid <> pg_backend_pid() and (
                l.relation in (select c.oid from pg_class c join pg_namespace n on n.oid = c.relnamespace
                               where n.nspname = any(%s))
                or (l.classid = 'pg_namespace'::regclass
                    and l.objid in (select oid from pg_namespace where nspname = any(%s))))
            order by a.pid
        """,
            [schemas, schemas],
        ).fetchall()


def _describe_holders(holders: list[tuple]) -> str:
    if not holders:
        return "no session holds it any more (it ended meanwhile); try again"
    return "; ".join(
        f"pid {pid} (user {user}, application '{app}', "
        + (
            f"{state}, transaction since {since})"
            if state is not None
            else "state hidden from this login: GRANT pg_read_all_stats shows it)"
        )
        for pid, user, app, state, since in holders
    )


def postgres_type(duckdb_type: str) -> str:
    if duckdb_type in POSTGRES_TYPES:
        return POSTGRES_TYPES[duckdb_type]
    if duckdb_type.startswith("DECIMAL"):
        return duckdb_type.replace("DECIMAL", "numeric")
    raise ValueError(f"no PostgreSQL type for DuckDB type {duckdb_type}")


def _table_definition(duck: duckdb.DuckDBPyConnection, table: str):
    columns = duck.execute(
        """
        select column_name, data_type, is_nullable, coalesce(comment, '') from duckdb_columns()
        where schema_name = 'marts' and table_name = ? order by column_index
    """,
        [table],
    ).fetchall()
    primary_key = duck.execute(
        """
        select constraint_column_names from duckdb_constraints()
        where schema_name = 'marts' and table_name = ? and constraint_type = 'PRIMARY KEY'
    """,
        [table],
    ).fetchone()
    return columns, (primary_key[0] if primary_key else [])


def publish_postgres(
    database: Path,
    dsn: str,
    schema: str = "chengyu",
    reader_role: str | None = "chengyu_reader",
    lock_timeout: float = 30,
) -> dict[str, int]:
    for name in filter(None, (schema, reader_role)):
        if not IDENTIFIER.match(name):
            raise ValueError(f"'{name}' is not a plain lower-case identifier")
    if len(schema) > MAX_SCHEMA_NAME:
        raise ValueError(f"schema name '{schema}' is longer than {MAX_SCHEMA_NAME} characters")
    if not 0 <= lock_timeout < float("inf"):
        raise ValueError("lock_timeout must be 0 (wait without limit) or more seconds")
    incoming = f"{schema}{INCOMING_SUFFIX}"
    counts: dict[str, int] = {}
    duck = duckdb.connect(str(database), read_only=True)
    try:
        pg = psycopg.connect(dsn, connect_timeout=30, application_name="chengyu publish-postgres")
    except psycopg.Error as exc:  # no server, a wrong password, or a DSN that does not parse
        duck.close()
        raise PostgresRefused(f"cannot connect: {_first_line(exc)}") from None
    try:
        with pg, pg.cursor() as cur:  # one transaction, committed at the end
            marts = public_marts(duck)
            mart_names = [table for table, _ in marts]
            # Only chengyu's own publication is replaced: refused here, before anything is copied.
            previous = _publication_tables(cur, schema, mart_names)
            leftover = _publication_tables(cur, incoming, mart_names)
            create_reader = _preflight(cur, schema, reader_role)
            # Waiting for a lock (readers of the previous publication) ends after lock_timeout.
            cur.execute("select set_config('lock_timeout', %s, true)", [f"{int(lock_timeout * 1000)}ms"])
            if leftover is not None:
                _drop_publication(cur, incoming, leftover)
            cur.execute(sql.SQL("create schema {}").format(sql.Identifier(incoming)))
            build_id = duck.execute("select max(build_id) from marts.build_info").fetchone()[0]
            cur.execute(
                sql.SQL("comment on schema {} is {}").format(
                    sql.Identifier(incoming), sql.Literal(schema_comment(database.name, build_id, mart_names))
                )
            )
            for table, description in marts:
                columns, primary_key = _table_definition(duck, table)
                target = sql.Identifier(incoming, table)
                parts = [
                    sql.SQL("{} {}{}").format(
                        sql.Identifier(name), sql.SQL(postgres_type(dtype)), sql.SQL("" if nullable else " not null")
                    )
                    for name, dtype, nullable, _ in columns
                ]
                if primary_key:
                    parts.append(
                        sql.SQL("primary key ({})").format(sql.SQL(", ").join(map(sql.Identifier, primary_key)))
                    )
                cur.execute(sql.SQL("create table {} ({})").format(target, sql.SQL(", ").join(parts)))
                names = [c[0] for c in columns]
                quoted = ", ".join(chr(34) + n + chr(34) for n in names)
                rows = duck.execute(f"select {quoted} from marts.{table}").fetchall()
                with cur.copy(
                    sql.SQL("copy {} ({}) from stdin").format(target, sql.SQL(", ").join(map(sql.Identifier, names)))
                ) as copy:
                    for row in rows:
                        copy.write_row(row)
                counts[table] = len(rows)
                cur.execute(sql.SQL("comment on table {} is {}").format(target, sql.Literal(description)))
                for name, _, _, comment in columns:
                    cur.execute(
                        sql.SQL("comment on column {} is {}").format(
                            sql.Identifier(incoming, table, name), sql.Literal(comment)
                        )
                    )
            if previous is not None:
                _drop_publication(cur, schema, previous)
            cur.execute(
                sql.SQL("alter schema {} rename to {}").format(sql.Identifier(incoming), sql.Identifier(schema))
            )
            if reader_role:
                if create_reader:
                    cur.execute(sql.SQL("create role {} nologin").format(sql.Identifier(reader_role)))
                cur.execute(
                    sql.SQL("grant usage on schema {} to {}").format(
                        sql.Identifier(schema), sql.Identifier(reader_role)
                    )
                )
                cur.execute(
                    sql.SQL("grant select on all tables in schema {} to {}").format(
                        sql.Identifier(schema), sql.Identifier(reader_role)
                    )
                )
    except psycopg.errors.LockNotAvailable:
        try:
            held_by = _describe_holders(_lock_holders(dsn, [schema, incoming]))
        except psycopg.Error as exc:
            held_by = f"sessions that could not be listed ({_first_line(exc)})"
        raise PostgresRefused(
            f"gave up after waiting {lock_timeout:g} s (--lock-timeout) for a lock on schema {schema}, "
            f"held by {held_by}; nothing was changed"
        ) from None
    except psycopg.errors.DependentObjectsStillExist as exc:
        detail = _first_line(exc) + (f" ({exc.diag.message_detail.splitlines()[0]})" if exc.diag.message_detail else "")
        raise ForeignSchema(f"{detail}: chengyu drops only what it published, so nothing was changed") from None
    except psycopg.errors.InsufficientPrivilege as exc:
        raise PostgresRefused(f"missing privilege: {_first_line(exc)}; nothing was changed") from None
    except psycopg.OperationalError as exc:
        raise PostgresRefused(f"the server ended the session: {_first_line(exc)}; nothing was changed") from None
    except psycopg.Error as exc:
        raise PostgresRefused(f"{_first_line(exc)}; nothing was changed") from None
    finally:
        duck.close()
        pg.close()
    return counts
