-- One row per division x year: the 90 % intervals of the spatial HHI and the Hoover
-- coefficient over the Monte Carlo draws of the fitted panel (int_sector_output_draws),
-- computed per draw as in fct_sector_concentration over the eight members. (The locational
-- Gini ranks LQs within each draw; its interval is not computed.)

with

output as (
    select * from {{ ref('int_sector_output_draws') }}
    where cluster_role = 'member'
),

shares as (
    select
        draw_id,
        sector_code,
        year,
        output_value_yuan / nullif(sum(output_value_yuan) over division, 0) as share_of_sector,
        sum(output_value_yuan) over area / nullif(sum(output_value_yuan) over cluster, 0) as share_of_cluster
    from output
    window
        division as (partition by draw_id, sector_code, year),
        area as (partition by draw_id, area_code, year),
        cluster as (partition by draw_id, year)
),

per_draw as (
    select
        draw_id,
        sector_code,
        year,
        sum(share_of_sector * share_of_sector) as hhi,
        0.5 * sum(abs(share_of_sector - share_of_cluster)) as hoover_coefficient
    from shares
    group by draw_id, sector_code, year
),

final as (
    select
        sector_code,
        year,
        {{ continuous_quantile('hhi', 0.05) }} as hhi_p5,
        {{ continuous_quantile('hhi', 0.95) }} as hhi_p95,
        {{ continuous_quantile('hoover_coefficient', 0.05) }} as hoover_p5,
        {{ continuous_quantile('hoover_coefficient', 0.95) }} as hoover_p95
    from per_draw
    group by sector_code, year
)

select * from final
