-- One row per draw (0 = the fitted panel) x unordered pair of distinct members (area_code_a < area_code_b) x year,
-- over the divisions with a value in both areas (C39 has none), shares renormalised over them:
--   structural similarity S = sum_k s_a,k s_b,k / sqrt(sum_k s_a,k^2 * sum_k s_b,k^2)
--   Krugman dissimilarity K = sum_k |s_a,k - s_b,k|
-- NULL with null_reason when an area has no output in the year.

with

output as (
    select * from {{ ref('int_specialization_draws') }}
    where reference = 'cluster8'
),

pair_cells as (
    select
        a.draw_id,
        a.area_code as area_code_a,
        b.area_code as area_code_b,
        a.year,
        a.output_value_yuan as output_a,
        b.output_value_yuan as output_b,
        greatest(a.estimated_input_share, b.estimated_input_share) as estimated_input_share,
        a.has_synthetic_input or b.has_synthetic_input as has_synthetic_input
    from output as a
    inner join output as b
        on a.draw_id = b.draw_id
            and a.sector_code = b.sector_code
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
    window pair as (partition by draw_id, area_code_a, area_code_b, year)
),

pair_sums as (
    select
        draw_id,
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

final as (
    select
        draw_id,
        area_code_a,
        area_code_b,
        year,
        n_divisions_compared,
        case
            when shares_complete then sum_product / nullif(sqrt(sum_square_a * sum_square_b), 0)
        end as similarity_coefficient,
        case when shares_complete then krugman_dissimilarity end as krugman_dissimilarity,
        case
            when not shares_complete then 'an area has no output in the year'
            when sum_square_a * sum_square_b = 0 then 'an area has no output in the year'
        end as null_reason,
        estimated_input_share,
        has_synthetic_input
    from pair_sums
)

select * from final
