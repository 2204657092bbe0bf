-- Calendar years that any figure or the panel can refer to: the figure year range of
-- seeds/plausibility_bounds.csv (figure_year_range), the same range the input reader
-- accepts a figure's year in.
with

year_range as (
    select
        cast(lower_value as integer) as first_year,
        cast(upper_value as integer) as last_year
    from {{ ref('stg_reference__plausibility_bounds') }}
    where bound_id = 'figure_year_range'
),

years as (
    select {{ integer_series('first_year', 'last_year') }} as year
    from year_range
),

final as (
    select
        cast(year as integer) as year,
        year between {{ var('panel_start_year') }} and {{ var('panel_end_year') }} as is_panel_year,
        case
            when year between 2011 and 2015 then '12th'
            when year between 2016 and 2020 then '13th'
            when year between 2021 and 2025 then '14th'
            when year between 2026 and 2030 then '15th'
        end as five_year_plan
    from years
)

select * from final
