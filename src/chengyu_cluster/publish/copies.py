"""Copies of a published version (the PostgreSQL copy, Parquet exports) and the publish log's
record of which build each holds: after `publish-postgres`, `export`, and a build or rollback
with `--publish-postgres`."""

from __future__ import annotations

import sys

from chengyu_cluster.exits import EXIT_OK, EXIT_POSTGRES_REFUSED
from chengyu_cluster.publish import versions as wh


def postgres_copy_name(dsn: str, schema: str) -> str:
    """Where a PostgreSQL copy lives, without secrets: schema, database, host and port."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.Error:  # a DSN psycopg cannot parse: publishing refuses it anyway
        parts = {}
    where = " ".join(f"{k}={parts[k]}" for k in ("dbname", "host", "port") if parts.get(k))
    return f"schema {schema}" + (f" ({where})" if where else "")


def note_copy(paths: wh.WarehousePaths, kind: str, target: str, command: str) -> None:
    """After export / publish-postgres: the publish log records which build the copy holds."""
    version = paths.pointed_version()
    if version is not None:
        wh.record_copy(paths, kind, target, version.build_id, command)


def refresh_postgres_copy(args, paths: wh.WarehousePaths, version: wh.Version) -> int:
    """After a publish or rollback: replace the PostgreSQL copy in the same atomic way as
    publish-postgres, and record in the publish log which build it now holds."""
    from chengyu_cluster.publish.postgres import PostgresRefused, publish_postgres

    build_id = version.build_id
    try:
        counts = publish_postgres(
            version.database,
            args.publish_postgres,
            args.pg_schema,
            args.pg_reader_role or None,
            lock_timeout=args.pg_lock_timeout,
        )
    except PostgresRefused as exc:
        print(
            f"chengyu: PostgreSQL refused: {exc} (version {build_id} is published in DuckDB; "
            "the PostgreSQL copy still holds the one before)",
            file=sys.stderr,
        )
        return EXIT_POSTGRES_REFUSED
    wh.record_copy(paths, "postgres", postgres_copy_name(args.publish_postgres, args.pg_schema), build_id, args.command)
    print(f"  PostgreSQL copy: {len(counts)} marts into schema {args.pg_schema} (build {build_id})")
    return EXIT_OK
