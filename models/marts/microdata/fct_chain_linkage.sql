-- Chain linkage between the two provinces: one row per seller division x buyer division x
-- year, the net invoiced flows Sichuan -> Chongqing and Chongqing -> Sichuan (all enterprises
-- of each province, and the cluster members among themselves), and their growth on the year
-- before. Growth is NULL unless both years have twelve months of invoices (a part year is no
-- year) and the earlier flow is positive. Divisions are the sellers' and buyers' at the time
-- (`unknown` for parties outside the register).
-- Disclosure control (docs/microdata_layout.md): a flow is a cell of its sellers and of its
-- buyers; it is published only when both sides pass the threshold and dominance rules, else NULL
-- with the reason in sichuan_to_chongqing_suppression / chongqing_to_sichuan_suppression (the
-- invoice count and the growth go with it; growth also when the year before was suppressed). The
-- members' flow is part of the flow: all - members is the non-members' flow, so a members' flow
-- is suppressed ('secondary') when the non-members' part fails and the whole flow is published.
-- No totals over divisions are published.
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

{%- set directions = {'sichuan_to_chongqing': '510000', 'chongqing_to_sichuan': '500000'} %}

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

-- Each seller's sales and each buyer's purchases per flow, from the invoices attributed as
-- fct_supply_flow attributes them.
invoices as (
    select
        seller_code,
        buyer_code,
        cast(date_trunc('month', issue_date) as date) as month,
        amount_yuan
    from {{ ref('stg_microdata__supply_invoices') }}
    {%- if window_start %}
    where issue_date >= cast(concat(cast(year({{ window_start }}) - 1 as string), '-01-01') as date)
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
    where month >= cast(concat(cast(year({{ window_start }}) - 1 as string), '-01-01') as date)
    {%- endif %}
),

pairs as (
    select
        seller_code,
        buyer_code,
        month,
        sum(amount_yuan) as net_amount_yuan
    from invoices
    group by seller_code, buyer_code, month
),

attributed_pairs as (
    {{ microdata_attribute_pairs('pairs', 'enterprise_months') }}
),

pair_flows as (
    select
        cast(year(month) as integer) as year,
        seller_division_code,
        buyer_division_code,
        seller_code,
        buyer_code,
        net_amount_yuan,
        case when seller_province_code = '510000' then 'sichuan_to_chongqing' else 'chongqing_to_sichuan' end
            as direction,
        case when seller_area_group = 'member' and buyer_area_group = 'member' then 'members' else 'non_members' end
            as scope
    from attributed_pairs
    where seller_province_code is not null and buyer_province_code is not null
        and seller_province_code <> buyer_province_code
),

contributions as (
    -- Both sides of every flow, for the whole flow and for its members' and non-members' parts.
    select
        year,
        seller_division_code,
        buyer_division_code,
        direction,
        'all' as scope,
        'seller' as side,
        seller_code as enterprise_id,
        net_amount_yuan as contribution
    from pair_flows
    union all
    select
        year,
        seller_division_code,
        buyer_division_code,
        direction,
        'all' as scope,
        'buyer' as side,
        buyer_code as enterprise_id,
        net_amount_yuan as contribution
    from pair_flows
    union all
    select
        year,
        seller_division_code,
        buyer_division_code,
        direction,
        scope,
        'seller' as side,
        seller_code as enterprise_id,
        net_amount_yuan as contribution
    from pair_flows
    union all
    select
        year,
        seller_division_code,
        buyer_division_code,
        direction,
        scope,
        'buyer' as side,
        buyer_code as enterprise_id,
        net_amount_yuan as contribution
    from pair_flows
),

disclosure as (
    {{ disclosure_cells(
        'contributions', ['year', 'seller_division_code', 'buyer_division_code', 'direction', 'scope', 'side']
    ) }}
),

reasons as (
    -- A flow fails when either side fails; 'too_few_enterprises' sorts after 'dominated' and wins.
    select
        year,
        seller_division_code,
        buyer_division_code,
        max(case when direction = 'sichuan_to_chongqing' and scope = 'all' then primary_reason end)
            as sichuan_to_chongqing_reason,
        max(case when direction = 'sichuan_to_chongqing' and scope = 'members' then primary_reason end)
            as members_sichuan_to_chongqing_reason,
        max(case when direction = 'sichuan_to_chongqing' and scope = 'non_members' then primary_reason end)
            as non_members_sichuan_to_chongqing_reason,
        max(case when direction = 'chongqing_to_sichuan' and scope = 'all' then primary_reason end)
            as chongqing_to_sichuan_reason,
        max(case when direction = 'chongqing_to_sichuan' and scope = 'members' then primary_reason end)
            as members_chongqing_to_sichuan_reason,
        max(case when direction = 'chongqing_to_sichuan' and scope = 'non_members' then primary_reason end)
            as non_members_chongqing_to_sichuan_reason
    from (
        select
            *,
            {{ disclosure_reason('n_enterprises', 'top2_abs_yuan', 'total_abs_yuan') }} as primary_reason
        from disclosure
    ) as primary_reasons
    group by year, seller_division_code, buyer_division_code
),

with_previous as (
    select
        by_year.*,
        {%- for direction in directions %}
            reasons.{{ direction }}_reason,
            case
                when reasons.{{ direction }}_reason is null and reasons.members_{{ direction }}_reason is null
                    and reasons.non_members_{{ direction }}_reason is not null then 'secondary'
                else reasons.members_{{ direction }}_reason
            end as members_{{ direction }}_reason,
            lag(reasons.{{ direction }}_reason) over pair as previous_{{ direction }}_reason,
        {%- endfor %}
        months_per_year.months_covered,
        lag(by_year.year) over pair as previous_year,
        lag(by_year.sichuan_to_chongqing_yuan) over pair as previous_sichuan_to_chongqing_yuan,
        lag(by_year.chongqing_to_sichuan_yuan) over pair as previous_chongqing_to_sichuan_yuan,
        lag(months_per_year.months_covered) over pair as previous_months_covered
    from by_year
    inner join months_per_year on by_year.year = months_per_year.year
    left join reasons
        on
            by_year.year = reasons.year
            and by_year.seller_division_code = reasons.seller_division_code
            and by_year.buyer_division_code = reasons.buyer_division_code
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
        {%- for direction in directions %}
            case when {{ direction }}_reason is null then {{ direction }}_yuan end as {{ direction }}_yuan,
        {%- endfor %}
        {%- for direction in directions %}
            case when members_{{ direction }}_reason is null then members_{{ direction }}_yuan end
                as members_{{ direction }}_yuan,
        {%- endfor %}
        {%- for direction in directions %}
            case when {{ direction }}_reason is null then {{ direction }}_invoices end as {{ direction }}_invoices,
        {%- endfor %}
        {%- for direction in directions %}
            case when previous_year = year - 1 and months_covered = 12 and previous_months_covered = 12
                    and previous_{{ direction }}_yuan > 0
                    and {{ direction }}_reason is null and previous_{{ direction }}_reason is null
                    then cast({{ direction }}_yuan as double) / cast(previous_{{ direction }}_yuan as double) - 1
            end as {{ direction }}_growth,
        {%- endfor %}
        {%- for direction in directions %}
            {{ direction }}_reason as {{ direction }}_suppression,
            members_{{ direction }}_reason as members_{{ direction }}_suppression,
        {%- endfor %}
        months_covered,
        basis
    from with_previous
    {%- if window_start %}
    where year >= year({{ window_start }})
    {%- endif %}
)

select * from final
