{{ config(severity='warn') }}
-- Soft figures (revenue read as output, narrow or local definitions, partial years,
-- growth of value added read as output growth, rounded or low-reliability figures) that
-- the fitted panel misses by more than their tolerance: the priors and the other figures
-- disagree with them. Printed as a warning; audit_panel_constraints says by how much.
select * from {{ ref('audit_panel_constraints') }}
where not is_hard and status = 'fitted' and not is_met
