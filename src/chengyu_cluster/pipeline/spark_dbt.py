"""Run dbt on Spark with the `session` submission method for dbt Python models.

    python -m chengyu_cluster.pipeline.spark_dbt build --target spark [dbt arguments ...]

is `dbt ...` with `chengyu_cluster.pipeline.spark_python.register()` called first, in the same
process (dbt-spark 1.11 has no way to run a Python model on a local Spark otherwise:
see spark_python.py and docs/spark.md). The exit status is dbt's: 0 success, 1 a node
failed, 2 dbt itself failed.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from dbt.cli.main import dbtRunner

    from chengyu_cluster.pipeline.spark_python import register

    register()
    result = dbtRunner().invoke(list(sys.argv[1:] if argv is None else argv))
    if result.success:
        return 0
    return 2 if result.exception is not None else 1


if __name__ == "__main__":
    sys.exit(main())
