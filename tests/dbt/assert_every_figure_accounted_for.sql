-- Every row of the figures seed is either in fct_reported_figures or in
-- audit_rejected_figures, never in both, never in neither.
with

stated as (select figure_id from {{ ref('stg_reported__figures') }}),

kept as (select figure_id from {{ ref('fct_reported_figures') }}),

rejected as (select figure_id from {{ ref('audit_rejected_figures') }})

select
    stated.figure_id,
    kept.figure_id is not null as in_fact,
    rejected.figure_id is not null as in_rejected
from stated
left join kept on stated.figure_id = kept.figure_id
left join rejected on stated.figure_id = rejected.figure_id
where (kept.figure_id is null) = (rejected.figure_id is null)
