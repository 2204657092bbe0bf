-- Every hard constraint of the panel fit (a reported level, a lower bound, a user's cell)
-- holds within its tolerance: the fit meets them exactly, so a row here is a bug (a microdata
-- cell withheld by disclosure control is checked too: only its values are blanked).
select * from {{ ref('audit_panel_constraints') }}
where is_hard and (status = 'fitted' or status like 'withheld by disclosure control%') and not is_met
