-- One row per province x year where its equipment output in the provincial definition
-- has a prior level: reported directly as an exact figure (Sichuan 2020), derived as the
-- two provinces' exact total minus the other's exact figure, or, for a province with
-- neither (Chongqing), the other province's exact level scaled by GDP and by the ratio of
-- the two provinces' reported secondary-industry shares of GDP in that year (estimated;
-- its uncertainty is prior province_equipment_level).
-- Only exact figures set a prior level. A lower or upper bound ('突破5840亿', '超1.4万亿')
-- says where the level is not, not where it is: it acts only as an inequality of the fit
-- (int_panel_constraints), so the prior never sits on a floor. Rounded, target and
-- low-reliability figures enter only the fit (softly) or its audit. Other scopes (above-scale
-- only, narrow) and quantities (revenue, value added, growth) are not anchors.

with

best_figures as (
    select * from {{ ref('int_indicator_candidates') }}
    where rank_in_key = 1
        and subject is null
        and scope = 'equipment_provincial_definition'
        and quantity = 'gross_output'
        and period_type = 'full_year'
        and base_unit = 'yuan'
        and value_qualifier = 'exact'
        and reliability != 'low'
),

provinces as (
    select area_code from {{ ref('stg_reference__areas') }}
    where cluster_role = 'parent'
),

secondary_share as (
    -- A province's secondary industry's share of GDP in a year, from reported exact figures.
    select
        va.area_code,
        va.year,
        va.value_base / gdp.value_base as share,
        {{ list_of('va.figure_id', 'gdp.figure_id') }} as figure_ids
    from {{ ref('int_indicator_candidates') }} as va
    inner join {{ ref('int_indicator_candidates') }} as gdp
        on va.area_code = gdp.area_code and va.year = gdp.year and gdp.metric_code = 'gdp' and gdp.rank_in_key = 1
    inner join provinces on va.area_code = provinces.area_code
    where va.metric_code = 'secondary_industry_va' and va.rank_in_key = 1 and va.subject is null
),

province_reported as (
    select
        best_figures.area_code,
        best_figures.year,
        best_figures.value_base as equipment_yuan,
        'reported' as basis,
        'reported' as method,
        {{ list_of('best_figures.figure_id') }} as figure_ids
    from best_figures
    inner join provinces on best_figures.area_code = provinces.area_code
),

two_province_totals as (
    select
        year,
        value_base,
        figure_id
    from best_figures
    where area_code = '{{ var("two_province_area_code") }}'
),

derived as (
    select
        provinces.area_code,
        totals.year,
        totals.value_base - other.equipment_yuan as equipment_yuan,
        'estimated' as basis,
        'two_province_total_minus_other_province' as method,
        {{ sort_list(append_to_list('other.figure_ids', 'totals.figure_id')) }} as figure_ids
    from two_province_totals as totals
    inner join province_reported as other on totals.year = other.year
    inner join provinces on other.area_code != provinces.area_code
    where not exists (
            select 1 from province_reported as own
            where own.area_code = provinces.area_code and own.year = totals.year
        )
),

known as (
    select * from province_reported
    union all
    select * from derived
),

scaled as (
    -- A province without any exact level: the other's, x GDP ratio x secondary-share ratio.
    select
        provinces.area_code,
        other.year,
        other.equipment_yuan * own_share.share / other_share.share
        * own_gdp.value_base / other_gdp.value_base as equipment_yuan,
        'estimated' as basis,
        'other_province_level_x_gdp_ratio_x_secondary_share_ratio' as method,
        {{ sorted_distinct_list(concat_lists(
            concat_lists('other.figure_ids', 'own_share.figure_ids'), 'other_share.figure_ids'
        )) }} as figure_ids
    from provinces
    inner join known as other on provinces.area_code != other.area_code
    inner join secondary_share as own_share
        on provinces.area_code = own_share.area_code and other.year = own_share.year
    inner join secondary_share as other_share
        on other.area_code = other_share.area_code and other.year = other_share.year
    inner join {{ ref('int_indicator_candidates') }} as own_gdp
        on provinces.area_code = own_gdp.area_code and other.year = own_gdp.year
            and own_gdp.metric_code = 'gdp' and own_gdp.rank_in_key = 1
    inner join {{ ref('int_indicator_candidates') }} as other_gdp
        on other.area_code = other_gdp.area_code and other.year = other_gdp.year
            and other_gdp.metric_code = 'gdp' and other_gdp.rank_in_key = 1
    where not exists (
            select 1 from known as own
            where own.area_code = provinces.area_code
        )
),

final as (
    select * from known
    union all
    select * from scaled
)

select * from final
