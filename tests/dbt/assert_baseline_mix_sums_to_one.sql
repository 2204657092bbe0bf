-- Each province's prior baseline mix of divisions is a set of shares: they add up to 1.
select
    area_code,
    sum(value) as total_share
from {{ ref('stg_reference__estimation_priors') }}
where prior_kind = 'baseline_sector_share'
group by area_code
having abs(sum(value) - 1) > 1e-9
