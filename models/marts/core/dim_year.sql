-- Calendar years that any figure or the panel can refer to.
with

years as (
    select unnest(range(2000, 2031)) as year
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
