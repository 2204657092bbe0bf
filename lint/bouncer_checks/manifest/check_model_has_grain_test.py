"""dbt-project-evaluator's primary-key rule (fct_missing_primary_key_tests) as a dbt-bouncer check.

A model needs a test of its uniqueness: dbt's `unique`, the project's `unique_combination`, or
a `column_rules` test (macros/generic_tests.sql) that carries the model's `grain` or a `unique`
column. dbt-bouncer's own check_model_has_unique_test goes by the test's name only, which would
take every column_rules test for a uniqueness test, with or without a grain.
"""

from dbt_bouncer.check_framework.decorator import check, fail
from dbt_bouncer.utils import get_clean_model_name

UNIQUENESS_TESTS = {"unique", "unique_combination"}


def checks_uniqueness(test) -> bool:
    metadata = getattr(test, "test_metadata", None)
    if metadata is None:
        return False
    if metadata.name in UNIQUENESS_TESTS:
        return True
    if metadata.name != "column_rules":
        return False
    arguments = dict(metadata.kwargs or {})
    arguments.update(arguments.pop("arguments", None) or {})
    return bool(arguments.get("grain") or arguments.get("unique"))


@check
def check_model_has_grain_test(model, ctx):
    """A model must have a test of its uniqueness (its grain or a unique column)."""
    if not any(checks_uniqueness(test) for test in ctx.tests_by_attached_node.get(model.unique_id, [])):
        fail(
            f"`{get_clean_model_name(model.unique_id)}` has no test of its uniqueness: add `grain` (or `unique`) "
            "to its column_rules test, or a unique / unique_combination test."
        )
