"""The `session` submission method for dbt Python models on Spark (spark_python.py): its
registration in dbt-spark's table of helpers. That it runs a model is proven by
tests/test_spark.py (a JVM); here only what needs none."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

pytest.importorskip("dbt.adapters.spark", reason="the spark extra is not installed")


def test_register_adds_session_and_keeps_the_databricks_helpers():
    from dbt.adapters.spark.impl import SparkAdapter

    from chengyu_cluster.pipeline.spark_python import SessionPythonJobHelper, register

    register()
    register()  # idempotent: the property is wrapped once
    helpers = SparkAdapter.python_submission_helpers.fget(None)
    assert set(helpers) == {"job_cluster", "all_purpose_cluster", "session"}
    assert helpers["session"] is SessionPythonJobHelper
    assert SparkAdapter.python_submission_helpers.fget.__wrapped__ is not None


def test_the_session_helper_refuses_a_profile_without_a_session():
    from dbt.adapters.spark.connections import SparkConnectionMethod

    from chengyu_cluster.pipeline.spark_python import SessionPythonJobHelper

    model = {"name": "int_panel_fit_cells"}
    SessionPythonJobHelper(model, SimpleNamespace(method=SparkConnectionMethod.SESSION))
    with pytest.raises(ValueError, match="only exists with the profile's `method: session`"):
        SessionPythonJobHelper(model, SimpleNamespace(method=SparkConnectionMethod.THRIFT))
