-- One row per draw (0 = the fitted panel) x division x year, over the eight member areas (n = 8), against the
-- cluster (int_specialization_draws, reference cluster8):
--   HHI        H = sum_i (x_i,k / x_.,k)^2; normalised (H - 1/n) / (1 - 1/n)
--   Hoover     HC = 1/2 sum_i | x_i,k / x_.,k - x_i,. / x_.,. |
--   Gini       over the ascending LQs C(1..n) against the cluster:
--              G = 2 / (n^2 mean(C)) * sum_l l (C(l) - mean(C))
-- A division with no output (or no value) in the year gets NULLs and null_reason; so do Hoover and Gini of a
-- division in which nothing distinguishes any member (every share is a province's prior mix, so they would only
-- restate the priors). Divisions no source tells apart (int_indistinct_divisions, carried as indistinct_reason by
-- int_specialization_draws: C40 and C43) get every measure NULL with that reason in every draw, so the published
-- value and its interval are masked here, once.

with

shares as (
    select
        *,
        output_value_yuan / nullif(reference_sector_yuan, 0) as share_of_sector,
        area_total_yuan / nullif(reference_total_yuan, 0) as share_of_cluster
    from {{ ref('int_specialization_draws') }}
    where reference = 'cluster8'
),

ranked as (
    select
        *,
        count(*) over division as n_areas,
        avg(location_quotient) over division as mean_lq,
        row_number() over (
            partition by draw_id, sector_code, year
            order by location_quotient, area_code
        ) as lq_rank
    from shares
    window division as (partition by draw_id, sector_code, year)
),

measured as (
    select
        draw_id,
        sector_code,
        year,
        any_value(indistinct_reason) as indistinct_reason,
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
        bool_or(has_synthetic_input) as has_synthetic_input
    from ranked
    group by draw_id, sector_code, year
),

final as (
    select
        draw_id,
        sector_code,
        year,
        n_areas,
        sector_output_yuan,
        case when indistinct_reason is null then hhi end as hhi,
        case when indistinct_reason is null then hhi_normalised end as hhi_normalised,
        case when indistinct_reason is null then hoover_coefficient end as hoover_coefficient,
        case when indistinct_reason is null then locational_gini end as locational_gini,
        coalesce(indistinct_reason, null_reason) as null_reason,
        estimated_input_share,
        has_synthetic_input
    from measured
)

select * from final
