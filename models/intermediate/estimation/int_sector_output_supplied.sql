-- One row per figure the user supplied: the value converted to yuan
-- (seeds/unit_conversions.csv), the divisions it sums, and the file and line it was read
-- from. Every figure is a hard constraint of the panel fit (int_panel_constraints).
--   user_figure (`chengyu build --sector-output PATH`): a figure of one division at a member
--     area covers one cell, which it replaces (is_single_cell); a figure of a province, of
--     several divisions ('C36+C37') or of the whole provincial equipment definition
--     ('equipment') constrains the sum of the cells it covers. A figure of enterprises above
--     designated size (scope 'above_scale', 规模以上) replaces nothing: it is a lower bound
--     of the cells' output (int_panel_constraints).
--   microdata (`chengyu build --microdata DIR`): a member's panel division in a year the
--     enterprise reports cover whole (int_microdata_sector_output, coverage_share = 1)
--     replaces that cell; a user figure for the same cell takes precedence (it is the
--     user's explicit statement about that one cell).
-- Without either: no rows.

with

supplied as (
    select * from {{ ref('stg_inputs__user_sector_output') }}
),

files as (
    select * from {{ ref('stg_inputs__load_audit') }}
    where kind = 'sector_output'
),

units as (
    select * from {{ ref('stg_reference__unit_conversions') }}
),

areas as (
    select * from {{ ref('stg_reference__areas') }}
),

microdata as (
    select * from {{ ref('int_microdata_sector_output') }}
),

equipment as (
    select
        {{ sorted_list_agg('sector_code') }} as sector_codes
    from {{ ref('stg_reference__sectors') }}
    where in_provincial_equipment_definition
),

user_figures as (
    select
        'user_figure' as origin,
        supplied.area_code,
        supplied.sector_code,
        case
            when supplied.sector_code = 'equipment' then equipment.sector_codes
            else {{ sort_list(split_text('supplied.sector_code', '+')) }}
        end as sector_codes,
        areas.cluster_role = 'member' and supplied.sector_code not like '%+%'
        and supplied.sector_code <> 'equipment' and supplied.scope = 'all' as is_single_cell,
        supplied.scope,
        supplied.year,
        supplied.value_original,
        supplied.unit_original,
        round(supplied.value_original * units.factor_to_base, 2) as output_value_yuan,
        supplied.measure,
        supplied.source,
        supplied.basis,
        files.file as supplied_file,
        files.sha256 as supplied_file_sha256,
        supplied.supplied_line
    from supplied
    left join units on supplied.unit_original = units.unit_token
    left join areas on supplied.area_code = areas.area_code
    cross join equipment
    left join files on true
),

microdata_cells as (
    select
        'microdata' as origin,
        microdata.area_code,
        microdata.sector_code,
        {{ list_of('microdata.sector_code') }} as sector_codes,
        true as is_single_cell,
        'all' as scope,
        microdata.year,
        cast(microdata.output_value_yuan as double) as value_original,
        '元' as unit_original,
        cast(microdata.output_value_yuan as double) as output_value_yuan,
        'gross_output' as measure,
        'enterprise microdata: ' || microdata.n_enterprises || ' enterprises ('
        || microdata.n_above_scale_enterprises || ' above scale), 12 months' as source,
        microdata.basis,
        microdata.source_files as supplied_file,
        cast(null as string) as supplied_file_sha256,
        cast(null as bigint) as supplied_line
    from microdata
    where
        microdata.area_group = 'member'
        and microdata.in_panel
        and microdata.coverage_share = 1
        and microdata.year between {{ var('panel_start_year') }} and {{ var('panel_end_year') }}
        and not exists (
            select 1 from user_figures
            where
                user_figures.is_single_cell
                and user_figures.area_code = microdata.area_code
                and user_figures.sector_code = microdata.sector_code
                and user_figures.year = microdata.year
        )
),

final as (
    select * from user_figures
    union all
    select * from microdata_cells
)

select * from final
