-- One row per province x division x panel year: the sum of its members and its rest, cell by cell. The value is
-- draw 0 of int_sector_output_draws (the fitted panel) and the interval the quantiles over its other draws, so the
-- province sum is written once; the lineage is the union of its units' (int_sector_output_cells).

with

cells as (
    select * from {{ ref('int_sector_output_cells') }}
),

draws as (
    select * from {{ ref('int_sector_output_draws') }}
    where cluster_role = 'parent'
),

fitted as (
    select * from draws
    where draw_id = 0
),

intervals as (
    select
        area_code,
        sector_code,
        year,
        {{ continuous_quantile('output_value_yuan', 0.05) }} as p5,
        {{ continuous_quantile('output_value_yuan', 0.50) }} as p50,
        {{ continuous_quantile('output_value_yuan', 0.95) }} as p95
    from draws
    where draw_id > 0
    group by all
),

lineage as (
    select
        province_code as area_code,
        sector_code,
        year,
        bool_and(fitted_yuan is not null) as is_fitted,
        sum(prior_yuan) as prior_value_yuan,
        case when bool_or(fitted_yuan is null) then {{ any_non_null('null_reason') }} end as null_reason,
        case when bool_or(fit_uses_synthetic) then 'synthetic' else 'estimated' end as basis,
        {{ list_to_string(sorted_distinct_list(flatten_list_agg('figure_ids')), ';') }} as figure_ids,
        {{ list_to_string(sorted_distinct_list(flatten_list_agg('prior_ids')), ';') }} as prior_ids,
        cast({{ list_length(distinct_list(flatten_list_agg("fitted_figure_ids"))) }} as integer) as n_fitted_figures
    from cells
    group by province_code, sector_code, year
),

final as (
    select
        lineage.area_code,
        lineage.sector_code,
        lineage.year,
        fitted.output_value_yuan,
        intervals.p5 as output_p5_yuan,
        intervals.p50 as output_p50_yuan,
        intervals.p95 as output_p95_yuan,
        lineage.prior_value_yuan,
        lineage.null_reason,
        lineage.basis,
        case when lineage.is_fitted then 'constrained_fit' else 'no_estimate' end as method,
        lineage.is_fitted as is_area_specific,
        case when lineage.is_fitted then lineage.figure_ids end as derived_from_figure_ids,
        case when lineage.is_fitted then lineage.prior_ids end as prior_ids,
        lineage.n_fitted_figures
    from lineage
    inner join fitted
        on lineage.area_code = fitted.area_code
            and lineage.sector_code = fitted.sector_code
            and lineage.year = fitted.year
    left join intervals
        on lineage.area_code = intervals.area_code
            and lineage.sector_code = intervals.sector_code
            and lineage.year = intervals.year
)

select * from final
