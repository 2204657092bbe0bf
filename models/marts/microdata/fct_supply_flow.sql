{{
    config(
        materialized='incremental',
        incremental_strategy=microdata_incremental_strategy(),
        partition_by=microdata_partition_by('month'),
        schema='microdata',
        pre_hook="{{ microdata_delete_window('month', ref('stg_microdata__supply_invoices'), 'issue_date') }}",
    )
}}
-- One row per seller area x seller division x buyer area x buyer division x month: the VAT
-- invoices between them, red-letter invoices netted in the month they are issued (as VAT is
-- booked). Each party is attributed to the area and division valid at the end of the month
-- (int_microdata_enterprise_months); a party outside the register keeps the area its credit
-- code was issued in (positions 3-8) and division `unknown`. Nothing is dropped: areas outside
-- the members are rest_of_sichuan, rest_of_chongqing or rest_of_china. The invoices come
-- aggregated and attributed per seller x buyer x month (int_microdata_supply_pairs).
-- Incremental by month: a run rebuilds the months from microdata_window_start on.
{%- set window_start = microdata_window_start(ref('stg_microdata__supply_invoices'), 'issue_date')
        if is_incremental() else none %}
-- The window's start reads the staging relation in a plain dbt run (no var): dbt must know.
-- depends_on: {{ ref('stg_microdata__supply_invoices') }}

with

attributed as (
    select
        month,
        seller_code,
        buyer_code,
        n_invoices,
        n_red_letter_invoices,
        ordinary_amount_yuan,
        red_letter_amount_yuan,
        net_tax_yuan,
        basis,
        seller_area_code,
        seller_area_group,
        seller_province_code,
        seller_division_code,
        buyer_area_code,
        buyer_area_group,
        buyer_province_code,
        buyer_division_code
    from {{ ref('int_microdata_supply_pairs') }}
    {%- if window_start %}
    where month >= {{ window_start }}
    {%- endif %}
),

final as (
    select
        month,
        cast(year(month) as integer) as year,
        seller_area_code,
        seller_area_group,
        seller_province_code,
        seller_division_code,
        buyer_area_code,
        buyer_area_group,
        buyer_province_code,
        buyer_division_code,
        cast(sum(n_invoices) as bigint) as n_invoices,
        cast(sum(n_red_letter_invoices) as bigint) as n_red_letter_invoices,
        cast(sum(ordinary_amount_yuan) as decimal(38, 2)) as ordinary_amount_yuan,
        cast(sum(red_letter_amount_yuan) as decimal(38, 2)) as red_letter_amount_yuan,
        cast(sum(ordinary_amount_yuan) + sum(red_letter_amount_yuan) as decimal(38, 2)) as net_amount_yuan,
        cast(sum(net_tax_yuan) as decimal(38, 2)) as net_tax_yuan,
        count(distinct seller_code) as n_sellers,
        count(distinct buyer_code) as n_buyers,
        min(basis) as basis
    from attributed
    group by all
)

select * from final
