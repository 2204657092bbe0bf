"""Run statements through one Python client recipe and print, as JSON, what each returned.

Run with the Python of the client's own environment (the project's .venv for pandas and
SQLAlchemy 2, the Superset environment for SQLAlchemy 1.4), because that is where the
recipe is used:

    python tests/bi_probe.py RECIPE TARGET STATEMENTS_JSON

RECIPE is `sqlalchemy-uri` (TARGET: the SQLAlchemy URI), `sqlalchemy-engine-params`
(TARGET: JSON {"uri": ..., "engine_params": {...}}, Superset's "Engine Parameters") or
`duckdb` (TARGET: JSON {"database": ..., "read_only": ..., "config": {...}}).
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    recipe, target, statements = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    results = {}
    if recipe == "duckdb":
        import duckdb

        spec = json.loads(target)
        con = duckdb.connect(spec["database"], read_only=spec["read_only"], config=spec["config"])
        for name, statement in statements.items():
            try:
                results[name] = {"rows": [list(map(str, r)) for r in con.execute(statement).fetchall()]}
            except duckdb.Error as exc:
                results[name] = {"error": str(exc)}
        con.close()
    else:
        import pandas as pd
        import sqlalchemy

        if recipe == "sqlalchemy-uri":
            engine = sqlalchemy.create_engine(target)
        else:
            spec = json.loads(target)
            engine = sqlalchemy.create_engine(spec["uri"], **spec["engine_params"])
        for name, statement in statements.items():
            try:
                with engine.connect() as con:
                    if statement.lstrip().lower().startswith("select"):
                        frame = pd.read_sql(sqlalchemy.text(statement), con)
                        results[name] = {"rows": frame.astype(str).values.tolist()}
                    else:
                        result = con.execute(sqlalchemy.text(statement))
                        results[name] = {
                            "rows": [list(map(str, r)) for r in result.fetchall()] if result.returns_rows else []
                        }
            except Exception as exc:  # noqa: BLE001 - the probe reports every refusal
                results[name] = {"error": str(exc).splitlines()[0]}
        engine.dispose()
    results["_versions"] = {
        "sqlalchemy": getattr(sys.modules.get("sqlalchemy"), "__version__", None),
        "duckdb": __import__("duckdb").__version__,
    }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
