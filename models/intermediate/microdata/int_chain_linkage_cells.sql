-- The cells of fct_chain_linkage before disclosure control: one row per seller division x buyer
-- division x year x direction (sichuan_to_chongqing, chongqing_to_sichuan) x scope: 'all' (the
-- net invoiced flow between the two provinces), 'members' (cluster members among themselves)
-- or 'non_members' (the rest: all - members). Divisions are the sellers' and buyers' at the
-- time (`unknown` for parties outside the register). Each cell carries its contributors on both
-- sides for disclosure control (the sellers and the buyers: how many, and the absolute amounts
-- of all and of the largest two, macro disclosure_cells); fct_chain_linkage applies the rules
-- and computes the growth.
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

{%- set direction %}
        case when seller_province_code = '510000' then 'sichuan_to_chongqing' else 'chongqing_to_sichuan' end
            as direction,
        case when seller_area_group = 'member' and buyer_area_group = 'member' then 'members' else 'non_members' end
            as scope
{%- endset %}

with

all_flows as (
    select * from {{ ref('fct_supply_flow') }}
    {%- if window_start %}
    where year >= year({{ window_start }})
    {%- endif %}
),

months_per_year as (
    select
        year,
        count(distinct month) as months_covered
    from all_flows
    group by year
),

cross_flows as (
    select
        year,
        seller_division_code,
        buyer_division_code,
        net_amount_yuan,
        n_invoices,
        basis,
        {{ direction }}
    from all_flows
    where seller_province_code is not null and buyer_province_code is not null
        and seller_province_code <> buyer_province_code
),

-- Each seller's sales and each buyer's purchases per flow, from the pairs fct_supply_flow
-- aggregates.
attributed_pairs as (
    select
        month,
        seller_code,
        buyer_code,
        net_amount_yuan,
        seller_area_group,
        seller_province_code,
        seller_division_code,
        buyer_area_group,
        buyer_province_code,
        buyer_division_code
    from {{ ref('int_microdata_supply_pairs') }}
    {%- if window_start %}
    where month >= date_trunc('year', {{ window_start }})
    {%- endif %}
),

pair_flows as (
    select
        cast(year(month) as integer) as year,
        seller_division_code,
        buyer_division_code,
        seller_code,
        buyer_code,
        net_amount_yuan,
        {{ direction }}
    from attributed_pairs
    where seller_province_code is not null and buyer_province_code is not null
        and seller_province_code <> buyer_province_code
),

-- Every flow counts twice: in its own scope and in 'all'; a pair contributes once as seller and
-- once as buyer.
scope_copies as (
    select 'own' as scope_copy
    union all
    select 'all' as scope_copy
),

sides as (
    select 'seller' as side
    union all
    select 'buyer' as side
),

copies as (
    select
        scope_copies.scope_copy,
        sides.side
    from scope_copies
    cross join sides
),

contributions as (
    select
        pair_flows.year,
        pair_flows.seller_division_code,
        pair_flows.buyer_division_code,
        pair_flows.direction,
        case when copies.scope_copy = 'all' then 'all' else pair_flows.scope end as scope,
        copies.side,
        case when copies.side = 'seller' then pair_flows.seller_code else pair_flows.buyer_code end as enterprise_id,
        pair_flows.net_amount_yuan as contribution
    from pair_flows
    cross join copies
),

disclosure as (
    {{ disclosure_cells(
        'contributions', ['year', 'seller_division_code', 'buyer_division_code', 'direction', 'scope', 'side']
    ) }}
),

amounts as (
    select
        cross_flows.year,
        cross_flows.seller_division_code,
        cross_flows.buyer_division_code,
        cross_flows.direction,
        case when copies.scope_copy = 'all' then 'all' else cross_flows.scope end as scope,
        cast(sum(cross_flows.net_amount_yuan) as decimal(38, 2)) as amount_yuan,
        cast(sum(cross_flows.n_invoices) as bigint) as n_invoices,
        min(cross_flows.basis) as basis
    from cross_flows
    cross join scope_copies as copies
    group by all
),

final as (
    select
        amounts.*,
        {%- for side in ['seller', 'buyer'] %}
            max(disclosure.n_enterprises) filter (where disclosure.side = '{{ side }}') as {{ side }}_n_enterprises,
            max(disclosure.total_abs_yuan) filter (where disclosure.side = '{{ side }}') as {{ side }}_total_abs_yuan,
            max(disclosure.top2_abs_yuan) filter (where disclosure.side = '{{ side }}') as {{ side }}_top2_abs_yuan,
        {%- endfor %}
        months_per_year.months_covered
    from amounts
    inner join months_per_year on amounts.year = months_per_year.year
    left join disclosure
        on
            amounts.year = disclosure.year
            and amounts.seller_division_code = disclosure.seller_division_code
            and amounts.buyer_division_code = disclosure.buyer_division_code
            and amounts.direction = disclosure.direction
            and amounts.scope = disclosure.scope
    group by all
)

select * from final
