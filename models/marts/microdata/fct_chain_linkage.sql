-- Chain linkage between the two provinces: one row per seller division x buyer division x
-- year, the net invoiced flows Sichuan -> Chongqing and Chongqing -> Sichuan (all enterprises
-- of each province, and the cluster members among themselves; int_chain_linkage_cells), and
-- their growth on the year before. Growth is NULL unless both years have twelve months of
-- invoices (a part year is no year) and the earlier flow is positive.
-- Disclosure control (docs/microdata_layout.md): a flow is a cell of its sellers and of its
-- buyers; it is published only when both sides pass the threshold and dominance rules, else NULL
-- with the reason in sichuan_to_chongqing_suppression / chongqing_to_sichuan_suppression (the
-- invoice count and the growth go with it; growth also when the year before was suppressed). The
-- members' flow is part of the flow: all - members is the non-members' flow, so a members' flow
-- is suppressed ('secondary') when the non-members' part fails and the whole flow is published.
-- A flow without any invoice is a published zero. No totals over divisions are published.
-- A table rebuilt on every run from its cells (incremental by year), so no window here.
{%- set directions = ['sichuan_to_chongqing', 'chongqing_to_sichuan'] %}

with

cells as (
    select
        *,
        -- A flow fails when either side fails; 'too_few_enterprises' sorts after 'dominated' and wins
        -- (greatest skips a NULL on DuckDB and Spark).
        greatest(
            {{ disclosure_reason('seller_n_enterprises', 'seller_top2_abs_yuan', 'seller_total_abs_yuan') }},
            {{ disclosure_reason('buyer_n_enterprises', 'buyer_top2_abs_yuan', 'buyer_total_abs_yuan') }}
        ) as primary_reason
    from {{ ref('int_chain_linkage_cells') }}
),

-- The members' and non-members' parts of the published flows: the flow is their total.
published_parts as (
    select parts.*
    from cells as parts
    inner join cells as flows
        on
            parts.year = flows.year
            and parts.seller_division_code = flows.seller_division_code
            and parts.buyer_division_code = flows.buyer_division_code
            and parts.direction = flows.direction
    where parts.scope <> 'all' and flows.scope = 'all' and flows.primary_reason is null
),

protected_parts as (
    {{ disclosure_secondary(
        'published_parts', ['year', 'seller_division_code', 'buyer_division_code', 'direction'], 'scope', 'amount_yuan'
    ) }}
),

cell_reasons as (
    select
        cells.*,
        coalesce(protected_parts.suppression_reason, cells.primary_reason) as suppression_reason
    from cells
    left join protected_parts
        on
            cells.year = protected_parts.year
            and cells.seller_division_code = protected_parts.seller_division_code
            and cells.buyer_division_code = protected_parts.buyer_division_code
            and cells.direction = protected_parts.direction
            and cells.scope = protected_parts.scope
),

by_year as (
    select
        year,
        seller_division_code,
        buyer_division_code,
        {%- for direction in directions %}
            {%- for scope, prefix in [('all', ''), ('members', 'members_')] %}
                cast(
                    coalesce(sum(amount_yuan) filter (where direction = '{{ direction }}' and scope = '{{ scope }}'), 0)
                    as decimal(38, 2)
                ) as {{ prefix }}{{ direction }}_yuan,
                max(suppression_reason) filter (where direction = '{{ direction }}' and scope = '{{ scope }}')
                    as {{ prefix }}{{ direction }}_reason,
            {%- endfor %}
            cast(coalesce(sum(n_invoices) filter (where direction = '{{ direction }}' and scope = 'all'), 0) as bigint)
                as {{ direction }}_invoices,
        {%- endfor %}
        max(months_covered) as months_covered,
        min(basis) as basis
    from cell_reasons
    group by year, seller_division_code, buyer_division_code
),

with_previous as (
    select
        *,
        {%- for direction in directions %}
            lag({{ direction }}_yuan) over pair as previous_{{ direction }}_yuan,
            lag({{ direction }}_reason) over pair as previous_{{ direction }}_reason,
        {%- endfor %}
        lag(year) over pair as previous_year,
        lag(months_covered) over pair as previous_months_covered
    from by_year
    window pair as (
        partition by seller_division_code, buyer_division_code
        order by year
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
)

select * from final
