-- One row per subsystem (Sichuan U1, Chongqing U2) x indicator x panel year: the raw
-- indicator, its value normalised by the largest value of that indicator over both
-- subsystems and all panel years (so it lies in (0, 1] and no year is forced to 0),
-- and its weight (seeds/coupling_indicators.csv). The normalisation ties every year to
-- the year of the maximum, so the mart counts estimated inputs over the whole series.
-- gdp_index divides by the first year's GDP: from 2019 a level on the 2018 census base by
-- a pre-revision one (col_series_vintage); crosses_vintage_break flags those rows (no
-- reported real growth of Chongqing for 2019 chains them).

with

gdp as (
    select * from {{ ref('int_province_gdp_panel') }}
),

equipment as (
    -- The provinces' equipment output in their own definition (all divisions but C39),
    -- from the fitted panel.
    select
        output.area_code,
        output.year,
        sum(output.output_value_yuan) as equipment_yuan,
        case when bool_and(output.basis = 'reported') then 'reported' else 'estimated' end as basis
    from {{ ref('int_sector_output_provinces') }} as output
    inner join {{ ref('stg_reference__sectors') }} as sectors
        on output.sector_code = sectors.sector_code and sectors.in_provincial_equipment_definition
    group by output.area_code, output.year
),

subsystems as (
    select * from {{ ref('stg_reference__coupling_subsystems') }}
),

indicators as (
    select * from {{ ref('stg_reference__coupling_indicators') }}
),

yearly as (
    select
        subsystems.subsystem,
        subsystems.area_code,
        gdp.year,
        gdp.gdp_yuan,
        equipment.equipment_yuan,
        first_value(gdp.gdp_yuan) over (
            partition by subsystems.area_code
            order by gdp.year
        ) as gdp_first_year,
        first_value(equipment.equipment_yuan)
            over (
                partition by subsystems.area_code
                order by gdp.year
            )
            as equipment_first_year,
        gdp.basis <> 'reported' or equipment.basis <> 'reported' as year_estimated,
        gdp.series_vintage <> first_value(gdp.series_vintage) over (
            partition by subsystems.area_code
            order by gdp.year
        ) as gdp_crosses_break
    from subsystems
    inner join gdp on subsystems.area_code = gdp.area_code
    inner join equipment on subsystems.area_code = equipment.area_code and gdp.year = equipment.year
),

raw as (
    select
        subsystem,
        area_code,
        year,
        'gdp_index' as indicator_code,
        gdp_yuan / gdp_first_year as raw_value,
        year_estimated or first_value(year_estimated) over (
            partition by area_code
            order by year
        ) as raw_is_estimated,
        gdp_crosses_break as crosses_vintage_break
    from yearly
    union all
    select
        subsystem,
        area_code,
        year,
        'equipment_index' as indicator_code,
        equipment_yuan / equipment_first_year as raw_value,
        year_estimated or first_value(year_estimated) over (
            partition by area_code
            order by year
        ) as raw_is_estimated,
        false as crosses_vintage_break
    from yearly
    union all
    select
        subsystem,
        area_code,
        year,
        'equipment_intensity' as indicator_code,
        equipment_yuan / gdp_yuan as raw_value,
        year_estimated as raw_is_estimated,
        false as crosses_vintage_break
    from yearly
),

final as (
    select
        raw.subsystem,
        raw.area_code,
        raw.year,
        raw.indicator_code,
        raw.raw_value,
        raw.raw_value / max(raw.raw_value) over (partition by raw.indicator_code) as normalised_value,
        indicators.weight,
        -- An index also rests on its first year, which it divides by.
        raw.raw_is_estimated,
        -- Every normalised value also rests on the series maximum it is divided by.
        {{ arg_max_value('raw.raw_is_estimated', 'raw.raw_value') }} over (partition by raw.indicator_code)
            as max_is_estimated,
        raw.crosses_vintage_break
    from raw
    inner join indicators on raw.indicator_code = indicators.indicator_code
)

select * from final
