-- Question 4: is the gap between Sichuan + Chongqing and Jiangsu / Zhejiang closing?
--
-- How to read it: one row per benchmark and year. gap_ratio = cluster / benchmark
-- (GDP at current prices, the only metric both sides report in the same scope);
-- a ratio rising over the years means the gap is closing. growth_gap_pp > 0 means the
-- cluster grew faster that year. Levels are compared within one GDP series vintage:
-- 2019 starts the series revised by the 2018 economic census (vintage_break), so its
-- growth is the reported real growth of both sides or NULL (null_reason), and CAGRs since
-- 2015 are NULL where no reported rate chains the break; the within-vintage CAGR starts
-- in 2019. basis 'estimated' marks years interpolated or backcast between reported
-- ones. The last columns say, for each benchmark, how many of its figures
-- could not be compared and why (equipment figures of Jiangsu and Zhejiang are
-- above-scale value added or output, scopes the cluster does not report): see
-- audit_benchmark_comparability.

with

gap as (
    select * from {{ ref('fct_benchmark_gap') }}
),

comparability as (
    select
        benchmark_area_code,
        count(*) filter (where comparability <> 'comparable') as n_figures_not_comparable,
        string_agg(distinct comparability, '; ') filter (where comparability <> 'comparable') as reasons
    from {{ ref('audit_benchmark_comparability') }}
    group by benchmark_area_code
),

areas as (
    select * from {{ ref('dim_area') }}
)

select
    areas.name_en as benchmark,
    gap.metric_code,
    gap.year,
    round(gap.cluster_value / 1e8, 0) as cluster_100m_yuan,
    round(gap.benchmark_value / 1e8, 0) as benchmark_100m_yuan,
    round(gap.gap_ratio, 3) as gap_ratio,
    round(gap.gap_ratio - lag(gap.gap_ratio) over (
        partition by gap.benchmark_area_code
        order by gap.year
    ), 3)
        as gap_ratio_change,
    gap.series_vintage,
    gap.vintage_break,
    gap.growth_method,
    round(gap.growth_gap_pp, 2) as growth_gap_pp,
    round(100 * gap.cluster_cagr_since_start, 2) as cluster_cagr_pct,
    round(100 * gap.benchmark_cagr_since_start, 2) as benchmark_cagr_pct,
    round(100 * gap.cluster_cagr_within_vintage, 2) as cluster_cagr_within_vintage_pct,
    round(100 * gap.benchmark_cagr_within_vintage, 2) as benchmark_cagr_within_vintage_pct,
    gap.null_reason,
    gap.basis,
    comparability.n_figures_not_comparable,
    comparability.reasons
from gap
inner join areas on gap.benchmark_area_code = areas.area_code
left join comparability on gap.benchmark_area_code = comparability.benchmark_area_code
order by benchmark, gap.year
