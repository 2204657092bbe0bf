-- One row per division x year, over the eight member areas (n = 8):
--   HHI        H = sum_i (x_i,k / x_.,k)^2; normalised (H - 1/n) / (1 - 1/n)
--   Hoover     HC = 1/2 sum_i | x_i,k / x_.,k - x_i,. / x_.,. |
--   Gini       over the ascending LQs C(1..n) against the cluster:
--              G = 2 / (n^2 mean(C)) * sum_l l (C(l) - mean(C))
-- A division with no output (or no value) in the year gets NULLs and null_reason; so do
-- Hoover and Gini of a division in which nothing distinguishes any member (every share
-- is a province's prior mix, so they would only restate the priors).
-- Intervals: HHI and Hoover computed on every Monte Carlo draw (int_concentration_draws).

with

shares as (
    select * from {{ ref('int_sector_shares') }}
    where reference = 'cluster8'
),

with_lq as (
    select
        *,
        area_share / nullif(reference_share, 0) as location_quotient,
        output_value_yuan / nullif(reference_sector_yuan, 0) as share_of_sector,
        area_total_yuan / nullif(reference_total_yuan, 0) as share_of_cluster
    from shares
),

intervals as (
    select * from {{ ref('int_concentration_draws') }}
),

ranked as (
    select
        *,
        count(*) over (partition by sector_code, year) as n_areas,
        avg(location_quotient) over (partition by sector_code, year) as mean_lq,
        row_number() over (
            partition by sector_code, year
            order by location_quotient, area_code
        ) as lq_rank
    from with_lq
),

final as (
    select
        sector_code,
        year,
        any_value(n_areas) as n_areas,
        any_value(reference_sector_yuan) as sector_output_yuan,
        sum(share_of_sector * share_of_sector) as hhi,
        (sum(share_of_sector * share_of_sector) - 1.0 / any_value(n_areas))
        / (1 - 1.0 / any_value(n_areas)) as hhi_normalised,
        case when bool_or(is_area_specific) then 0.5 * sum(abs(share_of_sector - share_of_cluster)) end
            as hoover_coefficient,
        case when bool_or(is_area_specific) then
                2.0 / (any_value(n_areas) * any_value(n_areas) * nullif(any_value(mean_lq), 0))
                * sum(lq_rank * (location_quotient - mean_lq))
        end as locational_gini,
        case
            when bool_and(output_value_yuan is null)
                then 'no value for the division (no figure or defensible prior: fct_sector_output.null_reason)'
            when coalesce(any_value(reference_sector_yuan), 0) = 0
                then 'the division has no output in the cluster in the year'
            when not bool_or(is_area_specific)
                then 'Hoover and Gini: no figure or claim distinguishes any member in this division '
                    || '(each share is the prior mix of its province)'
        end as null_reason,
        max(estimated_input_share) as estimated_input_share,
        {{ basis_from_inputs('max(estimated_input_share)', 'bool_or(has_synthetic_input)') }} as basis
    from ranked
    group by sector_code, year
)

select
    final.sector_code,
    final.year,
    final.n_areas,
    final.sector_output_yuan,
    -- Divisions no source tells apart (issue 25, int_indistinct_divisions): NULL, not copies.
    case when indistinct.sector_code is null then final.hhi end as hhi,
    case when indistinct.sector_code is null then final.hhi_normalised end as hhi_normalised,
    case when indistinct.sector_code is null then final.hoover_coefficient end as hoover_coefficient,
    case when indistinct.sector_code is null then final.locational_gini end as locational_gini,
    coalesce(indistinct.null_reason, final.null_reason) as null_reason,
    final.estimated_input_share,
    final.basis,
    case when indistinct.sector_code is null then intervals.hhi_p5 end as hhi_p5,
    case when indistinct.sector_code is null then intervals.hhi_p95 end as hhi_p95,
    case when final.hoover_coefficient is not null and indistinct.sector_code is null then intervals.hoover_p5 end
        as hoover_p5,
    case when final.hoover_coefficient is not null and indistinct.sector_code is null then intervals.hoover_p95 end
        as hoover_p95
from final
left join intervals on final.sector_code = intervals.sector_code and final.year = intervals.year
left join {{ ref('int_indistinct_divisions') }} as indistinct on final.sector_code = indistinct.sector_code
