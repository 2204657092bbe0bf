-- One row per unordered pair of distinct member areas (area_code_a < area_code_b, so an
-- area is never paired with itself) x year:
--   structural similarity S = sum_k s_a,k s_b,k / sqrt(sum_k s_a,k^2 * sum_k s_b,k^2)
--   Krugman dissimilarity K = sum_k |s_a,k - s_b,k|
-- with counts and shares of duplicated and complementary divisions (share over the
-- divisions whose overlap is determined). is_cross_level flags a prefecture city beside
-- a municipal district: different administrative levels, compared with care.

with

shares as (
    select * from {{ ref('int_sector_shares') }}
    where reference = 'cluster8'
),

overlap as (
    select * from {{ ref('fct_area_pair_sector_overlap') }}
),

intervals as (
    select * from {{ ref('int_pair_structure_draws') }}
),

areas as (
    select * from {{ ref('stg_reference__areas') }}
),

pair_cells as (
    -- The divisions with a value in both areas (C39 has none); the shares are renormalised
    -- over them (n_divisions_compared says how many). Most shares rest on priors: the
    -- similarity_p5..p95 interval says how far the figures pin the pair down.
    select
        a.area_code as area_code_a,
        b.area_code as area_code_b,
        a.year,
        a.output_value_yuan as output_a,
        b.output_value_yuan as output_b,
        greatest(a.estimated_input_share, b.estimated_input_share) as estimated_input_share,
        a.has_synthetic_input or b.has_synthetic_input as has_synthetic_input
    from shares as a
    inner join shares as b
        on a.sector_code = b.sector_code
            and a.year = b.year
            and a.area_code < b.area_code
    where a.output_value_yuan is not null and b.output_value_yuan is not null
),

renormalised as (
    select
        *,
        output_a / nullif(sum(output_a) over pair, 0) as share_a,
        output_b / nullif(sum(output_b) over pair, 0) as share_b
    from pair_cells
    window pair as (partition by area_code_a, area_code_b, year)
),

pair_sums as (
    select
        area_code_a,
        area_code_b,
        year,
        count(*) as n_divisions_compared,
        sum(share_a * share_b) as sum_product,
        sum(share_a * share_a) as sum_square_a,
        sum(share_b * share_b) as sum_square_b,
        sum(abs(share_a - share_b)) as krugman_dissimilarity,
        count(share_a) = count(*) and count(share_b) = count(*) as shares_complete,
        max(estimated_input_share) as estimated_input_share,
        bool_or(has_synthetic_input) as has_synthetic_input
    from renormalised
    group by all
),

overlap_counts as (
    select
        area_code_a,
        area_code_b,
        year,
        count(*) filter (where overlap = 'duplicated') as n_duplicated,
        count(*) filter (where overlap = 'complementary') as n_complementary,
        count(*) filter (where overlap = 'neither') as n_neither,
        count(*) filter (where overlap = 'undetermined') as n_undetermined
    from overlap
    group by all
),

final as (
    select
        pair_sums.area_code_a,
        pair_sums.area_code_b,
        pair_sums.year,
        pair_sums.n_divisions_compared,
        case
            when pair_sums.shares_complete
                then pair_sums.sum_product / nullif(sqrt(pair_sums.sum_square_a * pair_sums.sum_square_b), 0)
        end as similarity_coefficient,
        case when pair_sums.shares_complete then pair_sums.krugman_dissimilarity end as krugman_dissimilarity,
        case
            when not pair_sums.shares_complete then 'an area has no output in the year'
            when pair_sums.sum_square_a * pair_sums.sum_square_b = 0 then 'an area has no output in the year'
        end as null_reason,
        overlap_counts.n_duplicated,
        overlap_counts.n_complementary,
        overlap_counts.n_neither,
        overlap_counts.n_undetermined,
        overlap_counts.n_duplicated
        / nullif(overlap_counts.n_duplicated + overlap_counts.n_complementary + overlap_counts.n_neither, 0)
            as share_duplicated,
        overlap_counts.n_complementary
        / nullif(overlap_counts.n_duplicated + overlap_counts.n_complementary + overlap_counts.n_neither, 0)
            as share_complementary,
        area_a.admin_level as admin_level_a,
        area_b.admin_level as admin_level_b,
        area_a.admin_level <> area_b.admin_level as is_cross_level,
        pair_sums.estimated_input_share,
        {{ basis_from_inputs('pair_sums.estimated_input_share', 'pair_sums.has_synthetic_input') }} as basis,
        intervals.similarity_p5,
        intervals.similarity_p95,
        intervals.krugman_p5,
        intervals.krugman_p95
    from pair_sums
    inner join overlap_counts
        on pair_sums.area_code_a = overlap_counts.area_code_a
            and pair_sums.area_code_b = overlap_counts.area_code_b
            and pair_sums.year = overlap_counts.year
    inner join areas as area_a on pair_sums.area_code_a = area_a.area_code
    inner join areas as area_b on pair_sums.area_code_b = area_b.area_code
    left join intervals
        on pair_sums.area_code_a = intervals.area_code_a
            and pair_sums.area_code_b = intervals.area_code_b
            and pair_sums.year = intervals.year
)

select * from final
