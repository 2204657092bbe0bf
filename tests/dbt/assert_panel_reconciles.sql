-- The fitted panel reproduces every exact reported equipment total of the same scope
-- within the stated tolerance (0.1 %) and stays at or above every lower bound ('超',
-- '突破'). Rounded totals are soft constraints of the fit: audit_panel_constraints and
-- warn_soft_panel_constraints_not_met cover them.
select *
from {{ ref('audit_sector_output_reconciliation') }}
where case value_qualifier
        when 'lower_bound' then relative_error < -tolerance
        when 'exact' then abs(relative_error) > tolerance
        else false
    end
