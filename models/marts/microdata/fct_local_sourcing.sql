-- Local sourcing (本地配套率): one row per buyer area x buyer division x year, the buyer's
-- purchases (net of red-letter invoices) split by where the sellers are:
--   same area | rest of its own province (the other members and the rest of the province) |
--   the other province's members | the rest of the other province | the rest of China.
-- The five shares sum to 1. Buyers in the rest of China are left out: the data hold only what
-- they buy from Sichuan and Chongqing, so shares of theirs would mean nothing.
-- Disclosure control (docs/microdata_layout.md): the contributors of a cell are its buyers. A row
-- whose buyers fail the threshold or dominance rule is published without values
-- (suppression_reason). Each origin's amount is a cell of its own (the buyers that bought from
-- there): one that fails is NULL, and as the five add up to the published purchases, a single
-- suppressed origin takes the smallest published one with it ('secondary'); the suppressed
-- origins are listed in suppressed_origins. No totals over areas or divisions are published.
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
{%- set origins = [
    'same_area', 'rest_of_own_province', 'other_province_members', 'other_province_rest', 'rest_of_china'
] %}

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

-- Each buyer's purchases by origin, from the invoices attributed as fct_supply_flow attributes them.
invoices as (
    select
        seller_code,
        buyer_code,
        cast(date_trunc('month', issue_date) as date) as month,
        amount_yuan
    from {{ ref('stg_microdata__supply_invoices') }}
    {%- if window_start %}
    where issue_date >= date_trunc('year', {{ window_start }})
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
    where month >= date_trunc('year', {{ window_start }})
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

contributions as (
    select
        cast(year(month) as integer) as year,
        buyer_area_code,
        buyer_division_code,
        buyer_code as enterprise_id,
        net_amount_yuan as contribution,
        {{ seller_origin }}
    from attributed_pairs
    where buyer_area_group <> 'rest_of_china'
),

row_disclosure as (
    {{ disclosure_cells('contributions', ['year', 'buyer_area_code', 'buyer_division_code']) }}
),

origin_disclosure as (
    {{ disclosure_cells('contributions', ['year', 'buyer_area_code', 'buyer_division_code', 'seller_origin']) }}
),

row_reason as (
    select
        year,
        buyer_area_code,
        buyer_division_code,
        {{ disclosure_reason('n_enterprises', 'top2_abs_yuan', 'total_abs_yuan') }} as reason
    from row_disclosure
),

origin_cells as (
    select
        classified.year,
        classified.buyer_area_code,
        classified.buyer_division_code,
        classified.seller_origin,
        sum(classified.net_amount_yuan) as amount_yuan
    from classified
    group by classified.year, classified.buyer_area_code, classified.buyer_division_code, classified.seller_origin
),

origin_primary as (
    select
        origin_cells.*,
        {{ disclosure_reason(
            'origin_disclosure.n_enterprises', 'origin_disclosure.top2_abs_yuan', 'origin_disclosure.total_abs_yuan'
        ) }} as primary_reason
    from origin_cells
    left join origin_disclosure
        on
            origin_cells.year = origin_disclosure.year
            and origin_cells.buyer_area_code = origin_disclosure.buyer_area_code
            and origin_cells.buyer_division_code = origin_disclosure.buyer_division_code
            and origin_cells.seller_origin = origin_disclosure.seller_origin
),

origin_secondary as (
    -- The smallest published origin of each row ranks first.
    select
        *,
        count(primary_reason) over buyer_cell as n_primary_in_row,
        row_number() over (
            partition by year, buyer_area_code, buyer_division_code
            order by case when primary_reason is null then 0 else 1 end, abs(amount_yuan) asc, seller_origin asc
        ) as publishable_rank
    from origin_primary
    window buyer_cell as (partition by year, buyer_area_code, buyer_division_code)
),

origin_reasons as (
    select
        year,
        buyer_area_code,
        buyer_division_code,
        max(case when seller_origin = 'same_area' then origin_reason end) as same_area_reason,
        max(case when seller_origin = 'rest_of_own_province' then origin_reason end) as rest_of_own_province_reason,
        max(case when seller_origin = 'other_province_members' then origin_reason end) as other_province_members_reason,
        max(case when seller_origin = 'other_province_rest' then origin_reason end) as other_province_rest_reason,
        max(case when seller_origin = 'rest_of_china' then origin_reason end) as rest_of_china_reason
    from (
        select
            *,
            coalesce(
                primary_reason,
                case when n_primary_in_row = 1 and publishable_rank = 1 and primary_reason is null then 'secondary' end
            ) as origin_reason
        from origin_secondary
    ) as reasons
    group by year, buyer_area_code, buyer_division_code
),

aggregated as (
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
),

unprotected as (
    select
        year,
        buyer_area_code,
        buyer_area_group,
        buyer_province_code,
        buyer_division_code,
        purchases_net_yuan,
        {%- for origin in origins %}
            {{ origin }}_yuan,
        {%- endfor %}
        -- NULL when the net purchases are not positive: no share of nothing. Divided as doubles (DuckDB
        -- divides decimals so; Spark would round a decimal quotient to 6 places).
        {%- for origin in origins %}
            cast({{ origin }}_yuan as double) / cast(nullif(greatest(purchases_net_yuan, 0), 0) as double)
                as {{ origin }}_share,
        {%- endfor %}
        n_invoices,
        n_red_letter_invoices,
        months_covered,
        basis
    from aggregated
),

final as (
    select
        unprotected.year,
        unprotected.buyer_area_code,
        unprotected.buyer_area_group,
        unprotected.buyer_province_code,
        unprotected.buyer_division_code,
        case when row_reason.reason is null then unprotected.purchases_net_yuan end as purchases_net_yuan,
        {%- for origin in origins %}
            case when row_reason.reason is null and origin_reasons.{{ origin }}_reason is null
                    then unprotected.{{ origin }}_yuan
            end as {{ origin }}_yuan,
        {%- endfor %}
        {%- for origin in origins %}
            case when row_reason.reason is null and origin_reasons.{{ origin }}_reason is null
                    then unprotected.{{ origin }}_share
            end as {{ origin }}_share,
        {%- endfor %}
        case when row_reason.reason is null then unprotected.n_invoices end as n_invoices,
        case when row_reason.reason is null then unprotected.n_red_letter_invoices end as n_red_letter_invoices,
        unprotected.months_covered,
        row_reason.reason as suppression_reason,
        case
            when row_reason.reason is null
                then nullif(
                        concat_ws(
                            ', ',
                            case when origin_reasons.same_area_reason is not null
                                    then concat('same_area: ', origin_reasons.same_area_reason)
                            end,
                            case when origin_reasons.rest_of_own_province_reason is not null
                                    then concat('rest_of_own_province: ', origin_reasons.rest_of_own_province_reason)
                            end,
                            case when origin_reasons.other_province_members_reason is not null
                                    then concat(
                                            'other_province_members: ', origin_reasons.other_province_members_reason
                                        )
                            end,
                            case when origin_reasons.other_province_rest_reason is not null
                                    then concat('other_province_rest: ', origin_reasons.other_province_rest_reason)
                            end,
                            case when origin_reasons.rest_of_china_reason is not null
                                    then concat('rest_of_china: ', origin_reasons.rest_of_china_reason)
                            end
                        ),
                        ''
                    )
        end as suppressed_origins,
        unprotected.basis
    from unprotected
    left join row_reason
        on
            unprotected.year = row_reason.year
            and unprotected.buyer_area_code = row_reason.buyer_area_code
            and unprotected.buyer_division_code = row_reason.buyer_division_code
    left join origin_reasons
        on
            unprotected.year = origin_reasons.year
            and unprotected.buyer_area_code = origin_reasons.buyer_area_code
            and unprotected.buyer_division_code = origin_reasons.buyer_division_code
)

select * from final
