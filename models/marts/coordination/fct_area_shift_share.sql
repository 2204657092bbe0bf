-- One row per member area: the shift-share components of the fitted panel (draw 0 of int_shift_share_draws, which
-- defines them) for the change between var('shift_share_base_year') and var('shift_share_end_year'). Both years are
-- on the area's panel boundary (int_area_gdp_panel restates an older boundary's GDP, which the panel's prior scales
-- with); boundary_note says how the base year got there for an area whose boundary changed since the base year.

with

components as (
    select * from {{ ref('int_shift_share_draws') }}
    where draw_id = 0
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

final as (
    select
        components.area_code,
        components.base_year,
        components.end_year,
        components.output_base_yuan,
        components.output_end_yuan,
        components.change_yuan,
        components.national_share_yuan,
        components.industry_mix_yuan,
        components.regional_shift_yuan,
        components.reference,
        components.null_reason,
        components.estimated_input_share,
        {{ basis_from_inputs('components.estimated_input_share', 'components.has_synthetic_input') }} as basis,
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
