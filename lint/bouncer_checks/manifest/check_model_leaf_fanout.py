"""dbt-project-evaluator's fan-out rule (fct_model_fanout) as a dbt-bouncer check.

The evaluator flags a model with `models_fanout_threshold` (3) or more *leaf* children: direct
children that are models with no model children of their own. dbt-bouncer's own
check_model_max_fanout counts every direct child, a different rule (each shared staging model
would fail it), so the project checks the evaluator's rule here, from the same manifest.
"""

from dbt_bouncer.check_framework.decorator import check, fail
from dbt_bouncer.utils import get_clean_model_name


@check
def check_model_max_leaf_fanout(model, ctx, *, models_fanout_threshold: int = 3):
    """A model may feed fewer than `models_fanout_threshold` end-of-DAG models directly."""
    children = ctx.children_by_unique_id
    leaves = sorted(
        get_clean_model_name(child.unique_id)
        for child in children.get(model.unique_id, [])
        if not children.get(child.unique_id)
    )
    if len(leaves) >= models_fanout_threshold:
        fail(
            f"`{get_clean_model_name(model.unique_id)}` feeds {len(leaves)} leaf models directly ({', '.join(leaves)}); "
            f"the evaluator's fan-out threshold is {models_fanout_threshold}."
        )
