-- The estimated panel reproduces every reported equipment total of the same scope
-- within the stated tolerance (0.1 %).
select *
from {{ ref('audit_sector_output_reconciliation') }}
where abs(relative_error) > tolerance
