{{
    config(
        materialized='incremental',
        incremental_strategy=microdata_incremental_strategy(),
        partition_by=microdata_partition_by('month'),
        pre_hook="{{ microdata_delete_layer_window('month') }}",
    )
}}
-- One row per seller x buyer x month: the VAT invoices between two enterprises in the month they
-- are issued (red-letter invoices netted there, as VAT is booked), each party attributed to the
-- area, province and division valid at the end of the month (macro microdata_attribute_pairs).
-- The one step that reads every invoice: fct_supply_flow and the cells of local sourcing and
-- chain linkage (and their disclosure contributions) all aggregate these rows.
-- Incremental by month: a run deletes and rebuilds the months from microdata_layer_window_start
-- on (the grid's window, never later than the invoices'); a month's rows depend only on its
-- invoices and its row of the grid, so earlier months are kept.
{%- set window_start = microdata_layer_window_start() if is_incremental() else none %}
-- The window's start reads the staging relations in a plain dbt run (no var): dbt must know.
-- depends_on: {{ ref('stg_microdata__enterprise_month') }}

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
        sum(amount_yuan) as net_amount_yuan,
        sum(tax_yuan) as net_tax_yuan,
        min(basis) as basis
    from invoices
    group by seller_code, buyer_code, cast(date_trunc('month', issue_date) as date)
),

final as (
    {{ microdata_attribute_pairs('pairs', 'enterprise_months') }}
)

select * from final
