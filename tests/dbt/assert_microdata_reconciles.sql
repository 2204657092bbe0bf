-- Real enterprise microdata (basis reported) add up to the reported above-scale totals of the
-- same scope and year within the tolerance (audit_microdata_reconciliation): a register that
-- misses enterprises, double counts them or holds another scope stops the build before it is
-- published. Synthetic microdata are not expected to match reality and are left out.
select *
from {{ ref('audit_microdata_reconciliation') }}
where status = 'differs' and basis = 'reported'
