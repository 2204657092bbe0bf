"""dbt-project-evaluator's primary-key rule (fct_missing_primary_key_tests) as a dbt-bouncer check.

A model needs a test of its uniqueness: dbt's `unique`, the project's `unique_combination`, or
a `column_rules` test (macros/generic_tests.sql) that carries the model's `grain` or a `unique`
column and reads that model alone. dbt-bouncer's own check_model_has_unique_test goes by the
test's name only, which would take every column_rules test for a uniqueness test, with or
without a grain. A test with a second parent (column_rules_<model>_references) does not count:
a selection without that parent skips it (cautious indirect selection).
"""

from dbt_bouncer.check_framework.decorator import check, fail
from dbt_bouncer.utils import get_clean_model_name

UNIQUENESS_TESTS = {"unique", "unique_combination"}


def names_columns(value) -> bool:
    """A non-empty list of column names (a bare string would be read letter by letter)."""
    return isinstance(value, list) and bool(value) and all(isinstance(c, str) and c.strip() for c in value)


def checks_uniqueness(test) -> bool:
    """Whether a test node (as dbt-bouncer reads it from the manifest, where dbt 1.11 keeps a
    generic test's `arguments:` in test_metadata.kwargs) tests its one model's uniqueness."""
    metadata = getattr(test, "test_metadata", None)
    if metadata is None or len(test.depends_on.nodes) != 1:
        return False
    if metadata.name in UNIQUENESS_TESTS:
        return True
    kwargs = metadata.kwargs or {}
    grain, unique = kwargs.get("grain"), kwargs.get("unique")
    return metadata.name == "column_rules" and (names_columns(grain) or names_columns(unique))


@check
def check_model_has_grain_test(model, ctx):
    """A model must have a test of its uniqueness (its grain or a unique column)."""
    if not any(checks_uniqueness(test) for test in ctx.tests_by_attached_node.get(model.unique_id, [])):
        fail(
            f"`{get_clean_model_name(model.unique_id)}` has no test of its uniqueness: add `grain` (or `unique`) "
            "to its column_rules test, or a unique / unique_combination test."
        )
