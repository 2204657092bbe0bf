-- One row per prior cell (panel unit x division x panel year): what the constrained fit
-- rests on beyond the prior.
--   figure_ids:       the fitted figures whose sum includes the cell (at any level);
--   n_area_figures:   of those, the figures about the member itself;
--   is_distinguished: something says how this area stands in this division - a fitted
--                     figure on the member that isolates the division (it covers that
--                     division alone, or every division of the provincial definition but
--                     that one, as a total without automobiles isolates C36), a specialty
--                     claim of the news report, or a user figure. A figure on a group of
--                     divisions (C36 + C37) isolates none.

with

prior_cells as (
    select * from {{ ref('int_panel_prior_cells') }}
),

constraints as (
    select * from {{ ref('int_panel_constraints') }}
    where exclusion is null
),

terms as (
    select * from {{ ref('int_panel_constraint_terms') }}
),

audit as (
    select * from {{ ref('int_panel_fit_audit') }}
),

supplied as (
    select * from {{ ref('int_sector_output_supplied') }}
),

claims as (
    select * from {{ ref('stg_reference__area_specialties') }}
),

sectors as (
    select * from {{ ref('stg_reference__sectors') }}
),

provincial_divisions as (
    select count(*) as n_divisions from sectors
    where in_provincial_equipment_definition
),

cell_figures as (
    -- Fitted figures naming the cell, and whether one of them is about the member alone
    -- and names only some of its divisions.
    select
        terms.panel_unit,
        terms.sector_code,
        terms.year,
        {{ sorted_distinct_list_agg('constraints.figure_id') }}
            as figure_ids,
        count(distinct constraints.constraint_id) filter (where constraints.area_code = terms.panel_unit)
            as n_area_figures
    from terms
    inner join constraints on terms.constraint_id = constraints.constraint_id
    inner join audit on terms.constraint_id = audit.constraint_id and audit.status = 'fitted'
    group by all
),

fitted_member_figures as (
    select constraints.*
    from constraints
    inner join audit on constraints.constraint_id = audit.constraint_id and audit.status = 'fitted'
    where constraints.area_code in (
            select member_cells.panel_unit from prior_cells as member_cells
            where member_cells.unit_role = 'member'
        )
),

distinguished as (
    -- A figure on the member isolates a division when it covers that division alone, or
    -- every division of the provincial definition but that one (e.g. the total without
    -- automobiles isolates C36). A figure on a group of divisions (C36 + C37) isolates none.
    select
        area_code as panel_unit,
        {{ list_element('sector_codes', 1) }} as sector_code
    from fitted_member_figures
    where {{ list_length('sector_codes') }} = 1
    union
    select
        fitted_member_figures.area_code,
        sectors.sector_code
    from fitted_member_figures
    inner join sectors
        on sectors.in_provincial_equipment_definition
            and not {{ list_has('fitted_member_figures.sector_codes', 'sectors.sector_code') }}
    cross join provincial_divisions
    where {{ list_length('fitted_member_figures.sector_codes') }} = provincial_divisions.n_divisions - 1
    union
    select
        area_code,
        sector_code
    from claims
    union
    select
        area_code,
        sector_code
    from supplied
    where is_single_cell
),

final as (
    select
        prior_cells.panel_unit,
        prior_cells.sector_code,
        prior_cells.year,
        coalesce(cell_figures.figure_ids, {{ empty_text_list() }}) as figure_ids,
        coalesce(cell_figures.n_area_figures, 0) as n_area_figures,
        distinguished.panel_unit is not null as is_distinguished
    from prior_cells
    left join cell_figures
        on prior_cells.panel_unit = cell_figures.panel_unit
            and prior_cells.sector_code = cell_figures.sector_code
            and prior_cells.year = cell_figures.year
    left join distinguished
        on prior_cells.panel_unit = distinguished.panel_unit
            and prior_cells.sector_code = distinguished.sector_code
)

select * from final
