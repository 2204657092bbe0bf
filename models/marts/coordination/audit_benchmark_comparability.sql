-- One row per reported figure of a benchmark province (Jiangsu, Zhejiang): can the
-- cluster (Sichuan + Chongqing) be compared with it, and if not, why not.

with

figures as (
    select * from {{ ref('fct_reported_figures') }}
),

areas as (
    select * from {{ ref('dim_area') }}
),

benchmark_figures as (
    select figures.*
    from figures
    inner join areas on figures.area_code = areas.area_code and areas.cluster_role = 'benchmark'
    where figures.year is not null and figures.measure_kind <> 'code'
),

-- Cluster coverage: the two provinces together (var two_province_area_code) or both
-- provinces (cluster_role 'parent') separately.
cluster_metric_years as (
    select
        figures.metric_code,
        figures.scope,
        figures.year,
        count(distinct figures.area_code) as n_sides,
        {{ list_agg('figures.figure_id') }} as figure_ids
    from figures
    inner join areas on figures.area_code = areas.area_code and areas.cluster_role = 'parent'
    group by all
    union all
    select
        metric_code,
        scope,
        year,
        2 as n_sides,
        {{ list_agg('figure_id') }} as figure_ids
    from figures
    where area_code = '{{ var("two_province_area_code") }}'
    group by all
),

-- What the cluster covers, per metric and year, per metric, per scope and year, per scope
-- (joined to each benchmark figure; Spark has no EXISTS subquery in a select list).
metric_year_coverage as (
    select
        metric_code,
        year,
        bool_or(n_sides = 2) as has_both_sides
    from cluster_metric_years
    group by metric_code, year
),

metric_coverage as (
    select distinct metric_code from cluster_metric_years
),

scope_year_coverage as (
    select distinct
        scope,
        year
    from cluster_metric_years
),

scope_coverage as (
    select
        scope,
        {{ sorted_distinct_string_agg("metric_code || ' ' || year", "'; '") }} as cluster_figures_of_same_scope
    from cluster_metric_years
    group by scope
),

final as (
    select
        b.figure_id as benchmark_figure_id,
        b.area_code as benchmark_area_code,
        b.metric_code,
        b.scope,
        b.year,
        case
            when same_metric_year.has_both_sides then 'comparable'
            when same_metric_year.metric_code is not null then 'only_one_cluster_province_reports_it'
            when same_metric.metric_code is not null then 'cluster_reports_it_in_other_years'
            when same_scope_year.scope is not null then 'cluster_has_same_scope_other_metric'
            else 'no_cluster_figure_of_this_scope'
        end as comparability,
        same_scope.cluster_figures_of_same_scope,
        b.metric_code = 'gdp'
        and b.year between {{ var('panel_start_year') }} and {{ var('panel_end_year') }} as in_fct_benchmark_gap,
        case
            when b.measure_kind in ('real_growth', 'nominal_growth', 'average_growth', 'share', 'per_capita')
                then 'a rate: the two provinces cannot be added, compare them one by one'
        end as note
    from benchmark_figures as b
    left join metric_year_coverage as same_metric_year
        on b.metric_code = same_metric_year.metric_code and b.year = same_metric_year.year
    left join metric_coverage as same_metric on b.metric_code = same_metric.metric_code
    left join scope_year_coverage as same_scope_year
        on b.scope = same_scope_year.scope and b.year = same_scope_year.year
    left join scope_coverage as same_scope on b.scope = same_scope.scope
)

select * from final
