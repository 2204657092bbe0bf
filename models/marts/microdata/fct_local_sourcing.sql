-- Local sourcing (本地配套率): one row per buyer area x buyer division x year, the buyer's
-- purchases (net of red-letter invoices) split by where the sellers are (the five origins of
-- int_local_sourcing_cells). The five shares sum to 1.
-- Disclosure control (docs/microdata_layout.md): the contributors of a cell are its buyers. A row
-- whose buyers fail the threshold or dominance rule is published without values
-- (suppression_reason). Each origin's amount is a cell of its own (the buyers that bought from
-- there): one that fails is NULL, and as the five add up to the published purchases, a single
-- suppressed origin takes the smallest published one with it ('secondary'); the suppressed
-- origins are listed in suppressed_origins. No totals over areas or divisions are published.
-- A table rebuilt on every run from its cells (incremental by year), so no window here.
{%- set origins = [
    'same_area', 'rest_of_own_province', 'other_province_members', 'other_province_rest', 'rest_of_china'
] %}

with

cells as (
    select
        *,
        {{ disclosure_reason('n_enterprises', 'top2_abs_yuan', 'total_abs_yuan') }} as primary_reason
    from {{ ref('int_local_sourcing_cells') }}
),

buyer_rows as (
    select * from cells
    where part = 'all'
),

-- The origins of the published rows: the purchases are their total.
published_origins as (
    select origins.*
    from cells as origins
    inner join buyer_rows
        on
            origins.year = buyer_rows.year
            and origins.buyer_area_code = buyer_rows.buyer_area_code
            and origins.buyer_division_code = buyer_rows.buyer_division_code
    where origins.part <> 'all' and buyer_rows.primary_reason is null
),

protected_origins as (
    {{ disclosure_secondary(
        'published_origins', ['year', 'buyer_area_code', 'buyer_division_code'], 'part', 'amount_yuan'
    ) }}
),

origins_by_row as (
    -- An origin without flows is a published zero.
    select
        {%- for origin in origins %}
            cast(coalesce(sum(amount_yuan) filter (where part = '{{ origin }}'), 0) as decimal(38, 2))
                as {{ origin }}_yuan,
            max(suppression_reason) filter (where part = '{{ origin }}') as {{ origin }}_reason,
        {%- endfor %}
        year,
        buyer_area_code,
        buyer_division_code
    from protected_origins
    group by year, buyer_area_code, buyer_division_code
),

final as (
    select
        buyer_rows.year,
        buyer_rows.buyer_area_code,
        buyer_rows.buyer_area_group,
        buyer_rows.buyer_province_code,
        buyer_rows.buyer_division_code,
        case when buyer_rows.primary_reason is null then buyer_rows.amount_yuan end as purchases_net_yuan,
        {%- for origin in origins %}
            case when origins_by_row.{{ origin }}_reason is null then origins_by_row.{{ origin }}_yuan end
                as {{ origin }}_yuan,
        {%- endfor %}
        -- NULL when the net purchases are not positive: no share of nothing. Divided as doubles (DuckDB
        -- divides decimals so; Spark would round a decimal quotient to 6 places).
        {%- for origin in origins %}
            case when origins_by_row.{{ origin }}_reason is null
                    then cast(origins_by_row.{{ origin }}_yuan as double)
                        / cast(nullif(greatest(buyer_rows.amount_yuan, 0), 0) as double)
            end as {{ origin }}_share,
        {%- endfor %}
        case when buyer_rows.primary_reason is null then buyer_rows.n_invoices end as n_invoices,
        case when buyer_rows.primary_reason is null then buyer_rows.n_red_letter_invoices end as n_red_letter_invoices,
        buyer_rows.months_covered,
        buyer_rows.primary_reason as suppression_reason,
        -- Empty (so NULL) for a withheld row: its origins are not listed, every value is withheld.
        nullif(concat_ws(
            ', ',
            {%- for origin in origins %}
                case when origins_by_row.{{ origin }}_reason is not null
                        then concat('{{ origin }}: ', origins_by_row.{{ origin }}_reason)
                end{{ ',' if not loop.last }}
            {%- endfor %}
        ), '') as suppressed_origins,
        buyer_rows.basis
    from buyer_rows
    -- Only published rows have origins here: a withheld row's values are all NULL.
    left join origins_by_row
        on
            buyer_rows.year = origins_by_row.year
            and buyer_rows.buyer_area_code = origins_by_row.buyer_area_code
            and buyer_rows.buyer_division_code = origins_by_row.buyer_division_code
)

select * from final
