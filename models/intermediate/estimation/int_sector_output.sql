-- Gross output per area x division x panel year from the constrained fit (see the YAML). A member's cell that the
-- user supplied or whole-year enterprise microdata cover is fixed at that figure by a hard constraint, 'reported' (or
-- 'synthetic') with its source; any synthetic supplied figure makes every estimated cell 'synthetic'. C39 (no prior,
-- no figure): NULL with null_reason. is_area_specific: a user figure, a specialty claim or a fitted figure isolating
-- the division (int_panel_cell_lineage) speaks about this area; else its share is the province's prior mix.
-- derived_from_figure_ids: the prior's and fitted figures naming the cell. Provinces: members + rest, draw by draw.

with

fit as (
    select * from {{ ref('int_panel_fit_cells') }}
),

prior_cells as (
    select * from {{ ref('int_panel_prior_cells') }}
),

draws as (
    select * from {{ ref('int_panel_fit_draws') }}
),

lineage as (
    select * from {{ ref('int_panel_cell_lineage') }}
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

synthetic_in_fit as (
    -- The fit is one joint solve: a synthetic user figure in it moves every estimated cell.
    select count(*) > 0 as fit_uses_synthetic
    from {{ ref('int_sector_output_supplied') }}
    where basis = 'synthetic'
),

unit_provinces as (
    select distinct
        panel_unit,
        province_code
    from prior_cells
),

cells as (
    -- Every panel cell with its fit and lineage: the members' rows and the provinces' sums.
    select
        prior_cells.area_code,
        prior_cells.province_code,
        prior_cells.unit_role,
        prior_cells.sector_code,
        prior_cells.year,
        prior_cells.prior_ids,
        prior_cells.specialty_ids,
        {{ concat_lists('prior_cells.figure_ids', 'lineage.figure_ids') }} as figure_ids,
        lineage.figure_ids as fitted_figure_ids,
        lineage.n_area_figures,
        lineage.is_distinguished,
        fit.fitted_yuan,
        fit.p5_yuan,
        fit.p50_yuan,
        fit.p95_yuan,
        fit.prior_yuan,
        fit.null_reason
    from prior_cells
    inner join fit
        on prior_cells.panel_unit = fit.panel_unit
            and prior_cells.sector_code = fit.sector_code
            and prior_cells.year = fit.year
    inner join lineage
        on prior_cells.panel_unit = lineage.panel_unit
            and prior_cells.sector_code = lineage.sector_code
            and prior_cells.year = lineage.year
),

member_rows as (
    select
        cells.area_code,
        'member' as cluster_role,
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
        coalesce(supplied.basis, case when synthetic_in_fit.fit_uses_synthetic then 'synthetic' else 'estimated' end)
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
    cross join synthetic_in_fit
    where cells.unit_role = 'member'
),

province_draws as (
    select
        unit_provinces.province_code,
        draws.sector_code,
        draws.year,
        draws.draw_id,
        sum(draws.value_yuan) as value_yuan
    from draws
    inner join unit_provinces on draws.panel_unit = unit_provinces.panel_unit
    group by all
),

province_intervals as (
    select
        province_code,
        sector_code,
        year,
        {{ continuous_quantile('value_yuan', 0.05) }} as p5,
        {{ continuous_quantile('value_yuan', 0.50) }} as p50,
        {{ continuous_quantile('value_yuan', 0.95) }} as p95
    from province_draws
    group by all
),

province_rows as (
    select
        cells.province_code as area_code,
        'parent' as cluster_role,
        cells.sector_code,
        cells.year,
        case when bool_and(cells.fitted_yuan is not null) then sum(cells.fitted_yuan) end as output_value_yuan,
        any_value(province_intervals.p5) as output_p5_yuan,
        any_value(province_intervals.p50) as output_p50_yuan,
        any_value(province_intervals.p95) as output_p95_yuan,
        sum(cells.prior_yuan) as prior_value_yuan,
        case when bool_or(cells.fitted_yuan is null) then {{ any_non_null('cells.null_reason') }} end as null_reason,
        cast(null as double) as supplied_value_original,
        cast(null as string) as supplied_unit_original,
        case when any_value(synthetic_in_fit.fit_uses_synthetic) then 'synthetic' else 'estimated' end as basis,
        case when bool_or(cells.fitted_yuan is null) then 'no_estimate' else 'constrained_fit' end as method,
        cast(null as double) as microdata_coverage_share,
        bool_and(cells.fitted_yuan is not null) as is_area_specific,
        case when bool_and(cells.fitted_yuan is not null) then
                {{ list_to_string(sorted_distinct_list(flatten_list_agg('cells.figure_ids')), ';') }}
        end as derived_from_figure_ids,
        case when bool_and(cells.fitted_yuan is not null) then
                {{ list_to_string(sorted_distinct_list(flatten_list_agg('cells.prior_ids')), ';') }}
        end as prior_ids,
        cast(null as string) as specialty_ids,
        cast(null as string) as supplied_source,
        cast({{ list_length(distinct_list(flatten_list_agg("cells.fitted_figure_ids"))) }} as integer)
            as n_fitted_figures,
        cast(null as integer) as n_area_figures
    from cells
    left join province_intervals
        on cells.province_code = province_intervals.province_code
            and cells.sector_code = province_intervals.sector_code
            and cells.year = province_intervals.year
    cross join synthetic_in_fit
    group by cells.province_code, cells.sector_code, cells.year
),

final as (
    select * from member_rows
    union all
    select * from province_rows
)

select * from final
