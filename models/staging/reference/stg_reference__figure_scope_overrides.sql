select
    figure_id,
    scope,
    rationale
from {{ ref('figure_scope_overrides') }}
