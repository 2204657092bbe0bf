-- One row per unordered pair of members x year: the 90 % intervals of the structural
-- similarity coefficient and the Krugman dissimilarity over the Monte Carlo draws of the
-- fitted panel (int_sector_output_draws), computed per draw as in fct_area_pair_structure
-- over the divisions with a value in both areas, shares renormalised over them.

with

output as (
    select * from {{ ref('int_sector_output_draws') }}
    where cluster_role = 'member'
),

pair_cells as (
    select
        a.draw_id,
        a.area_code as area_code_a,
        b.area_code as area_code_b,
        a.year,
        a.output_value_yuan as output_a,
        b.output_value_yuan as output_b
    from output as a
    inner join output as b
        on a.draw_id = b.draw_id
            and a.sector_code = b.sector_code
            and a.year = b.year
            and a.area_code < b.area_code
),

renormalised as (
    select
        *,
        output_a / nullif(sum(output_a) over pair, 0) as share_a,
        output_b / nullif(sum(output_b) over pair, 0) as share_b
    from pair_cells
    window pair as (partition by draw_id, area_code_a, area_code_b, year)
),

per_draw as (
    select
        draw_id,
        area_code_a,
        area_code_b,
        year,
        sum(share_a * share_b) / nullif(sqrt(sum(share_a * share_a) * sum(share_b * share_b)), 0)
            as similarity_coefficient,
        sum(abs(share_a - share_b)) as krugman_dissimilarity
    from renormalised
    group by all
),

final as (
    select
        area_code_a,
        area_code_b,
        year,
        {{ continuous_quantile('similarity_coefficient', 0.05) }} as similarity_p5,
        {{ continuous_quantile('similarity_coefficient', 0.95) }} as similarity_p95,
        {{ continuous_quantile('krugman_dissimilarity', 0.05) }} as krugman_p5,
        {{ continuous_quantile('krugman_dissimilarity', 0.95) }} as krugman_p95
    from per_draw
    group by all
)

select * from final
