-- One row per benchmark province (Jiangsu, Zhejiang) x metric x panel year where the
-- cluster side and the benchmark have values of the same scope. The cluster side is
-- Sichuan + Chongqing, the provinces the eight members belong to: the benchmarks are
-- provinces, so a province-level aggregate is the like-for-like comparison.
-- Today that is GDP (whole economy, current prices): reported years as reported, other
-- years from the interpolated province GDP panel (then basis 'estimated').
--   gap_ratio = cluster / benchmark; growth_gap_pp = cluster growth - benchmark growth
--   (nominal, on the previous year); cagr_* = (V_t / V_start)^(1 / (t - start)) - 1.
-- Metrics of the benchmarks that the cluster has in no matching scope are listed in
-- audit_benchmark_comparability instead.

with

gdp as (
    select * from {{ ref('int_province_gdp_panel') }}
),

areas as (
    select * from {{ ref('stg_reference__areas') }}
),

cluster_side as (
    select
        gdp.year,
        sum(gdp.gdp_yuan) as cluster_value,
        count(*) as n_provinces,
        sum(case when gdp.basis <> 'reported' then gdp.gdp_yuan else 0 end) as cluster_estimated,
        list_sort(flatten(list(gdp.figure_ids))) as figure_ids
    from gdp
    inner join areas on gdp.area_code = areas.area_code and areas.cluster_role = 'parent'
    group by gdp.year
),

benchmark_side as (
    select gdp.*
    from gdp
    inner join areas on gdp.area_code = areas.area_code and areas.cluster_role = 'benchmark'
),

paired as (
    select
        benchmark_side.area_code as benchmark_area_code,
        'gdp' as metric_code,
        'whole_economy' as scope,
        benchmark_side.year,
        cluster_side.cluster_value,
        benchmark_side.gdp_yuan as benchmark_value,
        cluster_side.cluster_estimated
        + case when benchmark_side.basis <> 'reported' then benchmark_side.gdp_yuan else 0 end
            as estimated_value,
        list_sort(list_concat(cluster_side.figure_ids, benchmark_side.figure_ids)) as figure_ids
    from benchmark_side
    inner join cluster_side on benchmark_side.year = cluster_side.year and cluster_side.n_provinces = 2
),

with_history as (
    select
        *,
        lag(cluster_value) over w as cluster_previous,
        lag(benchmark_value) over w as benchmark_previous,
        first_value(cluster_value) over w as cluster_start,
        first_value(benchmark_value) over w as benchmark_start,
        first_value(year) over w as start_year,
        lag(year) over w as previous_year,
        lag(estimated_value) over w as estimated_previous,
        lag(cluster_value + benchmark_value) over w as total_previous,
        first_value(estimated_value) over w as estimated_start,
        first_value(cluster_value + benchmark_value) over w as total_start
    from paired
    window w as (
        partition by benchmark_area_code, metric_code
        order by year
    )
),

final as (
    select
        benchmark_area_code,
        metric_code,
        scope,
        year,
        cluster_value,
        benchmark_value,
        'yuan' as unit,
        cluster_value / nullif(benchmark_value, 0) as gap_ratio,
        benchmark_value - cluster_value as gap_absolute,
        cluster_value / nullif(cluster_previous, 0) - 1 as cluster_growth,
        benchmark_value / nullif(benchmark_previous, 0) - 1 as benchmark_growth,
        100 * ((cluster_value / nullif(cluster_previous, 0)) - (benchmark_value / nullif(benchmark_previous, 0)))
            as growth_gap_pp,
        start_year,
        case when year > start_year then pow(cluster_value / cluster_start, 1.0 / (year - start_year)) - 1 end
            as cluster_cagr_since_start,
        case when year > start_year then pow(benchmark_value / benchmark_start, 1.0 / (year - start_year)) - 1 end
            as benchmark_cagr_since_start,
        case
            when year = start_year then 'growth and CAGR need an earlier year'
            when benchmark_value = 0 then 'benchmark value is zero'
        end as null_reason,
        -- A row reads the year's values, the previous year's (growth) and the start year's
        -- (CAGR): it is estimated when any of them is, weighted by value
        -- (col_estimated_input_share).
        (
            estimated_value + coalesce(estimated_previous, 0)
            + case when start_year < coalesce(previous_year, year) then estimated_start else 0 end
        ) / (
            cluster_value + benchmark_value + coalesce(total_previous, 0)
            + case when start_year < coalesce(previous_year, year) then total_start else 0 end
        ) as estimated_input_share,
        case
            when
                estimated_value + coalesce(estimated_previous, 0)
                + case when start_year < coalesce(previous_year, year) then estimated_start else 0 end > 0
                then 'estimated'
            else 'reported'
        end as basis,
        array_to_string(figure_ids, ';') as derived_from_figure_ids
    from with_history
)

select * from final
