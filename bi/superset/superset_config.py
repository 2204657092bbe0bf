"""Superset configuration for a local Superset reading the warehouse (and for the tests).

Use it with:  SUPERSET_CONFIG_PATH=bi/superset/superset_config.py SUPERSET_HOME=<folder> superset ...
Superset's metadata (users, databases, charts) goes into a SQLite file in $SUPERSET_HOME.
"""

import functools
import os
import sys

_home = os.environ.get("SUPERSET_HOME") or os.path.expanduser("~/.superset")

# Superset refuses to start without a SECRET_KEY of its own; it encrypts the stored
# database connections with it. Set SUPERSET_SECRET_KEY for anything but a local trial.
SECRET_KEY = os.environ.get("SUPERSET_SECRET_KEY", "chengyu-local-superset-not-for-production")
SQLALCHEMY_DATABASE_URI = "sqlite:///" + os.path.join(_home, "superset.db")

# Superset refuses SQLite as an analytics database by default; DuckDB is allowed.
PREVENT_UNSAFE_DB_CONNECTIONS = True

# ---- Every DuckDB connection is a reader's connection, whatever URI it was registered with ----
# The definition of what a reader may run is the one `chengyu sql` uses:
# src/chengyu_cluster/access/sql_guard.py (duckdb and the standard library only, so Superset's own
# environment imports it from the repository; keep this file in bi/superset/ of the checkout).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "src"))
from chengyu_cluster.access import sql_guard  # noqa: E402


def _reader_connection(database: str):
    """Open DuckDB as sql_guard says (read-only, external access off, configuration locked) and
    check every statement Superset sends before DuckDB runs it."""
    import duckdb
    from duckdb_engine import ConnectionWrapper, CursorWrapper

    raw = sql_guard.connect_reader(database)

    def check(statement: str) -> None:
        try:
            sql_guard.checked_statements(raw, statement)
        except sql_guard.Refused as exc:
            raise duckdb.PermissionException(str(exc)) from None

    class GuardedCursor(CursorWrapper):
        def execute(self, statement, parameters=None, context=None):
            check(statement)
            return super().execute(statement, parameters, context)

        def executemany(self, statement, parameters=None, context=None):
            check(statement)
            return super().executemany(statement, parameters, context)

    class GuardedConnection(ConnectionWrapper):
        def cursor(self):
            return GuardedCursor(raw, self)

        def execute(self, statement, parameters=None):  # DuckDB's connection-level shortcut
            cursor = self.cursor()
            cursor.execute(statement, parameters)
            return cursor

    return GuardedConnection(raw)


def DB_CONNECTION_MUTATOR(uri, params, username, security_manager, source):  # noqa: N802 (Superset's name)
    """For a DuckDB database, SQLAlchemy gets its connections from _reader_connection: the URI's
    settings and the engine parameters (connect_args, preload_extensions) no longer count, so a
    database registered by its plain path is opened as safely as with the URI of docs/access.md."""
    if uri.get_backend_name() == "duckdb":
        params = {key: value for key, value in params.items() if key != "connect_args"}
        params["creator"] = functools.partial(_reader_connection, uri.database or ":memory:")
    return uri, params


# No Redis here: cache in memory of the process, run queries synchronously.
CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache"}
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
RATELIMIT_STORAGE_URI = "memory://"
# Talisman's content security policy is meant for a public deployment behind HTTPS.
TALISMAN_ENABLED = False
