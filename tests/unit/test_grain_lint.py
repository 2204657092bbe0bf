"""The lint's uniqueness rule (lint/bouncer_checks/manifest/check_model_has_grain_test.py): which
of a model's tests count as a test of its uniqueness."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest

CHECK = Path(__file__).resolve().parents[2] / "lint" / "bouncer_checks" / "manifest" / "check_model_has_grain_test.py"
spec = importlib.util.spec_from_file_location("check_model_has_grain_test", CHECK)
grain_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(grain_check)

MODEL = "model.chengyu_cluster.dim_area"


def a_test(name: str | None, parents=(MODEL,), **kwargs):
    """A test node as dbt-bouncer reads it from the manifest: dbt 1.11 keeps a generic test's
    `arguments:` in test_metadata.kwargs."""
    metadata = None if name is None else SimpleNamespace(name=name, kwargs=kwargs)
    return SimpleNamespace(test_metadata=metadata, depends_on=SimpleNamespace(nodes=list(parents)))


@pytest.mark.parametrize(
    ("test", "counts"),
    [
        (a_test("unique", column_name="area_code"), True),
        (a_test("unique_combination", combination_of_columns=["area_code", "year"]), True),
        (a_test("column_rules", grain=["area_code", "year"], not_null=["value"]), True),
        (a_test("column_rules", unique=["invoice_id"]), True),
        # A column_rules test without a grain or a unique column checks no uniqueness.
        (a_test("column_rules", not_null=["area_code"], accepted_values={"basis": ["reported"]}), False),
        (a_test("column_rules", grain=[], unique=[]), False),
        # A bare string or an empty name is no list of columns.
        (a_test("column_rules", grain="area_code"), False),
        (a_test("column_rules", unique=[""]), False),
        # A test with a second parent is skipped by a selection without it.
        (a_test("column_rules", parents=(MODEL, "model.chengyu_cluster.dim_source"), grain=["area_code"]), False),
        (a_test("not_null", column_name="area_code"), False),
        (a_test("expression_is_true", expression="true"), False),
        (a_test(None), False),  # a singular test
    ],
)
def test_which_tests_check_uniqueness(test, counts):
    assert grain_check.checks_uniqueness(test) is counts
