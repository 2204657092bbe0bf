"""dbt Python models on a local Spark: the submission method `session` for dbt-spark.

dbt-spark 1.11 runs a dbt Python model only by sending it to Databricks (its two
submission helpers, `job_cluster` and `all_purpose_cluster`, upload the compiled code as a
notebook through Databricks' REST API). With the profile's `method: session` the build
already runs in a SparkSession of the dbt process itself, so the compiled model can simply
run there: that is what `SessionPythonJobHelper` does. Upstream asks for the same thing
(dbt-labs/dbt-spark#415 "Support dbt Python models in OSS Apache Spark", open; the pull
request dbt-labs/dbt-spark#1063 adding a `session` helper was not merged), so until dbt-spark
has one, `register()` adds this helper to the adapter's table of submission helpers under
the name `session`. Nothing else of dbt or dbt-spark is changed.

The project asks for it on Spark only (dbt_project.yml: `+submission_method: session` when
`target.type == 'spark'`), and every process that runs dbt on Spark must call `register()`
before dbt starts: `python -m chengyu_cluster.pipeline.spark_dbt ...` does (docs/spark.md).
"""

from __future__ import annotations

from typing import Any

#: The name the models' `submission_method` config gives.
SESSION = "session"


class SessionPythonJobHelper:
    """Run a compiled dbt Python model in this process, with the active SparkSession.

    The compiled code (dbt-spark's `py_write_table`) defines `model(dbt, session)`, calls it
    with `dbtObj(spark.table)` and writes the returned DataFrame with
    `df.write.mode("overwrite").format(file_format).saveAsTable(...)`; it only needs a global
    named `spark`. It runs in a fresh namespace, so models cannot see each other's names.
    """

    def __init__(self, parsed_model: dict, credentials: Any) -> None:
        method = getattr(credentials, "method", None)
        if method != SESSION:  # dbt-spark's SparkConnectionMethod is a StrEnum
            raise ValueError(
                f"submission_method 'session' runs the Python model {parsed_model.get('name')!r} in dbt's own "
                f"SparkSession, which only exists with the profile's `method: session` (this target has "
                f"method {method!s}). On a cluster, run Python models through Databricks' submission methods "
                "or outside dbt (docs/spark.md)."
            )
        self.name = parsed_model.get("name", "python model")

    def submit(self, compiled_code: str) -> None:
        from pyspark.sql import SparkSession

        spark = SparkSession.getActiveSession() or SparkSession.builder.getOrCreate()
        namespace = {"__name__": f"dbt_python_model_{self.name}", "spark": spark}
        exec(compile(compiled_code, f"<dbt python model {self.name}>", "exec"), namespace)  # noqa: S102
        return None


def register() -> None:
    """Add `session` to dbt-spark's submission helpers (idempotent).

    `SparkAdapter.python_submission_helpers` is a property returning a new dict on each call;
    dbt-core's `BaseAdapter.submit_python_job` looks the model's `submission_method` up in it.
    The property is replaced by one returning the same dict plus `session`: the existing
    helpers and everything else stay as they are.
    """
    from dbt.adapters.spark.impl import SparkAdapter

    current = SparkAdapter.__dict__.get("python_submission_helpers")
    if getattr(current, "fget", None) is not None and getattr(current.fget, "_chengyu_session", False):
        return
    original = SparkAdapter.python_submission_helpers.fget

    def python_submission_helpers(self):
        return {**original(self), SESSION: SessionPythonJobHelper}

    python_submission_helpers._chengyu_session = True
    python_submission_helpers.__wrapped__ = original
    SparkAdapter.python_submission_helpers = property(python_submission_helpers)
