"""Superset configuration for a local Superset reading the warehouse (and for the tests).

Use it with:  SUPERSET_CONFIG_PATH=bi/superset/superset_config.py SUPERSET_HOME=<folder> superset ...
Superset's metadata (users, databases, charts) goes into a SQLite file in $SUPERSET_HOME.
"""

import os

_home = os.environ.get("SUPERSET_HOME") or os.path.expanduser("~/.superset")

# Superset refuses to start without a SECRET_KEY of its own; it encrypts the stored
# database connections with it. Set SUPERSET_SECRET_KEY for anything but a local trial.
SECRET_KEY = os.environ.get("SUPERSET_SECRET_KEY", "chengyu-local-superset-not-for-production")
SQLALCHEMY_DATABASE_URI = "sqlite:///" + os.path.join(_home, "superset.db")

# Superset refuses SQLite as an analytics database by default; DuckDB is allowed. The
# warehouse must be registered with the README's URI (read-only, external access off).
PREVENT_UNSAFE_DB_CONNECTIONS = True

# No Redis here: cache in memory of the process, run queries synchronously.
CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache"}
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
RATELIMIT_STORAGE_URI = "memory://"
# Talisman's content security policy is meant for a public deployment behind HTTPS.
TALISMAN_ENABLED = False
