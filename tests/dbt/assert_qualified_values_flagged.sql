-- A figure whose stated unit says the value is "over", "exceeds" or "broke through"
-- must not be treated as exact.
select
    figure_id,
    unit_original,
    value_qualifier
from {{ ref('fct_reported_figures') }}
where (unit_original like '%超%' or unit_original like '%突破%' or lower(unit_original) like '%exceed%')
    and value_qualifier not in ('lower_bound', 'target')
