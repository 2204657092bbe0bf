-- One row per benchmark province (Jiangsu, Zhejiang) x metric x panel year where the
-- cluster side and the benchmark have values of the same scope. The cluster side is
-- Sichuan + Chongqing, the provinces the eight members belong to: the benchmarks are
-- provinces, so a province-level aggregate is the like-for-like comparison.
-- Today that is GDP (whole economy, current prices) from int_province_gdp_panel: levels
-- within one series vintage (col_series_vintage), reported years as reported, other
-- years estimated.
--   gap_ratio = cluster / benchmark (same year, same vintage);
--   growth on the previous year (growth_method):
--     nominal_within_vintage            V_t / V_t-1 - 1, both years of one vintage;
--     reported_real_growth_across_break the year's reported real growth (the cluster's:
--                                       the two provinces' rates weighted by their GDP
--                                       of the previous year), when the previous year is
--                                       of another vintage; NULL with null_reason when a
--                                       rate is not reported - a ratio of levels across
--                                       the census revision is not a growth rate;
--   growth_gap_pp = 100 * (cluster growth - benchmark growth);
--   cagr_*_since_start = (prod over the years after start of (1 + growth))^(1 / (t - start))
--     - 1, the yearly links chained across the break; NULL when a link is NULL;
--   cagr_*_within_vintage: the same from the first panel year of the row's vintage.
-- Metrics of the benchmarks that the cluster has in no matching scope are listed in
-- audit_benchmark_comparability instead.

with

gdp as (
    select * from {{ ref('int_province_gdp_panel') }}
),

areas as (
    select * from {{ ref('stg_reference__areas') }}
),

real_growth as (
    select
        area_code,
        year,
        value_base / 100 as growth,
        figure_id
    from {{ ref('int_indicator_candidates') }}
    where metric_code = 'gdp_real_growth' and subject is null and rank_in_key = 1
),

gdp_with_real as (
    select
        gdp.*,
        real_growth.growth as real_growth,
        real_growth.figure_id as real_growth_figure_id,
        lag(gdp.gdp_yuan) over (partition by gdp.area_code order by gdp.year) as previous_gdp_yuan
    from gdp
    left join real_growth on gdp.area_code = real_growth.area_code and gdp.year = real_growth.year
),

cluster_side as (
    select
        gdp.year,
        any_value(gdp.series_vintage) as series_vintage,
        sum(gdp.gdp_yuan) as cluster_value,
        count(*) as n_provinces,
        sum(case when gdp.basis <> 'reported' then gdp.gdp_yuan else 0 end) as cluster_estimated,
        -- Real growth of the two provinces together: their reported rates weighted by
        -- their GDP of the previous year; NULL unless both rates are reported.
        case
            when count(gdp.real_growth) = count(*)
                then sum(gdp.real_growth * gdp.previous_gdp_yuan) / sum(gdp.previous_gdp_yuan)
        end as cluster_real_growth,
        list_sort(flatten(list(gdp.figure_ids))) as figure_ids,
        list_sort(list(gdp.real_growth_figure_id) filter (where gdp.real_growth_figure_id is not null))
            as real_growth_figure_ids
    from gdp_with_real as gdp
    inner join areas on gdp.area_code = areas.area_code and areas.cluster_role = 'parent'
    group by gdp.year
),

benchmark_side as (
    select gdp.*
    from gdp_with_real as gdp
    inner join areas on gdp.area_code = areas.area_code and areas.cluster_role = 'benchmark'
),

paired as (
    select
        benchmark_side.area_code as benchmark_area_code,
        'gdp' as metric_code,
        'whole_economy' as scope,
        benchmark_side.year,
        benchmark_side.series_vintage,
        cluster_side.cluster_value,
        benchmark_side.gdp_yuan as benchmark_value,
        cluster_side.cluster_real_growth,
        benchmark_side.real_growth as benchmark_real_growth,
        cluster_side.cluster_estimated
        + case when benchmark_side.basis <> 'reported' then benchmark_side.gdp_yuan else 0 end
            as estimated_value,
        list_sort(list_concat(cluster_side.figure_ids, benchmark_side.figure_ids)) as figure_ids,
        list_concat(
            cluster_side.real_growth_figure_ids,
            case when benchmark_side.real_growth_figure_id is not null then [benchmark_side.real_growth_figure_id] else [] end
        ) as real_growth_figure_ids
    from benchmark_side
    inner join cluster_side
        on benchmark_side.year = cluster_side.year
            and cluster_side.n_provinces = 2
            and benchmark_side.series_vintage = cluster_side.series_vintage
),

with_previous as (
    select
        *,
        lag(cluster_value) over w as cluster_previous,
        lag(benchmark_value) over w as benchmark_previous,
        lag(series_vintage) over w as previous_vintage,
        lag(year) over w as previous_year,
        lag(estimated_value) over w as estimated_previous,
        lag(cluster_value + benchmark_value) over w as total_previous,
        first_value(year) over w as start_year,
        first_value(cluster_value) over w as cluster_start,
        first_value(benchmark_value) over w as benchmark_start
    from paired
    window w as (
        partition by benchmark_area_code, metric_code
        order by year
    )
),

links as (
    -- The yearly growth link of each side and how it was obtained.
    select
        *,
        previous_year is not null and previous_vintage <> series_vintage as vintage_break,
        case
            when previous_year is null then null
            when previous_vintage = series_vintage then 'nominal_within_vintage'
            when cluster_real_growth is not null and benchmark_real_growth is not null
                then 'reported_real_growth_across_break'
        end as growth_method,
        case
            when previous_year is null then null
            when previous_vintage = series_vintage then cluster_value / nullif(cluster_previous, 0) - 1
            when benchmark_real_growth is not null then cluster_real_growth
        end as cluster_growth,
        case
            when previous_year is null then null
            when previous_vintage = series_vintage then benchmark_value / nullif(benchmark_previous, 0) - 1
            when cluster_real_growth is not null then benchmark_real_growth
        end as benchmark_growth
    from with_previous
),

chained as (
    select
        *,
        -- Links since the start (the start row has none) and since the vintage's first year.
        count(cluster_growth) over w_all as n_links_since_start,
        sum(ln(1 + cluster_growth)) over w_all as cluster_log_since_start,
        sum(ln(1 + benchmark_growth)) over w_all as benchmark_log_since_start,
        sum(estimated_value) over w_all as estimated_since_start,
        sum(cluster_value + benchmark_value) over w_all as total_since_start,
        bool_or(vintage_break) over w_all as break_since_start,
        first_value(year) over w_vintage as vintage_start_year,
        first_value(cluster_value) over w_vintage as cluster_vintage_start,
        first_value(benchmark_value) over w_vintage as benchmark_vintage_start,
        first_value(estimated_value) over w_vintage as estimated_vintage_start,
        first_value(cluster_value + benchmark_value) over w_vintage as total_vintage_start,
        list(growth_method) filter (where growth_method is not null) over w_all as methods_since_start
    from links
    window
        w_all as (
            partition by benchmark_area_code, metric_code
            order by year
            rows between unbounded preceding and current row
        ),
        w_vintage as (
            partition by benchmark_area_code, metric_code, series_vintage
            order by year
            rows between unbounded preceding and current row
        )
),

with_cagr as (
    select
        *,
        -- Within one vintage the chained links telescope to V_t / V_start, computed so.
        -- Across a break the product of the links is exp(sum ln(1 + g)), rounded to 12
        -- decimals to drop the noise of exp and ln.
        case
            when year > start_year and not break_since_start
                then pow(cluster_value / cluster_start, 1.0 / (year - start_year)) - 1
            when year > start_year and n_links_since_start = year - start_year
                then pow(round(exp(cluster_log_since_start), 12), 1.0 / (year - start_year)) - 1
        end as cluster_cagr_since_start,
        case
            when year > start_year and not break_since_start
                then pow(benchmark_value / benchmark_start, 1.0 / (year - start_year)) - 1
            when year > start_year and n_links_since_start = year - start_year
                then pow(round(exp(benchmark_log_since_start), 12), 1.0 / (year - start_year)) - 1
        end as benchmark_cagr_since_start
    from chained
),

inputs_read as (
    -- The levels a row reads, estimated and all (col_estimated_input_share): the year's;
    -- the previous year's for growth; for a CAGR chained across the break every year
    -- since the start, else the first year of the row's vintage (which is the start when
    -- no break lies between).
    select
        *,
        case
            when cluster_cagr_since_start is not null and break_since_start then estimated_since_start
            else estimated_value
                + case when cluster_growth is not null then estimated_previous else 0 end
                + case
                    when vintage_start_year < case when cluster_growth is not null then previous_year else year end
                        then estimated_vintage_start
                    else 0
                end
        end as estimated_read,
        case
            when cluster_cagr_since_start is not null and break_since_start then total_since_start
            else cluster_value + benchmark_value
                + case when cluster_growth is not null then total_previous else 0 end
                + case
                    when vintage_start_year < case when cluster_growth is not null then previous_year else year end
                        then total_vintage_start
                    else 0
                end
        end as total_read
    from with_cagr
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
        case
            when year > vintage_start_year
                then pow(cluster_value / cluster_vintage_start, 1.0 / (year - vintage_start_year)) - 1
        end as cluster_cagr_within_vintage,
        case
            when year > vintage_start_year
                then pow(benchmark_value / benchmark_vintage_start, 1.0 / (year - vintage_start_year)) - 1
        end as benchmark_cagr_within_vintage,
        case
            when year = start_year then 'growth and CAGR need an earlier year'
            when vintage_break and growth_method is null
                then 'series break (' || previous_vintage || ' to ' || series_vintage || ') between '
                || previous_year || ' and ' || year || ': no reported real growth of '
                || case
                    when cluster_real_growth is null and benchmark_real_growth is null then 'either side'
                    when cluster_real_growth is null then 'both cluster provinces'
                    else 'the benchmark'
                end
                || ' for ' || year || ' to chain it'
            when cluster_cagr_since_start is null
                then 'CAGR since start: a yearly link since ' || start_year || ' is NULL (series break without reported real growth)'
            when benchmark_value = 0 then 'benchmark value is zero'
        end as null_reason,
        estimated_read / total_read as estimated_input_share,
        case when estimated_read > 0 then 'estimated' else 'reported' end as basis,
        array_to_string(
            list_sort(list_distinct(list_concat(
                figure_ids,
                case when growth_method = 'reported_real_growth_across_break' then real_growth_figure_ids else [] end
            ))),
            ';'
        ) as derived_from_figure_ids
    from inputs_read
)

select * from final
