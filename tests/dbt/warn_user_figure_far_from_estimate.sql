{{ config(severity='warn', store_failures=true, schema='audit') }}
-- A supplied cell far from the panel's own estimate of that cell (beyond the factor in
-- seeds/plausibility_bounds.csv, user_cell_vs_estimate_factor) may be right, but a planner
-- should look at it: printed as a warning in the build summary, never blocking.

with

supplied as (
    -- The user's own lines; microdata cells are checked against reported totals instead
    -- (audit_microdata_reconciliation).
    select * from {{ ref('int_sector_output_supplied') }}
    where origin = 'user_figure'
),

estimated as (
    select * from {{ ref('int_sector_output_estimated') }}
),

bound as (
    select
        lower_value,
        upper_value
    from {{ ref('stg_reference__plausibility_bounds') }}
    where bound_id = 'user_cell_vs_estimate_factor'
),

compared as (
    select
        supplied.supplied_file,
        supplied.supplied_line,
        supplied.area_code,
        supplied.sector_code,
        supplied.year,
        supplied.output_value_yuan,
        estimated.output_value_yuan as estimated_value_yuan,
        supplied.output_value_yuan / nullif(estimated.output_value_yuan, 0) as ratio_to_estimate,
        bound.lower_value,
        bound.upper_value
    from supplied
    inner join estimated
        on supplied.area_code = estimated.area_code
            and supplied.sector_code = estimated.sector_code
            and supplied.year = estimated.year
    cross join bound
)

select * from compared
where ratio_to_estimate > upper_value or ratio_to_estimate < lower_value
