-- One row per metric x scope whose figures bear on the sector-output panel: how a figure
-- of it constrains the fit (seeds/panel_constraint_rules.csv).
select
    metric_code,
    scope,
    use_in_fit,
    constraint_kind,
    sense,
    {{ split_text('sector_codes', ';') }} as sector_codes,
    coalesce(span_years, 0) as span_years,
    coalesce(is_average_rate, false) as is_average_rate,
    is_hard,
    tolerance,
    rationale
from {{ ref('panel_constraint_rules') }}
