-- One row per member area x panel year: GDP in yuan.
-- Reported where the area's GDP is reported for the year. Otherwise the area's share of
-- its province's GDP is interpolated linearly between the years where both are known
-- and carried flat outside them. An area with no GDP figure in the panel years gets
-- share = its resident population share (latest year both are reported) x the prior
-- relative_gdp_per_resident of seeds/estimation_priors.csv.
-- Every row is on the area's panel boundary: the boundary version its statistics of
-- var('panel_end_year') refer to (seeds/area_boundaries.csv). A figure on an older
-- version is restated to it where the transferred unit's GDP of the same year is
-- reported (Chengdu 2015: reported old-boundary 10801.16 亿 + Jianyang's 401.4 亿 =
-- 11202.56 亿, basis estimated, method restated_to_panel_boundary); where it is not, the
-- figure is not used for the level (the year is filled like an unreported one) and
-- boundary_note says why.

with

best_figures as (
    select * from {{ ref('int_indicator_candidates') }}
    where rank_in_key = 1 and subject is null
),

members as (
    select
        area_code,
        province_code
    from {{ ref('stg_reference__areas') }}
    where cluster_role = 'member'
),

province_gdp as (
    select * from {{ ref('int_province_gdp_panel') }}
),

boundaries as (
    select * from {{ ref('stg_reference__area_boundaries') }}
),

panel_boundary as (
    select
        area_code,
        boundary_id
    from boundaries
    where {{ var('panel_end_year') }} >= coalesce(first_statistical_year, {{ var('panel_end_year') }})
        and {{ var('panel_end_year') }} <= coalesce(last_statistical_year, {{ var('panel_end_year') }})
),

priors as (
    select * from {{ ref('stg_reference__estimation_priors') }}
    where prior_kind = 'relative_gdp_per_resident'
),

spine as (
    select
        members.area_code as series_key,
        province_gdp.year
    from members
    inner join province_gdp on members.province_code = province_gdp.area_code
),

reported_gdp_any_boundary as (
    select
        best_figures.area_code,
        best_figures.year,
        best_figures.value_base as gdp_reported_boundary_yuan,
        best_figures.boundary_id as reported_boundary_id,
        coalesce(panel_boundary.boundary_id, best_figures.area_code) as boundary_id,
        best_figures.figure_id,
        old_version.transfer_gdp_yuan,
        old_version.restatement_sign,
        old_version.transfer_year,
        old_version.transfer_unit_name
    from best_figures
    left join panel_boundary on best_figures.area_code = panel_boundary.area_code
    left join boundaries as old_version on best_figures.boundary_id = old_version.boundary_id
    where best_figures.metric_code = 'gdp'
),

reported_gdp as (
    select
        area_code,
        year,
        gdp_reported_boundary_yuan,
        reported_boundary_id,
        case
            when reported_boundary_id = boundary_id then gdp_reported_boundary_yuan
            when transfer_year = year and transfer_gdp_yuan is not null
                then gdp_reported_boundary_yuan + restatement_sign * transfer_gdp_yuan
        end as gdp_yuan,
        reported_boundary_id <> boundary_id as is_restated,
        case
            when reported_boundary_id = boundary_id then null
            when transfer_year = year and transfer_gdp_yuan is not null
                then 'restated from ' || reported_boundary_id || ' to ' || boundary_id || ': reported value '
                    || case when restatement_sign > 0 then '+ ' else '- ' end
                    || transfer_unit_name || ' GDP ' || transfer_year || ' (seeds/area_boundaries.csv)'
            else 'reported value on ' || reported_boundary_id || ' not used: no GDP of the transferred unit for '
                || year || ' to restate it to ' || boundary_id
        end as boundary_note,
        figure_id
    from reported_gdp_any_boundary
),

usable_gdp as (
    select * from reported_gdp
    where gdp_yuan is not null
),

known_share as (
    select
        members.area_code as series_key,
        reported_gdp.year,
        reported_gdp.gdp_yuan / province_gdp.gdp_yuan as value,
        {{ sorted_distinct_list(append_to_list('province_gdp.figure_ids', 'reported_gdp.figure_id')) }} as figure_ids
    from members
    inner join usable_gdp as reported_gdp on members.area_code = reported_gdp.area_code
    inner join province_gdp
        on members.province_code = province_gdp.area_code
            and reported_gdp.year = province_gdp.year
),

population as (
    select
        area_code,
        year,
        value_base as persons,
        figure_id
    from best_figures
    where metric_code = 'resident_population_yearend'
),

population_share as (
    select
        members.area_code,
        area_pop.persons / province_pop.persons as share,
        {{ list_of('area_pop.figure_id', 'province_pop.figure_id') }} as figure_ids
    from members
    inner join population as area_pop on members.area_code = area_pop.area_code
    inner join population as province_pop
        on members.province_code = province_pop.area_code
            and area_pop.year = province_pop.year
    qualify row_number() over (
            partition by members.area_code
            order by area_pop.year desc
        ) = 1
),

interpolated as (
    {{ interpolate_series('spine', 'known_share', 'linear') }}
),

final as (
    select
        spine.series_key as area_code,
        spine.year,
        case
            when reported_gdp.gdp_yuan is not null then reported_gdp.gdp_yuan
            when interpolated.value is not null then interpolated.value * province_gdp.gdp_yuan
            else population_share.share * priors.value * province_gdp.gdp_yuan
        end as gdp_yuan,
        case
            when reported_gdp.gdp_yuan is not null and not reported_gdp.is_restated then 'reported'
            else 'estimated'
        end as basis,
        case
            when reported_gdp.gdp_yuan is not null and reported_gdp.is_restated then 'restated_to_panel_boundary'
            when reported_gdp.gdp_yuan is not null then 'reported'
            when interpolated.value is not null then 'province_share_' || interpolated.fill_method
            when population_share.share is not null and priors.value is not null
                then 'population_share_x_prior_gdp_per_resident'
        end as method,
        case
            when reported_gdp.gdp_yuan is not null then {{ list_of('reported_gdp.figure_id') }}
            when interpolated.value is not null
                then {{ sorted_distinct_list(concat_lists('interpolated.figure_ids', 'province_gdp.figure_ids')) }}
            else {{ sorted_distinct_list(concat_lists('population_share.figure_ids', 'province_gdp.figure_ids')) }}
        end as figure_ids,
        case when interpolated.value is null then {{ list_of('priors.prior_id') }} else {{ empty_text_list() }} end
            as prior_ids,
        coalesce(panel_boundary.boundary_id, spine.series_key) as boundary_id,
        all_reported.reported_boundary_id,
        all_reported.gdp_reported_boundary_yuan,
        all_reported.boundary_note
    from spine
    inner join members on spine.series_key = members.area_code
    inner join province_gdp
        on members.province_code = province_gdp.area_code and spine.year = province_gdp.year
    left join usable_gdp as reported_gdp
        on spine.series_key = reported_gdp.area_code and spine.year = reported_gdp.year
    left join reported_gdp as all_reported
        on spine.series_key = all_reported.area_code and spine.year = all_reported.year
    left join panel_boundary on spine.series_key = panel_boundary.area_code
    left join interpolated on spine.series_key = interpolated.series_key and spine.year = interpolated.year
    left join population_share on spine.series_key = population_share.area_code
    left join priors on spine.series_key = priors.area_code
)

select * from final
