select
    figure_id,
    entity_name,
    entity_code_raw,
    metric_code,
    year_raw,
    value_raw,
    unit_raw,
    source_text,
    rejection_reason
from {{ ref('int_reported_figures_checked') }}
where rejection_reason is not null
