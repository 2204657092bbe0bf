-- Fails with one row per reported figure whose entity, metric, value, unit, year or
-- source cannot be parsed, naming the figure and the column at fault.
select figure_id, rejection_reason
from {{ ref('int_reported_figures_checked') }}
where rejection_reason is not null
