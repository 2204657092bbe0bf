-- Land area is treated as a slowly changing attribute of type 1: the area keeps one
-- current value, the best land_area figure by reliability, then the latest year, a
-- figure without a year counting as older than any dated one. The figure id and year
-- it came from are kept beside it.
-- Boundary changes are a slowly changing attribute of type 2 kept in dim_area_boundary
-- (one row per version, with validity dates); here the area's latest version, when it
-- began and ended, and how many versions since 2015 the area has.

with

areas as (
    select * from {{ ref('stg_reference__areas') }}
),

land_figures as (
    select * from {{ ref('int_reported_figures_checked') }}
    where metric_code = 'land_area' and rejection_reason is null
),

boundaries as (
    select * from {{ ref('stg_reference__area_boundaries') }}
),

latest_boundary as (
    select
        area_code,
        boundary_id,
        valid_from,
        valid_to,
        description,
        count(*) over (partition by area_code) as n_boundary_versions
    from boundaries
    qualify row_number() over (
            partition by area_code
            order by coalesce(valid_from, date '1900-01-01') desc
        ) = 1
),

best_land as (
    select
        area_code,
        value_base as land_area_km2,
        year as land_area_year,
        figure_id as land_area_figure_id
    from land_figures
    qualify row_number() over (
            partition by area_code
            order by reliability_rank desc, year desc nulls last, figure_id asc
        ) = 1
),

final as (
    select
        areas.area_code,
        areas.name_zh,
        areas.name_en,
        areas.admin_level,
        areas.parent_area_code,
        parent.name_en as parent_name_en,
        areas.province_code,
        province.name_en as province_name_en,
        areas.cluster_role,
        areas.cluster_role = 'member' as is_cluster_member,
        best_land.land_area_km2,
        best_land.land_area_year,
        best_land.land_area_figure_id,
        coalesce(latest_boundary.boundary_id, areas.area_code) as boundary_id,
        latest_boundary.valid_from as boundary_valid_from,
        latest_boundary.valid_to as boundary_valid_to,
        coalesce(latest_boundary.n_boundary_versions, 1) as n_boundary_versions,
        coalesce(latest_boundary.description, 'no boundary change recorded') as boundary_note,
        areas.source_id
    from areas
    left join areas as parent on areas.parent_area_code = parent.area_code
    left join areas as province on areas.province_code = province.area_code
    left join best_land on areas.area_code = best_land.area_code
    left join latest_boundary on areas.area_code = latest_boundary.area_code
)

select * from final
