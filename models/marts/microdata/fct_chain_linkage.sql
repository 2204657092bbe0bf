-- Chain linkage between the two provinces: one row per seller division x buyer division x
-- year, the net invoiced flows Sichuan -> Chongqing and Chongqing -> Sichuan (all enterprises
-- of each province, and the cluster members among themselves), and their growth on the year
-- before. Growth is NULL unless both years have twelve months of invoices (a part year is no
-- year) and the earlier flow is positive. Divisions are the sellers' and buyers' at the time
-- (`unknown` for parties outside the register).
-- Incremental by year: a row depends on the flows of its year and of the year before (growth),
-- so a run deletes and rebuilds the years from that of microdata_layer_window_start on, reading
-- the flows from the year before it; earlier years are kept.
{{
    config(
        materialized='incremental',
        incremental_strategy=microdata_incremental_strategy(),
        partition_by=microdata_partition_by('year'),
        pre_hook="{{ microdata_delete_layer_window('year', 'year') }}",
    )
}}
{%- set window_start = microdata_layer_window_start() if is_incremental() else none %}
-- The window's start reads the staging relations in a plain dbt run (no var): dbt must know.
-- depends_on: {{ ref('stg_microdata__enterprise_month') }}
-- depends_on: {{ ref('stg_microdata__supply_invoices') }}

with

all_flows as (
    select * from {{ ref('fct_supply_flow') }}
    {%- if window_start %}
    where year >= year({{ window_start }}) - 1
    {%- endif %}
),

flows as (
    select * from all_flows
    where seller_province_code is not null and buyer_province_code is not null
        and seller_province_code <> buyer_province_code
),

months_per_year as (
    select
        year,
        count(distinct month) as months_covered
    from all_flows
    group by year
),

by_year as (
    select
        year,
        seller_division_code,
        buyer_division_code,
        cast(coalesce(sum(net_amount_yuan) filter (where seller_province_code = '510000'), 0) as decimal(38, 2))
            as sichuan_to_chongqing_yuan,
        cast(coalesce(sum(net_amount_yuan) filter (where seller_province_code = '500000'), 0) as decimal(38, 2))
            as chongqing_to_sichuan_yuan,
        cast(coalesce(sum(net_amount_yuan) filter (
            where seller_province_code = '510000' and seller_area_group = 'member' and buyer_area_group = 'member'
        ), 0) as decimal(38, 2)) as members_sichuan_to_chongqing_yuan,
        cast(coalesce(sum(net_amount_yuan) filter (
            where seller_province_code = '500000' and seller_area_group = 'member' and buyer_area_group = 'member'
        ), 0) as decimal(38, 2)) as members_chongqing_to_sichuan_yuan,
        cast(coalesce(sum(n_invoices) filter (where seller_province_code = '510000'), 0) as bigint)
            as sichuan_to_chongqing_invoices,
        cast(coalesce(sum(n_invoices) filter (where seller_province_code = '500000'), 0) as bigint)
            as chongqing_to_sichuan_invoices,
        min(basis) as basis
    from flows
    group by year, seller_division_code, buyer_division_code
),

with_previous as (
    select
        by_year.*,
        months_per_year.months_covered,
        lag(by_year.year) over pair as previous_year,
        lag(by_year.sichuan_to_chongqing_yuan) over pair as previous_sichuan_to_chongqing_yuan,
        lag(by_year.chongqing_to_sichuan_yuan) over pair as previous_chongqing_to_sichuan_yuan,
        lag(months_per_year.months_covered) over pair as previous_months_covered
    from by_year
    inner join months_per_year on by_year.year = months_per_year.year
    window pair as (
        partition by by_year.seller_division_code, by_year.buyer_division_code
        order by by_year.year
    )
),

final as (
    select
        year,
        seller_division_code,
        buyer_division_code,
        sichuan_to_chongqing_yuan,
        chongqing_to_sichuan_yuan,
        members_sichuan_to_chongqing_yuan,
        members_chongqing_to_sichuan_yuan,
        sichuan_to_chongqing_invoices,
        chongqing_to_sichuan_invoices,
        case when previous_year = year - 1 and months_covered = 12 and previous_months_covered = 12
                and previous_sichuan_to_chongqing_yuan > 0
                then cast(sichuan_to_chongqing_yuan as double) / cast(previous_sichuan_to_chongqing_yuan as double) - 1
        end as sichuan_to_chongqing_growth,
        case when previous_year = year - 1 and months_covered = 12 and previous_months_covered = 12
                and previous_chongqing_to_sichuan_yuan > 0
                then cast(chongqing_to_sichuan_yuan as double) / cast(previous_chongqing_to_sichuan_yuan as double) - 1
        end as chongqing_to_sichuan_growth,
        months_covered,
        basis
    from with_previous
    {%- if window_start %}
    where year >= year({{ window_start }})
    {%- endif %}
)

select * from final
