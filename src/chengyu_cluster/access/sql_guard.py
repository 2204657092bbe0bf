"""Which SQL a reader of the published warehouse may run: one definition, used by
`chengyu sql` and by Superset (bi/superset/superset_config.py imports this file).

An allow-list, not a list of known attacks. A statement runs only when DuckDB's own
parser, on the reader's locked connection, says it is a SELECT (PRAGMA, SHOW, DESCRIBE
and SUMMARIZE arrive rewritten as SELECTs) and every function it names is harmless:

- a table function only if it is in READ_TABLE_FUNCTIONS (it reads the catalog or makes
  values). Everything else is refused, including the ones no one has thought of yet:
  enable_logging / disable_logging / truncate_duckdb_logs (with file storage, the next
  statement aborts the process: C++ terminate, exit 134, under read-only settings),
  enable_profiling / checkpoint / force_checkpoint (change the session or the file),
  query / query_table / json_execute_serialized_sql (run SQL given as text, unchecked),
  read_* / glob / parquet_* / sniff_csv / duckdb_secrets / which_secret (files, secrets);
- a function DuckDB marks as having side effects (duckdb_functions().has_side_effects)
  only if it is in HARMLESS_SIDE_EFFECT_FUNCTIONS (random numbers, query ids): nextval,
  setseed, sleep_ms, write_log and any new one are refused.

The statements are split on the reader's connection (external access off), never on a
default one: DuckDB's splitter runs `PRAGMA import_database`, which reads files.
Everything here depends on duckdb and the standard library only.
"""

from __future__ import annotations

import duckdb

# Settings every reader's connection is opened with: read-only, no file system, and (once
# the session is set up) no setting can change.
SAFE_CONFIG = {"enable_external_access": False}

READ_TABLE_FUNCTIONS = frozenset(
    {
        "range",
        "generate_series",
        "unnest",
        "repeat",
        "repeat_row",
        "json_each",
        "json_tree",
        "duckdb_columns",
        "duckdb_tables",
        "duckdb_views",
        "duckdb_schemas",
        "duckdb_databases",
        "duckdb_constraints",
        "duckdb_types",
        "duckdb_functions",
        "duckdb_keywords",
        "duckdb_indexes",
        "duckdb_dependencies",
        "duckdb_sequences",
        "duckdb_settings",
        "table_info",
        "pragma_table_info",
        "show",
        "pragma_show",
        "show_tables",
        "show_tables_expanded",
        "show_databases",
        "summary",
        "version",
        "pragma_version",
        "database_size",
        "pragma_database_size",
        "histogram",
        "histogram_values",
        "pg_timezone_names",
        "icu_calendar_names",
    }
)

HARMLESS_SIDE_EFFECT_FUNCTIONS = frozenset(
    {
        "random",
        "uuid",
        "gen_random_uuid",
        "uuidv4",
        "uuidv7",
        "error",
        "stats",
        "current_query",
        "current_query_id",
        "current_transaction_id",
        "current_connection_id",
    }
)


def connect_reader(
    database: str, memory_limit: str | None = None, search_path: str | None = None
) -> duckdb.DuckDBPyConnection:
    """A reader's connection: read-only (a file; ':memory:' cannot be), external access off,
    then the session's own settings, then the configuration locked.

    With a memory limit nothing spills to disk (temp_directory ''): a query that needs
    more fails with OutOfMemoryException instead of writing beside the warehouse."""
    config = dict(SAFE_CONFIG)
    if memory_limit:
        config.update(memory_limit=memory_limit, temp_directory="")
    con = duckdb.connect(database, read_only=database != ":memory:", config=config)
    if search_path:  # a constant of the caller, never user text
        con.execute(f"set search_path = '{search_path}'")
    # The lock belongs to the database instance, which DuckDB shares among a process's
    # connections to one file: a later one (or a concurrent one, in a server) finds it locked.
    try:
        con.execute("set lock_configuration = true")
    except duckdb.InvalidInputException:
        if not con.execute("select current_setting('lock_configuration')").fetchone()[0]:
            raise
    return con


class Refused(Exception):
    """A statement a reader may not run; the message says why in one line."""


def _guarded_names(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Names of the functions that need the allow-lists, from this connection's catalog."""
    return {
        name
        for (name,) in con.execute("""
        select distinct lower(function_name) from duckdb_functions()
        where function_type in ('table', 'table_macro') or has_side_effects
    """).fetchall()
    }


def _functions_named(con: duckdb.DuckDBPyConnection, statement: str) -> set[str]:
    """Every function name in the statement's parse tree; Refused if DuckDB cannot give the tree.

    The names are found by DuckDB in the tree's JSON text (inside a JSON string a quote is
    escaped, so only real keys match), not by walking it in Python: a query nested 900 calls
    deep is no RecursionError, and it takes no more memory than the text."""
    serialized = con.execute("select json_serialize_sql(?)", [statement]).fetchone()[0]
    error, n_statements, reason = con.execute(
        """
        select ?::json ->> '$.error', json_array_length(?::json -> '$.statements'), ?::json ->> '$.error_message'
    """,
        [serialized] * 3,
    ).fetchone()
    if error != "false" or n_statements != 1:
        raise Refused(f"refused: the statement cannot be checked ({reason or 'no parse tree'})")
    return {
        name
        for (name,) in con.execute(
            """
        select distinct lower(('"' || escaped || '"')::json ->> '$')
        from unnest(regexp_extract_all(?, '"function_name":"((?:[^"\\\\]|\\\\.)*)"', 1)) as found(escaped)
    """,
            [serialized],
        ).fetchall()
    }


def checked_statements(con: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    """The statements of sql, each a read a reader may run; Refused (nothing run) otherwise.

    con must be the reader's connection (connect_reader): the split runs on it."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.PermissionException as exc:  # PRAGMA import_database: the same for any path
        raise Refused(f"refused: a reader cannot read files ({str(exc).splitlines()[0]})") from None
    except duckdb.Error as exc:
        raise Refused(f"query failed: {str(exc).splitlines()[0]}") from None
    guarded = _guarded_names(con)
    checked = []
    for statement in statements:
        text = statement.query.strip().rstrip(";").rstrip()
        kind = statement.type.name
        if kind != "SELECT":
            raise Refused(f"refused: only reads may run; {kind} statements are not reads ({text[:60]!r})")
        denied = sorted((_functions_named(con, text) & guarded) - READ_TABLE_FUNCTIONS - HARMLESS_SIDE_EFFECT_FUNCTIONS)
        if denied:
            raise Refused(
                f"refused: a reader cannot call {', '.join(denied)} (it reads files, runs SQL "
                "from text, changes the session or the file, or stops the process)"
            )
        checked.append(text)
    return checked
