{#- Data tests of the microdata layer. Each returns the offending rows. -#}

{#- Year-to-date values may not fall within an enterprise and year by more than `tolerance`
    of the previous value (a small fall is a revision; a large one, a month value in a ytd
    column). -#}
{% test ytd_non_decreasing(model, column_name, tolerance=0.01) %}
with ordered as (
    select
        credit_code,
        report_month,
        {{ column_name }} as ytd_value,
        lag({{ column_name }}) over (
            partition by credit_code, report_year order by report_month
        ) as previous_ytd_value
    from {{ model }}
    where value_kind = 'ytd'
)
select *
from ordered
where ytd_value < previous_ytd_value * (1 - {{ tolerance }})
{% endtest %}


{#- Every red-letter invoice cancels an ordinary invoice of the same seller and buyer that
    exists, and what all red-letter invoices cancel of one invoice does not exceed it.
    `since`: check the red-letter invoices cancelling an invoice that one issued since then
    cancels (the invoices cancelled are looked up among all). -#}
{% test red_letter_netting(model, column_name, since="date '1900-01-01'") %}
with red as (
    select invoice_id, original_invoice_id, seller_code, buyer_code, amount_yuan
    from {{ model }}
    where original_invoice_id in (
        select original_invoice_id from {{ model }}
        where original_invoice_id is not null and issue_date >= {{ since }}
    )
),
originals as (
    select invoice_id, seller_code, buyer_code, amount_yuan, original_invoice_id
    from {{ model }}
    where invoice_id in (select original_invoice_id from red)
),
checked as (
    select
        red.original_invoice_id,
        count(*) as n_red_letter,
        sum(-red.amount_yuan) as cancelled_yuan,
        any_value(originals.amount_yuan) as original_yuan,
        bool_or(originals.invoice_id is null) as original_missing,
        bool_or(originals.original_invoice_id is not null) as original_is_red_letter,
        bool_or(originals.seller_code <> red.seller_code or originals.buyer_code <> red.buyer_code)
            as other_parties
    from red
    left join originals on originals.invoice_id = red.original_invoice_id
    group by red.original_invoice_id
)
select *
from checked
where original_missing or original_is_red_letter or other_parties or cancelled_yuan > original_yuan
{% endtest %}


{#- The rows of `model` with the measure summed by `group_by` equal the rows of `compare_model`
    summed the same way: nothing is lost or counted twice on the way. Summed as decimals to the
    fen, so that the order of the rows (a sum of doubles depends on it) does not matter. -#}
{% test sums_match(model, column_name, compare_model, compare_column, group_by, compare_group_by, compare_where=none) %}
with left_side as (
    select {{ group_by }} as group_key, sum(cast({{ column_name }} as decimal(38, 2))) as total from {{ model }} group by 1
),
right_side as (
    select {{ compare_group_by }} as group_key, sum(cast({{ compare_column }} as decimal(38, 2))) as total
    from {{ compare_model }}
    {% if compare_where is not none %}where {{ compare_where }}{% endif %}
    group by 1
)
select
    coalesce(left_side.group_key, right_side.group_key) as group_key,
    left_side.total as model_total,
    right_side.total as compare_total
from left_side
full outer join right_side on left_side.group_key = right_side.group_key
where coalesce(left_side.total, 0) <> coalesce(right_side.total, 0)
{% endtest %}
