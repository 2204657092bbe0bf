-- One row per area (members and provinces) x GB/T 4754 division x panel year: the
-- estimate of int_sector_output_estimated, replaced cell by cell by the user's own
-- figures (int_sector_output_supplied, members only), which are then 'reported' with the
-- user's source.

with

estimated as (
    select * from {{ ref('int_sector_output_estimated') }}
),

supplied as (
    select * from {{ ref('int_sector_output_supplied') }}
),

areas as (
    select
        area_code,
        cluster_role
    from {{ ref('stg_reference__areas') }}
),

final as (
    select
        estimated.area_code,
        areas.cluster_role,
        estimated.sector_code,
        estimated.year,
        coalesce(supplied.output_value_yuan, estimated.output_value_yuan) as output_value_yuan,
        supplied.value_original as supplied_value_original,
        supplied.unit_original as supplied_unit_original,
        coalesce(supplied.basis, 'estimated') as basis,
        case when supplied.area_code is not null then 'user_supplied' else estimated.method end as method,
        supplied.area_code is not null or estimated.is_area_specific as is_area_specific,
        case when supplied.area_code is null then array_to_string(estimated.figure_ids, ';') end
            as derived_from_figure_ids,
        case when supplied.area_code is null then array_to_string(estimated.prior_ids, ';') end as prior_ids,
        case when supplied.area_code is null then array_to_string(estimated.specialty_ids, ';') end
            as specialty_ids,
        supplied.source as supplied_source
    from estimated
    inner join areas on estimated.area_code = areas.area_code
    left join supplied
        on estimated.area_code = supplied.area_code
            and estimated.sector_code = supplied.sector_code
            and estimated.year = supplied.year
)

select * from final
