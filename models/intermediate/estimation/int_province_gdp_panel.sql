-- One row per province (the two cluster provinces and the two benchmarks) x panel year:
-- GDP in yuan. Reported where a best value exists; between two reported years
-- interpolated at a constant growth rate; outside them carried flat.

with

best_figures as (
    select * from {{ ref('int_indicator_candidates') }}
    where rank_in_key = 1
),

provinces as (
    select area_code from {{ ref('stg_reference__areas') }}
    where cluster_role in ('parent', 'benchmark')
),

years as (
    select cast(unnest(range({{ var('panel_start_year') }}, {{ var('panel_end_year') }} + 1)) as integer) as year
),

spine as (
    select
        provinces.area_code as series_key,
        years.year
    from provinces cross join years
),

known as (
    select
        area_code as series_key,
        year,
        value_base as value,
        [figure_id] as figure_ids
    from best_figures
    where metric_code = 'gdp' and subject is null
),

filled as (
    {{ interpolate_series('spine', 'known', 'log_linear') }}
),

final as (
    select
        series_key as area_code,
        year,
        value as gdp_yuan,
        case fill_method when 'reported' then 'reported' else 'estimated' end as basis,
        fill_method as method,
        figure_ids
    from filled
)

select * from final
