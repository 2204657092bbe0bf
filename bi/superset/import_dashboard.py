#!/usr/bin/env python3
"""Import the planners' starter dashboard into a running Superset.

    python bi/superset/import_dashboard.py --url http://127.0.0.1:8088 --user admin \
        --warehouse "$PWD/warehouse/chengyu.duckdb"

The password is read from SUPERSET_PASSWORD or asked for. Needs only `requests` (in the
project's .venv and in the Superset environment). It registers the warehouse with the
docs/access.md's read-only URI (database "Chengdu-Chongqing warehouse"), the datasets, six charts and a note
and the dashboard; running it again replaces them.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from superset_api import Superset, import_dashboard  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8088")
    parser.add_argument("--user", default="admin")
    parser.add_argument(
        "--warehouse", required=True, help="absolute path of warehouse/chengyu.duckdb as the Superset server sees it"
    )
    args = parser.parse_args()
    password = os.environ.get("SUPERSET_PASSWORD") or getpass.getpass(f"Superset password of {args.user}: ")
    warehouse = Path(args.warehouse)
    if not warehouse.is_absolute():
        parser.error("--warehouse must be an absolute path (Superset opens it from its own working directory)")
    import_dashboard(Superset(args.url, args.user, password), warehouse)
    print(f"imported the dashboard: {args.url.rstrip('/')}/superset/dashboard/chengyu-planners/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
