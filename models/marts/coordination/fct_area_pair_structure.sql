-- One row per unordered pair of distinct member areas (area_code_a < area_code_b, so an area is never paired with
-- itself) x year: the structural similarity and Krugman dissimilarity of the fitted panel (draw 0 of
-- int_pair_structure_draws, which defines them) with their 90 % intervals over the Monte Carlo draws 1..n (most
-- shares rest on priors: the interval says how far the figures pin the pair down), and the counts and shares of
-- duplicated and complementary divisions (share over the divisions whose overlap is determined). is_cross_level
-- flags a prefecture city beside a municipal district: different administrative levels, compared with care.

with

structure as (
    select * from {{ ref('int_pair_structure_draws') }}
),

overlap as (
    select * from {{ ref('fct_area_pair_sector_overlap') }}
),

areas as (
    select * from {{ ref('stg_reference__areas') }}
),

fitted as (
    select * from structure
    where draw_id = 0
),

intervals as (
    select
        area_code_a,
        area_code_b,
        year,
        {{ continuous_quantile('similarity_coefficient', 0.05) }} as similarity_p5,
        {{ continuous_quantile('similarity_coefficient', 0.95) }} as similarity_p95,
        {{ continuous_quantile('krugman_dissimilarity', 0.05) }} as krugman_p5,
        {{ continuous_quantile('krugman_dissimilarity', 0.95) }} as krugman_p95
    from structure
    where draw_id > 0
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
        fitted.area_code_a,
        fitted.area_code_b,
        fitted.year,
        fitted.n_divisions_compared,
        fitted.similarity_coefficient,
        fitted.krugman_dissimilarity,
        fitted.null_reason,
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
        fitted.estimated_input_share,
        {{ basis_from_inputs('fitted.estimated_input_share', 'fitted.has_synthetic_input') }} as basis,
        intervals.similarity_p5,
        intervals.similarity_p95,
        intervals.krugman_p5,
        intervals.krugman_p95
    from fitted
    inner join overlap_counts
        on fitted.area_code_a = overlap_counts.area_code_a
            and fitted.area_code_b = overlap_counts.area_code_b
            and fitted.year = overlap_counts.year
    inner join areas as area_a on fitted.area_code_a = area_a.area_code
    inner join areas as area_b on fitted.area_code_b = area_b.area_code
    left join intervals
        on fitted.area_code_a = intervals.area_code_a
            and fitted.area_code_b = intervals.area_code_b
            and fitted.year = intervals.year
)

select * from final
