-- One row per draw (0 = the fitted panel) x member area, for the change between var('shift_share_base_year') and
-- var('shift_share_end_year'), against the eight-area cluster (Dunn 1960):
--   NS = e0 * G                                G = cluster growth
--   IM = sum_k e0[k] * (g[k] - G)              g[k] = cluster growth of division k
--   RS = sum_k ((e1[k] - e0[k]) - e0[k] * g[k]) (= sum_k e0[k] (g[i,k] - g[k]) when
--        e0[k] > 0; written this way a division new to the area adds its whole
--        output to RS, and NS + IM + RS = e1 - e0 always holds)

with

output as (
    select * from {{ ref('int_specialization_draws') }}
    where reference = 'cluster8'
        and year in ({{ var('shift_share_base_year') }}, {{ var('shift_share_end_year') }})
),

cells as (
    select
        draw_id,
        area_code,
        sector_code,
        sum(case when year = {{ var('shift_share_base_year') }} then output_value_yuan end) as e0,
        sum(case when year = {{ var('shift_share_end_year') }} then output_value_yuan end) as e1,
        sum(case when cell_basis <> 'reported' then output_value_yuan else 0 end) as estimated_yuan,
        sum(output_value_yuan) as all_yuan,
        bool_or(cell_basis = 'synthetic') as has_synthetic
    from output
    group by all
),

cluster_sector as (
    select
        draw_id,
        sector_code,
        sum(e0) as c0,
        sum(e1) as c1
    from cells
    group by all
),

cluster_total as (
    select
        draw_id,
        sum(e0) as c0,
        sum(e1) as c1
    from cells
    group by all
),

growth as (
    select
        cells.*,
        cluster_sector.c1 / nullif(cluster_sector.c0, 0) - 1 as sector_growth,
        cluster_total.c1 / nullif(cluster_total.c0, 0) - 1 as cluster_growth
    from cells
    inner join cluster_sector
        on cells.draw_id = cluster_sector.draw_id and cells.sector_code = cluster_sector.sector_code
    inner join cluster_total on cells.draw_id = cluster_total.draw_id
),

final as (
    select
        draw_id,
        area_code,
        {{ var('shift_share_base_year') }} as base_year,
        {{ var('shift_share_end_year') }} as end_year,
        sum(e0) as output_base_yuan,
        sum(e1) as output_end_yuan,
        sum(e1) - sum(e0) as change_yuan,
        sum(e0) * any_value(cluster_growth) as national_share_yuan,
        sum(e0 * (sector_growth - cluster_growth)) as industry_mix_yuan,
        sum((e1 - e0) - e0 * sector_growth) as regional_shift_yuan,
        'cluster8' as reference,
        case when count(sector_growth) < count(*) then 'a division has no output in the base year in the cluster' end
            as null_reason,
        sum(estimated_yuan) / nullif(sum(all_yuan), 0) as estimated_input_share,
        bool_or(has_synthetic) as has_synthetic_input
    from growth
    group by draw_id, area_code
)

select * from final
