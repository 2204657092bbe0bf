-- Sichuan + Chongqing against each benchmark province, GDP within one vintage; growth
-- across the 2018 census revision from reported real rates or NULL. A level backcast from a
-- reported real rate makes the growth on it real, labelled so; a CAGR never mixes real and
-- nominal links (the within-vintage CAGR starts at the first level that is no backcast).

with

gdp as (
    select
        *,
        lag(gdp_yuan) over (
            partition by area_code
            order by year
        ) as previous_gdp_yuan
    from {{ ref('int_province_gdp_panel') }}
),

cluster_side as (
    select
        gdp.year,
        {{ any_non_null('gdp.series_vintage') }} as series_vintage,
        sum(gdp.gdp_yuan) as cluster_value,
        count(*) as n_provinces,
        sum(case when gdp.basis <> 'reported' then gdp.gdp_yuan else 0 end) as cluster_estimated,
        coalesce(bool_or(gdp.method = 'backcast_with_reported_real_growth'), false) as cluster_backcast,
        case
            when count(gdp.real_growth) = count(*)
                then sum(gdp.real_growth * gdp.previous_gdp_yuan) / sum(gdp.previous_gdp_yuan)
        end as cluster_real_growth,
        {{ sort_list(flatten_list_agg('gdp.figure_ids')) }} as figure_ids,
        {{ list_agg('gdp.real_growth_figure_id') }} as real_growth_figure_ids
    from gdp
    inner join {{ ref('stg_reference__areas') }} as areas
        on gdp.area_code = areas.area_code and areas.cluster_role = 'parent'
    group by gdp.year
),

paired as (
    select
        gdp.area_code as benchmark_area_code,
        'gdp' as metric_code,
        'whole_economy' as scope,
        gdp.year,
        gdp.series_vintage,
        cluster_side.cluster_value,
        gdp.gdp_yuan as benchmark_value,
        cluster_side.cluster_real_growth,
        gdp.real_growth as benchmark_real_growth,
        cluster_side.cluster_backcast or coalesce(gdp.method = 'backcast_with_reported_real_growth', false)
            as is_backcast,
        gdp.series_vintage || case
            when cluster_side.cluster_backcast or gdp.method = 'backcast_with_reported_real_growth' then ':backcast'
            else ''
        end as level_series,
        cluster_side.cluster_estimated + case when gdp.basis <> 'reported' then gdp.gdp_yuan else 0 end
            as estimated_value,
        {{ concat_lists('cluster_side.figure_ids', 'gdp.figure_ids') }} as figure_ids,
        {{ append_to_list('cluster_side.real_growth_figure_ids', 'gdp.real_growth_figure_id') }}
            as real_growth_figure_ids
    from gdp
    inner join {{ ref('stg_reference__areas') }} as areas
        on gdp.area_code = areas.area_code and areas.cluster_role = 'benchmark'
    inner join cluster_side
        on gdp.year = cluster_side.year
            and cluster_side.n_provinces = 2
            and gdp.series_vintage = cluster_side.series_vintage
),

links as (
    select
        *,
        lag(year) over w as previous_year,
        lag(series_vintage) over w as previous_vintage,
        coalesce(lag(is_backcast) over w, false) as previous_backcast,
        lag(estimated_value) over w as estimated_previous,
        lag(cluster_value + benchmark_value) over w as total_previous,
        coalesce(lag(series_vintage) over w <> series_vintage, false) as vintage_break,
        first_value(year) over w as start_year,
        first_value(cluster_value) over w as cluster_start,
        first_value(benchmark_value) over w as benchmark_start,
        {{ gap_link_growth('cluster_value', 'cluster_real_growth', 'benchmark_real_growth') }} as cluster_growth,
        {{ gap_link_growth('benchmark_value', 'benchmark_real_growth', 'cluster_real_growth') }} as benchmark_growth
    from paired
    window w as (
        partition by benchmark_area_code, metric_code
        order by year
    )
),

chained as (
    select
        *,
        case
            when not vintage_break and previous_year is not null and previous_backcast then 'real_growth_via_backcast'
            when not vintage_break and previous_year is not null then 'nominal_within_vintage'
            when cluster_growth is not null then 'reported_real_growth_across_break'
        end as growth_method,
        -- Real links (across a break, or onto a backcast level) since the start, to keep CAGRs unmixed.
        count(case when vintage_break or previous_backcast then cluster_growth end) over w_all as n_real_links,
        count(cluster_growth) over w_all as n_links,
        sum(ln(1 + cluster_growth)) over w_all as cluster_log_links,
        sum(ln(1 + benchmark_growth)) over w_all as benchmark_log_links,
        sum(estimated_value) over w_all as estimated_since_start,
        sum(cluster_value + benchmark_value) over w_all as total_since_start,
        bool_or(vintage_break) over w_all as break_since_start,
        first_value(year) over w_vintage as vintage_start_year,
        first_value(cluster_value) over w_vintage as cluster_vintage_start,
        first_value(benchmark_value) over w_vintage as benchmark_vintage_start,
        first_value(estimated_value) over w_vintage as estimated_vintage_start,
        first_value(cluster_value + benchmark_value) over w_vintage as total_vintage_start
    from links
    window
        w_all as (
            partition by benchmark_area_code, metric_code
            order by year
        ),
        w_vintage as (
            partition by benchmark_area_code, metric_code, level_series
            order by year
        )
),

with_cagr as (
    select
        *,
        n_real_links > 0 and n_real_links < n_links as mixes_real_and_nominal,
        {{ gap_cagr_since_start('cluster_value', 'cluster_start', 'cluster_log_links') }} as cluster_cagr_since_start,
        {{ gap_cagr_since_start('benchmark_value', 'benchmark_start', 'benchmark_log_links') }}
            as benchmark_cagr_since_start,
        -- Levels read (col_estimated_input_share): the year's, the previous year's for growth,
        -- every year since the start for a CAGR chained across a break, else the vintage's first.
        case
            when year > start_year and break_since_start and n_links = year - start_year then estimated_since_start
            else estimated_value + case when cluster_growth is not null then estimated_previous else 0 end
                + case when vintage_start_year < coalesce(previous_year, year) then estimated_vintage_start else 0 end
        end / case
            when year > start_year and break_since_start and n_links = year - start_year then total_since_start
            else cluster_value + benchmark_value + case when cluster_growth is not null then total_previous else 0 end
                + case when vintage_start_year < coalesce(previous_year, year) then total_vintage_start else 0 end
        end as estimated_input_share
    from chained
),

final as (
    select
        benchmark_area_code,
        metric_code,
        scope,
        year,
        series_vintage,
        vintage_break,
        cluster_value,
        benchmark_value,
        'yuan' as unit,
        cluster_value / nullif(benchmark_value, 0) as gap_ratio,
        benchmark_value - cluster_value as gap_absolute,
        growth_method,
        cluster_growth,
        benchmark_growth,
        100 * (cluster_growth - benchmark_growth) as growth_gap_pp,
        start_year,
        cluster_cagr_since_start,
        benchmark_cagr_since_start,
        case
            when cluster_cagr_since_start is null then null
            when break_since_start then 'chained_across_break'
            else 'within_vintage'
        end as cagr_method,
        vintage_start_year,
        round(pow(cluster_value / cluster_vintage_start, 1.0e0 / nullif(year - vintage_start_year, 0)) - 1, 12)
            as cluster_cagr_within_vintage,
        round(pow(benchmark_value / benchmark_vintage_start, 1.0e0 / nullif(year - vintage_start_year, 0)) - 1, 12)
            as benchmark_cagr_within_vintage,
        case
            when year = start_year then 'growth and CAGR need an earlier year'
            when vintage_break and growth_method is null
                then 'series break (' || previous_vintage || ' to ' || series_vintage || ') between '
                    || previous_year || ' and ' || year || ': no reported real growth of '
                    || case when cluster_real_growth is null then 'a cluster province' else 'the benchmark' end
                    || ' for ' || year || ' to chain it'
            when mixes_real_and_nominal
                then 'CAGR since start: its links since ' || start_year || ' mix real and nominal growth'
            when cluster_cagr_since_start is null
                then 'CAGR since start: a yearly link since ' || start_year
                    || ' is NULL (series break without reported real growth)'
            when benchmark_value = 0 then 'benchmark value is zero'
        end as null_reason,
        estimated_input_share,
        case when estimated_input_share > 0 then 'estimated' else 'reported' end as basis,
        {{ list_to_string(sorted_distinct_list(concat_lists(
            'figure_ids', "case when growth_method = 'reported_real_growth_across_break' then real_growth_figure_ids end"
        )), ';') }} as derived_from_figure_ids
    from with_cagr
)

select * from final
