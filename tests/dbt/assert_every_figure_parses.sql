{{ config(severity='warn', store_failures=true, schema='audit') }}
-- Warns with one row per reported figure whose entity, metric, value, unit, year or
-- source cannot be parsed, naming the figure and the column at fault. Such a figure is
-- listed in audit_rejected_figures and kept out of every measure; the build still
-- publishes, so the audit mart is there to read.
select
    figure_id,
    rejection_reason
from {{ ref('int_reported_figures_checked') }}
where rejection_reason is not null
