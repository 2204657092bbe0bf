-- VAT invoices as loaded: one row per invoice; a red-letter invoice (红字发票) is negative and
-- names the invoice it cancels. Filters on issue_date reach the Parquet scan (row-group
-- statistics), so an incremental run reads only the months it rebuilds.
with

source as (
    select * from {{ source('microdata', 'supply_invoices') }}
),

final as (
    select
        invoice_id,
        seller_code,
        buyer_code,
        issue_date,
        amount_yuan,
        tax_yuan,
        tax_class_code,
        original_invoice_id,
        original_invoice_id is not null as is_red_letter,
        coalesce(basis, 'reported') as basis,
        {{ store_relative_path('source_file') }} as source_file
    from source
)

select * from final
