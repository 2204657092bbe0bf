-- One row per member x division x panel year (int_sector_output_members; the method in the YAML).
-- A cell the enterprise microdata supply (method 'microdata') is published under the disclosure
-- control of the microdata marts (docs/microdata_layout.md, "Disclosure control"): when its
-- reporting enterprises fail the threshold or dominance rule, its value and interval are NULL and
-- null_reason says why. Reported and estimated cells are not microdata and stay as they are; the
-- prior (an estimate made before the microdata entered the fit) stays too.

with

members as (
    select * from {{ ref('int_sector_output_members') }}
),

microdata as (
    select * from {{ ref('int_microdata_sector_output') }}
),

checked as (
    select
        members.*,
        case when members.method = 'microdata' then microdata.disclosure_reason end as disclosure_reason
    from members
    left join microdata
        on
            members.area_code = microdata.area_code
            and members.sector_code = microdata.sector_code
            and members.year = microdata.year
),

final as (
    select
        area_code,
        sector_code,
        year,
        case when disclosure_reason is null then output_value_yuan end as output_value_yuan,
        case when disclosure_reason is null then supplied_value_original end as supplied_value_original,
        supplied_unit_original,
        basis,
        method,
        microdata_coverage_share,
        is_area_specific,
        derived_from_figure_ids,
        prior_ids,
        specialty_ids,
        supplied_source,
        case when disclosure_reason is null then output_p5_yuan end as output_p5_yuan,
        case when disclosure_reason is null then output_p50_yuan end as output_p50_yuan,
        case when disclosure_reason is null then output_p95_yuan end as output_p95_yuan,
        prior_value_yuan,
        coalesce(
            null_reason,
            case when disclosure_reason is not null
                    then concat('withheld by disclosure control of the enterprise microdata: ', disclosure_reason)
            end
        ) as null_reason,
        n_fitted_figures,
        n_area_figures
    from checked
)

select * from final
