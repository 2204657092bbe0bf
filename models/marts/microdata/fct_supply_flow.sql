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
-- the members are rest_of_sichuan, rest_of_chongqing or rest_of_china.
-- Incremental by month: a run rebuilds the months from microdata_window_start on.
{%- set window_start = microdata_window_start(ref('stg_microdata__supply_invoices'), 'issue_date')
        if is_incremental() else none %}

with

invoices as (
    select
        seller_code,
        buyer_code,
        issue_date,
        amount_yuan,
        tax_yuan,
        is_red_letter,
        basis
    from {{ ref('stg_microdata__supply_invoices') }}
    {%- if window_start %}
    where issue_date >= {{ window_start }}
    {%- endif %}
),

enterprise_months as (
    select
        credit_code,
        month,
        area_code,
        area_group,
        province_code,
        division_code
    from {{ ref('int_microdata_enterprise_months') }}
    {%- if window_start %}
    where month >= {{ window_start }}
    {%- endif %}
),

pairs as (
    -- The big step first: 100 million invoices become one row per pair and month.
    select
        seller_code,
        buyer_code,
        cast(date_trunc('month', issue_date) as date) as month,
        count(*) filter (where not is_red_letter) as n_invoices,
        count(*) filter (where is_red_letter) as n_red_letter_invoices,
        coalesce(sum(amount_yuan) filter (where not is_red_letter), 0) as ordinary_amount_yuan,
        coalesce(sum(amount_yuan) filter (where is_red_letter), 0) as red_letter_amount_yuan,
        sum(tax_yuan) as net_tax_yuan,
        min(basis) as basis
    from invoices
    group by all
),

attributed as (
    select
        pairs.*,
        coalesce(
            seller.area_code,
            {{ microdata_area_column('seller_area', 'area_code', "'rest_of_china'") }}
        ) as seller_area_code,
        coalesce(
            seller.area_group,
            {{ microdata_area_column('seller_area', 'area_group', "'rest_of_china'") }}
        ) as seller_area_group,
        case when seller.credit_code is not null then seller.province_code
            else {{ microdata_area_column('seller_area', 'province_code', 'null') }}
        end as seller_province_code,
        coalesce(seller.division_code, 'unknown') as seller_division_code,
        coalesce(
            buyer.area_code,
            {{ microdata_area_column('buyer_area', 'area_code', "'rest_of_china'") }}
        ) as buyer_area_code,
        coalesce(
            buyer.area_group,
            {{ microdata_area_column('buyer_area', 'area_group', "'rest_of_china'") }}
        ) as buyer_area_group,
        case when buyer.credit_code is not null then buyer.province_code
            else {{ microdata_area_column('buyer_area', 'province_code', 'null') }}
        end as buyer_province_code,
        coalesce(buyer.division_code, 'unknown') as buyer_division_code
    from pairs
    left join enterprise_months as seller
        on pairs.seller_code = seller.credit_code and pairs.month = seller.month
    left join enterprise_months as buyer
        on pairs.buyer_code = buyer.credit_code and pairs.month = buyer.month
    {{ microdata_area_joins('substr(pairs.seller_code, 3, 6)', 'seller_area') }}
    {{ microdata_area_joins('substr(pairs.buyer_code, 3, 6)', 'buyer_area') }}
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
