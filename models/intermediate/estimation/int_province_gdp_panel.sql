-- One row per province (the two cluster provinces and the two benchmarks) x panel year:
-- GDP in yuan, within one series vintage (col_series_vintage). A panel year belongs to
-- the vintage its figures are released in: years up to var('census_2018_last_old_year')
-- (2018) to before_2018_census, later years to census_2018_base. Only figures of the
-- year's vintage are used, so a level is never interpolated across the census revision:
--   * reported where a best value of the year's vintage exists;
--   * between two reported years of the same vintage interpolated at a constant growth
--     rate (log-linear);
--   * before the first reported year of its vintage, backcast from that year with the
--     reported real growth rates of the years in between (method
--     backcast_with_reported_real_growth: L_y = L_first / prod (1 + r_t), t = y+1..first;
--     it ignores the price change of those years, so the level is estimated);
--   * otherwise carried flat from the nearest year of its vintage.
-- real_growth: the year's reported real growth (a fraction), if any.

with

candidates as (
    select * from {{ ref('int_indicator_candidates') }}
    where metric_code in ('gdp', 'gdp_real_growth') and subject is null
),

provinces as (
    select area_code from {{ ref('stg_reference__areas') }}
    where cluster_role in ('parent', 'benchmark')
),

years as (
    -- Spark allows no expression around a generator: the cast is outside.
    select cast(year as integer) as year
    from (
        select {{ integer_series(var('panel_start_year'), var('panel_end_year')) }} as year
    ) as series
),

year_vintage as (
    select
        year,
        case
            when year <= {{ var('census_2018_last_old_year') }} then 'before_2018_census'
            else 'census_2018_base'
        end as series_vintage
    from years
),

spine as (
    select
        provinces.area_code || '|' || year_vintage.series_vintage as series_key,
        provinces.area_code,
        year_vintage.year,
        year_vintage.series_vintage
    from provinces cross join year_vintage
),

-- The best figure of the year among those of the year's vintage.
known as (
    select
        candidates.area_code || '|' || candidates.series_vintage as series_key,
        candidates.year,
        candidates.value_base as value,
        {{ list_of('candidates.figure_id') }} as figure_ids
    from candidates
    inner join year_vintage
        on candidates.year = year_vintage.year and candidates.series_vintage = year_vintage.series_vintage
    where candidates.metric_code = 'gdp'
    qualify row_number() over (
            partition by candidates.area_code, candidates.year
            order by candidates.rank_in_key
        ) = 1
),

real_growth as (
    select
        area_code,
        year,
        value_base as growth_pct,
        figure_id
    from candidates
    where metric_code = 'gdp_real_growth' and rank_in_key = 1
),

filled as (
    {{ interpolate_series('spine', 'known', 'log_linear') }}
),

first_known as (
    select
        series_key,
        min(year) as first_year,
        {{ arg_min_value('value', 'year') }} as first_value,
        {{ arg_min_value('figure_ids', 'year') }} as first_figure_ids
    from known
    group by series_key
),

backcast as (
    -- Years before the first reported year of their vintage, where every year from the
    -- next one to that first year has a reported real growth rate.
    select
        spine.series_key,
        spine.year,
        {{ any_non_null('first_known.first_value') }} / exp(sum(ln(1 + real_growth.growth_pct / 100))) as value,
        {{ sort_list(concat_lists(any_non_null('first_known.first_figure_ids'), list_agg('real_growth.figure_id'))) }}
            as figure_ids
    from spine
    inner join first_known on spine.series_key = first_known.series_key and spine.year < first_known.first_year
    inner join real_growth
        on spine.area_code = real_growth.area_code
            and spine.year < real_growth.year
            and first_known.first_year >= real_growth.year
    group by spine.series_key, spine.year
    having count(*) = {{ any_non_null('first_known.first_year') }} - spine.year
),

final as (
    select
        spine.area_code,
        spine.year,
        spine.series_vintage,
        coalesce(backcast.value, filled.value) as gdp_yuan,
        case filled.fill_method when 'reported' then 'reported' else 'estimated' end as basis,
        case when backcast.value is not null then 'backcast_with_reported_real_growth' else filled.fill_method end
            as method,
        coalesce(backcast.figure_ids, filled.figure_ids) as figure_ids,
        real_growth.growth_pct / 100 as real_growth,
        real_growth.figure_id as real_growth_figure_id
    from spine
    inner join filled on spine.series_key = filled.series_key and spine.year = filled.year
    left join backcast on spine.series_key = backcast.series_key and spine.year = backcast.year
    left join real_growth on spine.area_code = real_growth.area_code and spine.year = real_growth.year
)

select * from final
