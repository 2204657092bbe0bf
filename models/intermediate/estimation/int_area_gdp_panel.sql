-- One row per member area x panel year: GDP in yuan.
-- Reported where the area's GDP is reported for the year. Otherwise the area's share of
-- its province's GDP is interpolated linearly between the years where both are known
-- and carried flat outside them. An area with no GDP figure in the panel years gets
-- share = its resident population share (latest year both are reported) x the prior
-- relative_gdp_per_resident of seeds/estimation_priors.csv.

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

reported_gdp as (
    select
        area_code,
        year,
        value_base as gdp_yuan,
        figure_id
    from best_figures
    where metric_code = 'gdp'
),

known_share as (
    select
        members.area_code as series_key,
        reported_gdp.year,
        reported_gdp.gdp_yuan / province_gdp.gdp_yuan as value,
        list_sort(list_distinct(list_append(province_gdp.figure_ids, reported_gdp.figure_id))) as figure_ids
    from members
    inner join reported_gdp on members.area_code = reported_gdp.area_code
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
        [area_pop.figure_id, province_pop.figure_id] as figure_ids
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
        case when reported_gdp.gdp_yuan is not null then 'reported' else 'estimated' end as basis,
        case
            when reported_gdp.gdp_yuan is not null then 'reported'
            when interpolated.value is not null then 'province_share_' || interpolated.fill_method
            when population_share.share is not null and priors.value is not null
                then 'population_share_x_prior_gdp_per_resident'
        end as method,
        case
            when reported_gdp.gdp_yuan is not null then [reported_gdp.figure_id]
            when interpolated.value is not null
                then list_sort(list_distinct(list_concat(interpolated.figure_ids, province_gdp.figure_ids)))
            else list_sort(list_distinct(list_concat(population_share.figure_ids, province_gdp.figure_ids)))
        end as figure_ids,
        case when interpolated.value is null then [priors.prior_id] else [] end as prior_ids
    from spine
    inner join members on spine.series_key = members.area_code
    inner join province_gdp
        on members.province_code = province_gdp.area_code and spine.year = province_gdp.year
    left join reported_gdp on spine.series_key = reported_gdp.area_code and spine.year = reported_gdp.year
    left join interpolated on spine.series_key = interpolated.series_key and spine.year = interpolated.year
    left join population_share on spine.series_key = population_share.area_code
    left join priors on spine.series_key = priors.area_code
)

select * from final
