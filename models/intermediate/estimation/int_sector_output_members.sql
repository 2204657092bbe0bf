-- One row per member x division x panel year: gross output from the constrained fit (int_sector_output_cells, see
-- the YAML). A member's cell that the user supplied or whole-year enterprise microdata cover is fixed at that figure
-- by a hard constraint, 'reported' (or 'synthetic') with its source; any synthetic supplied figure makes every
-- estimated cell 'synthetic'. C39 (no prior, no figure): NULL with null_reason. is_area_specific: a user figure, a
-- specialty claim or a fitted figure isolating the division (int_panel_cell_lineage) speaks about this area; else its
-- share is the province's prior mix. derived_from_figure_ids: the prior's and fitted figures naming the cell.

with

cells as (
    select * from {{ ref('int_sector_output_cells') }}
    where unit_role = 'member'
),

supplied as (
    select * from {{ ref('int_sector_output_supplied') }}
    where is_single_cell
),

microdata as (
    -- How much of the cell's year the enterprise microdata cover (whole years replace it).
    select * from {{ ref('int_microdata_sector_output') }}
    where area_group = 'member'
),

final as (
    select
        cells.area_code,
        cells.sector_code,
        cells.year,
        cells.fitted_yuan as output_value_yuan,
        cells.p5_yuan as output_p5_yuan,
        cells.p50_yuan as output_p50_yuan,
        cells.p95_yuan as output_p95_yuan,
        cells.prior_yuan as prior_value_yuan,
        cells.null_reason,
        supplied.value_original as supplied_value_original,
        supplied.unit_original as supplied_unit_original,
        coalesce(supplied.basis, case when cells.fit_uses_synthetic then 'synthetic' else 'estimated' end)
            as basis,
        case
            when supplied.origin = 'microdata' then 'microdata'
            when supplied.area_code is not null then 'user_supplied'
            when cells.fitted_yuan is null then 'no_estimate'
            else 'constrained_fit'
        end as method,
        coalesce(microdata.coverage_share, 0) as microdata_coverage_share,
        supplied.area_code is not null
        or (cells.fitted_yuan is not null and cells.is_distinguished) as is_area_specific,
        case when supplied.area_code is null and cells.fitted_yuan is not null then
                {{ list_to_string(sorted_distinct_list('cells.figure_ids'), ';') }}
        end as derived_from_figure_ids,
        case when supplied.area_code is null and cells.fitted_yuan is not null
                then {{ list_to_string('cells.prior_ids', ';') }}
        end as prior_ids,
        case when supplied.area_code is null and cells.fitted_yuan is not null
                then {{ list_to_string('cells.specialty_ids', ';') }}
        end as specialty_ids,
        supplied.source as supplied_source,
        cast({{ list_length('cells.fitted_figure_ids') }} as integer) as n_fitted_figures,
        cast(cells.n_area_figures as integer) as n_area_figures
    from cells
    left join supplied
        on cells.area_code = supplied.area_code
            and cells.sector_code = supplied.sector_code
            and cells.year = supplied.year
    left join microdata
        on cells.area_code = microdata.area_code
            and cells.sector_code = microdata.sector_code
            and cells.year = microdata.year
)

select * from final
