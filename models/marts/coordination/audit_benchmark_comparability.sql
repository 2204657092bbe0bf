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
        list(figures.figure_id) as figure_ids
    from figures
    inner join areas on figures.area_code = areas.area_code and areas.cluster_role = 'parent'
    group by all
    union all
    select
        metric_code,
        scope,
        year,
        2 as n_sides,
        list(figure_id) as figure_ids
    from figures
    where area_code = '{{ var("two_province_area_code") }}'
    group by all
),

final as (
    select
        b.figure_id as benchmark_figure_id,
        b.area_code as benchmark_area_code,
        b.metric_code,
        b.scope,
        b.year,
        case
            when exists (
                    select 1 from cluster_metric_years as c
                    where c.metric_code = b.metric_code and c.year = b.year and c.n_sides = 2
                ) then 'comparable'
            when exists (
                    select 1 from cluster_metric_years as c
                    where c.metric_code = b.metric_code and c.year = b.year
                ) then 'only_one_cluster_province_reports_it'
            when exists (
                    select 1 from cluster_metric_years as c
                    where c.metric_code = b.metric_code
                ) then 'cluster_reports_it_in_other_years'
            when exists (
                    select 1 from cluster_metric_years as c
                    where c.scope = b.scope and c.year = b.year
                ) then 'cluster_has_same_scope_other_metric'
            else 'no_cluster_figure_of_this_scope'
        end as comparability,
        (
            select string_agg(distinct c.metric_code || ' ' || c.year, '; ')
            from cluster_metric_years as c
            where c.scope = b.scope
        ) as cluster_figures_of_same_scope,
        b.metric_code = 'gdp'
        and b.year between {{ var('panel_start_year') }} and {{ var('panel_end_year') }} as in_fct_benchmark_gap,
        case
            when b.measure_kind in ('real_growth', 'nominal_growth', 'average_growth', 'share', 'per_capita')
                then 'a rate: the two provinces cannot be added, compare them one by one'
        end as note
    from benchmark_figures as b
)

select * from final
