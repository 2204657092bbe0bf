-- One row per area (the two provinces and the eight members) x panel year: equipment
-- output in the provincial definition (the GB/T 4754 divisions without C39, see
-- dim_sector.in_provincial_equipment_definition), in yuan.
--   province: GDP x equipment intensity, the intensity (equipment / GDP) taken at the
--             anchor years of int_equipment_anchors, interpolated linearly between them
--             and carried flat outside; so the province reconciles to every anchor.
--   member:   its GDP x its province's intensity x a relative industrial intensity r:
--             r = (member's secondary-industry share of GDP) / (province's share) in
--             the latest year both are reported, else the prior of
--             seeds/estimation_priors.csv (prior_kind relative_industrial_intensity).

with

best_figures as (
    select * from {{ ref('int_indicator_candidates') }}
    where rank_in_key = 1 and subject is null
),

areas as (
    select * from {{ ref('stg_reference__areas') }}
),

province_gdp as (
    select * from {{ ref('int_province_gdp_panel') }}
),

member_gdp as (
    select * from {{ ref('int_area_gdp_panel') }}
),

anchors as (
    select * from {{ ref('int_equipment_anchors') }}
),

priors as (
    select * from {{ ref('stg_reference__estimation_priors') }}
    where prior_kind = 'relative_industrial_intensity'
),

spine as (
    select
        province_gdp.area_code as series_key,
        province_gdp.year
    from province_gdp
    inner join areas on province_gdp.area_code = areas.area_code and areas.cluster_role = 'parent'
),

known_intensity as (
    select
        anchors.area_code as series_key,
        anchors.year,
        anchors.equipment_yuan / province_gdp.gdp_yuan as value,
        {{ sorted_distinct_list(concat_lists('anchors.figure_ids', 'province_gdp.figure_ids')) }} as figure_ids
    from anchors
    inner join province_gdp on anchors.area_code = province_gdp.area_code and anchors.year = province_gdp.year
),

intensity as (
    {{ interpolate_series('spine', 'known_intensity', 'linear') }}
),

province_output as (
    select
        intensity.series_key as area_code,
        intensity.year,
        intensity.value as equipment_intensity,
        coalesce(anchors.equipment_yuan, intensity.value * province_gdp.gdp_yuan) as equipment_yuan,
        coalesce(anchors.basis, 'estimated') as basis,
        coalesce(anchors.method, 'gdp_x_intensity_' || intensity.fill_method) as method,
        cast(null as double) as relative_industrial_intensity,
        {{ sorted_distinct_list(concat_lists('intensity.figure_ids', 'province_gdp.figure_ids')) }} as figure_ids,
        cast({{ empty_text_list() }} as {{ text_list_type() }}) as prior_ids
    from intensity
    inner join province_gdp on intensity.series_key = province_gdp.area_code and intensity.year = province_gdp.year
    left join anchors on intensity.series_key = anchors.area_code and intensity.year = anchors.year
),

secondary_share as (
    -- The secondary industry's share of GDP, from a reported share or from value added / GDP.
    select
        area_code,
        year,
        value_base / 100 as share,
        {{ list_of('figure_id') }} as figure_ids
    from best_figures
    where metric_code = 'secondary_industry_share'
    union all
    select
        va.area_code,
        va.year,
        va.value_base / gdp.value_base as share,
        {{ list_of('va.figure_id', 'gdp.figure_id') }} as figure_ids
    from best_figures as va
    inner join best_figures as gdp
        on va.area_code = gdp.area_code and va.year = gdp.year and gdp.metric_code = 'gdp'
    where va.metric_code = 'secondary_industry_va'
        and not exists (
            select 1 from best_figures as s
            where s.area_code = va.area_code and s.year = va.year and s.metric_code = 'secondary_industry_share'
        )
),

relative_intensity as (
    select
        areas.area_code,
        own.share / province.share as r,
        {{ sort_list(concat_lists('own.figure_ids', 'province.figure_ids')) }} as figure_ids
    from areas
    inner join secondary_share as own on areas.area_code = own.area_code
    inner join secondary_share as province on areas.province_code = province.area_code and own.year = province.year
    where areas.cluster_role = 'member'
    qualify row_number() over (
            partition by areas.area_code
            order by own.year desc
        ) = 1
),

member_output as (
    select
        member_gdp.area_code,
        member_gdp.year,
        province_output.equipment_intensity,
        member_gdp.gdp_yuan * province_output.equipment_intensity
        * coalesce(relative_intensity.r, priors.value) as equipment_yuan,
        'estimated' as basis,
        case
            when relative_intensity.r is not null then 'gdp_x_province_intensity_x_reported_relative_intensity'
            else 'gdp_x_province_intensity_x_prior_relative_intensity'
        end as method,
        coalesce(relative_intensity.r, priors.value) as relative_industrial_intensity,
        {{ sorted_distinct_list(concat_lists(
            concat_lists('member_gdp.figure_ids', 'province_output.figure_ids'),
            'coalesce(relative_intensity.figure_ids, ' ~ empty_text_list() ~ ')'
        )) }} as figure_ids,
        case
            when relative_intensity.r is null then {{ append_to_list('member_gdp.prior_ids', 'priors.prior_id') }}
            else member_gdp.prior_ids
        end as prior_ids
    from member_gdp
    inner join areas on member_gdp.area_code = areas.area_code
    inner join province_output
        on areas.province_code = province_output.area_code and member_gdp.year = province_output.year
    left join relative_intensity on member_gdp.area_code = relative_intensity.area_code
    left join priors on member_gdp.area_code = priors.area_code
),

final as (
    select * from province_output
    union all
    select * from member_output
)

select * from final
