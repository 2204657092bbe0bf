-- One row per member area x boundary version since 2015 (slowly changing dimension of
-- type 2, seeds/area_boundaries.csv): validity dates, the statistical years the version
-- covers, what changed, and the source's words. A figure's boundary_id
-- (fct_reported_figures) points here; an area of dim_area without a row here has had
-- one boundary (its code is its boundary_id).

with

boundaries as (
    select * from {{ ref('stg_reference__area_boundaries') }}
),

final as (
    select
        boundary_id,
        area_code,
        valid_from,
        valid_to,
        first_statistical_year,
        last_statistical_year,
        valid_to is null as is_current,
        change_kind,
        counterpart_area_code,
        transfer_unit_name,
        transfer_year,
        transfer_gdp_value as transfer_gdp_original,
        transfer_gdp_unit as transfer_gdp_unit_original,
        transfer_gdp_yuan,
        restatement_sign,
        description,
        source_url,
        quote,
        case when transfer_gdp_value is not null then 'reported' end as transfer_gdp_basis
    from boundaries
)

select * from final
