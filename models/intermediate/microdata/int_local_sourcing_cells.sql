-- The cells of fct_local_sourcing before disclosure control: one row per buyer area x buyer
-- division x year x part, where part is 'all' (the buyer's net purchases) or one of the five
-- seller origins:
--   same area | rest of its own province (the other members and the rest of the province) |
--   the other province's members | the rest of the other province | the rest of China.
-- Buyers in the rest of China are left out: the data hold only what they buy from Sichuan and
-- Chongqing, so shares of theirs would mean nothing. Each cell carries its contributors for
-- disclosure control (the buyers: how many, and the absolute purchases of all and of the largest
-- two, macro disclosure_cells); fct_local_sourcing applies the rules.
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

{%- set seller_origin %}
        case
            when seller_area_code = buyer_area_code then 'same_area'
            when seller_province_code = buyer_province_code then 'rest_of_own_province'
            when seller_province_code is not null and seller_area_group = 'member' then 'other_province_members'
            when seller_province_code is not null then 'other_province_rest'
            else 'rest_of_china'
        end as seller_origin
{%- endset %}

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
        {{ seller_origin }}
    from flows
),

-- Each buyer's purchases by origin, from the pairs fct_supply_flow aggregates.
attributed_pairs as (
    select
        month,
        buyer_code,
        net_amount_yuan,
        seller_area_code,
        seller_area_group,
        seller_province_code,
        buyer_area_code,
        buyer_area_group,
        buyer_province_code,
        buyer_division_code
    from {{ ref('int_microdata_supply_pairs') }}
    where buyer_area_group <> 'rest_of_china'
    {%- if window_start %}
        and month >= date_trunc('year', {{ window_start }})
    {%- endif %}
),

origin_contributions as (
    select
        cast(year(month) as integer) as year,
        buyer_area_code,
        buyer_division_code,
        buyer_code as enterprise_id,
        net_amount_yuan as contribution,
        {{ seller_origin }}
    from attributed_pairs
),

-- Every flow and every contribution counts twice: in its origin's cell and in the row's 'all'.
contributions as (
    select
        year,
        buyer_area_code,
        buyer_division_code,
        seller_origin as part,
        enterprise_id,
        contribution
    from origin_contributions
    union all
    select
        year,
        buyer_area_code,
        buyer_division_code,
        'all' as part,
        enterprise_id,
        contribution
    from origin_contributions
),

parts as (
    select
        *,
        seller_origin as part
    from classified
    union all
    select
        *,
        'all' as part
    from classified
),

disclosure as (
    {{ disclosure_cells('contributions', ['year', 'buyer_area_code', 'buyer_division_code', 'part']) }}
),

aggregated as (
    select
        year,
        buyer_area_code,
        {{ any_non_null('buyer_area_group') }} as buyer_area_group,
        {{ any_non_null('buyer_province_code') }} as buyer_province_code,
        buyer_division_code,
        part,
        cast(sum(net_amount_yuan) as decimal(38, 2)) as amount_yuan,
        cast(sum(n_invoices) as bigint) as n_invoices,
        cast(sum(n_red_letter_invoices) as bigint) as n_red_letter_invoices,
        count(distinct month) as months_covered,
        min(basis) as basis
    from parts
    group by year, buyer_area_code, buyer_division_code, part
),

final as (
    select
        aggregated.*,
        disclosure.n_enterprises,
        disclosure.total_abs_yuan,
        disclosure.top2_abs_yuan
    from aggregated
    left join disclosure
        on
            aggregated.year = disclosure.year
            and aggregated.buyer_area_code = disclosure.buyer_area_code
            and aggregated.buyer_division_code = disclosure.buyer_division_code
            and aggregated.part = disclosure.part
)

select * from final
