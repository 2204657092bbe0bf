-- Local sourcing (本地配套率): one row per buyer area x buyer division x year, the buyer's
-- purchases (net of red-letter invoices) split by where the sellers are:
--   same area | rest of its own province (the other members and the rest of the province) |
--   the other province's members | the rest of the other province | the rest of China.
-- The five shares sum to 1. Buyers in the rest of China are left out: the data hold only what
-- they buy from Sichuan and Chongqing, so shares of theirs would mean nothing.
-- Incremental by year: a row depends only on the flows of its year, so a run deletes and
-- rebuilds the years from that of microdata_layer_window_start on and keeps the earlier ones.
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

flows as (
    select * from {{ ref('fct_supply_flow') }}
    where buyer_area_group <> 'rest_of_china'
    {%- if window_start %}
        and year >= year({{ window_start }})
    {%- endif %}
),

classified as (
    select
        year,
        month,
        buyer_area_code,
        buyer_area_group,
        buyer_province_code,
        buyer_division_code,
        net_amount_yuan,
        n_invoices,
        n_red_letter_invoices,
        basis,
        case
            when seller_area_code = buyer_area_code then 'same_area'
            when seller_province_code = buyer_province_code then 'rest_of_own_province'
            when seller_province_code is not null and seller_area_group = 'member' then 'other_province_members'
            when seller_province_code is not null then 'other_province_rest'
            else 'rest_of_china'
        end as seller_origin
    from flows
),

final as (
    select
        year,
        buyer_area_code,
        {{ any_non_null('buyer_area_group') }} as buyer_area_group,
        {{ any_non_null('buyer_province_code') }} as buyer_province_code,
        buyer_division_code,
        cast(sum(net_amount_yuan) as decimal(38, 2)) as purchases_net_yuan,
        cast(coalesce(sum(net_amount_yuan) filter (where seller_origin = 'same_area'), 0) as decimal(38, 2))
            as same_area_yuan,
        cast(coalesce(sum(net_amount_yuan) filter (where seller_origin = 'rest_of_own_province'), 0) as decimal(38, 2))
            as rest_of_own_province_yuan,
        cast(
            coalesce(sum(net_amount_yuan) filter (where seller_origin = 'other_province_members'), 0) as decimal(38, 2)
        )
            as other_province_members_yuan,
        cast(coalesce(sum(net_amount_yuan) filter (where seller_origin = 'other_province_rest'), 0) as decimal(38, 2))
            as other_province_rest_yuan,
        cast(coalesce(sum(net_amount_yuan) filter (where seller_origin = 'rest_of_china'), 0) as decimal(38, 2))
            as rest_of_china_yuan,
        cast(sum(n_invoices) as bigint) as n_invoices,
        cast(sum(n_red_letter_invoices) as bigint) as n_red_letter_invoices,
        count(distinct month) as months_covered,
        min(basis) as basis
    from classified
    group by year, buyer_area_code, buyer_division_code
)

select
    year,
    buyer_area_code,
    buyer_area_group,
    buyer_province_code,
    buyer_division_code,
    purchases_net_yuan,
    same_area_yuan,
    rest_of_own_province_yuan,
    other_province_members_yuan,
    other_province_rest_yuan,
    rest_of_china_yuan,
    -- NULL when the net purchases are not positive: no share of nothing. Divided as doubles (DuckDB
    -- divides decimals so; Spark would round a decimal quotient to 6 places).
    cast(same_area_yuan as double) / cast(nullif(greatest(purchases_net_yuan, 0), 0) as double) as same_area_share,
    cast(rest_of_own_province_yuan as double) / cast(nullif(greatest(purchases_net_yuan, 0), 0) as double)
        as rest_of_own_province_share,
    cast(other_province_members_yuan as double) / cast(nullif(greatest(purchases_net_yuan, 0), 0) as double)
        as other_province_members_share,
    cast(other_province_rest_yuan as double) / cast(nullif(greatest(purchases_net_yuan, 0), 0) as double)
        as other_province_rest_share,
    cast(rest_of_china_yuan as double) / cast(nullif(greatest(purchases_net_yuan, 0), 0) as double)
        as rest_of_china_share,
    n_invoices,
    n_red_letter_invoices,
    months_covered,
    basis
from final
