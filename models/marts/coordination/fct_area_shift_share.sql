-- One row per member area, for the change between var('shift_share_base_year') and
-- var('shift_share_end_year'), against the eight-area cluster (Dunn 1960):
--   NS = e0 * G                                G = cluster growth
--   IM = sum_k e0[k] * (g[k] - G)              g[k] = cluster growth of division k
--   RS = sum_k ((e1[k] - e0[k]) - e0[k] * g[k]) (= sum_k e0[k] (g[i,k] - g[k]) when
--        e0[k] > 0; written this way a division new to the area adds its whole
--        output to RS, and NS + IM + RS = e1 - e0 always holds)
-- Both years are on the area's panel boundary (int_area_gdp_panel restates an older
-- boundary's GDP, which the panel's prior scales with); boundary_note says how the base
-- year got there for an area whose boundary changed since the base year.

with

output as (
    select * from {{ ref('int_sector_output_members') }}
    where year in ({{ var('shift_share_base_year') }}, {{ var('shift_share_end_year') }})
),

cells as (
    select
        area_code,
        sector_code,
        sum(case when year = {{ var('shift_share_base_year') }} then output_value_yuan end) as e0,
        sum(case when year = {{ var('shift_share_end_year') }} then output_value_yuan end) as e1,
        sum(case when basis <> 'reported' then output_value_yuan else 0 end) as estimated_yuan,
        sum(output_value_yuan) as all_yuan,
        bool_or(basis = 'synthetic') as has_synthetic
    from output
    group by all
),

area_gdp_base as (
    select * from {{ ref('int_area_gdp_panel') }}
    where year = {{ var('shift_share_base_year') }}
),

boundary_versions as (
    select
        area_code,
        count(*) as n_versions,
        max(last_statistical_year) filter (where last_statistical_year < {{ var('shift_share_end_year') }})
            as last_old_year
    from {{ ref('stg_reference__area_boundaries') }}
    group by area_code
),

cluster_sector as (
    select
        sector_code,
        sum(e0) as c0,
        sum(e1) as c1
    from cells
    group by all
),

cluster_total as (
    select
        sum(e0) as c0,
        sum(e1) as c1
    from cells
),

growth as (
    select
        cells.*,
        cluster_sector.c1 / nullif(cluster_sector.c0, 0) - 1 as sector_growth,
        cluster_total.c1 / nullif(cluster_total.c0, 0) - 1 as cluster_growth
    from cells
    inner join cluster_sector on cells.sector_code = cluster_sector.sector_code
    cross join cluster_total
),

components as (
    select
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
        {{ basis_from_inputs('sum(estimated_yuan) / nullif(sum(all_yuan), 0)', 'bool_or(has_synthetic)') }} as basis
    from growth
    group by area_code
),

final as (
    select
        components.*,
        area_gdp_base.boundary_id,
        case
            when boundary_versions.last_old_year >= {{ var('shift_share_base_year') }}
                then 'base year {{ var('shift_share_base_year') }} on ' || area_gdp_base.boundary_id
                    || ': the panel prior scales with GDP of ' || area_gdp_base.method || ' ('
                    || coalesce(
                        area_gdp_base.boundary_note,
                        'estimated on the panel boundary, no figure on the old one used'
                    )
                    || ')'
        end as boundary_note
    from components
    left join area_gdp_base on components.area_code = area_gdp_base.area_code
    left join boundary_versions on components.area_code = boundary_versions.area_code
)

select * from final
