select
    figure_id,
    series_vintage,
    release_stage,
    evidence_kind,
    evidence as vintage_evidence
from {{ ref('figure_series_vintages') }}
