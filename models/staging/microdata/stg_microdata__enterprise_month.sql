-- Monthly reports as loaded: one row per enterprise and report month, values as reported
-- (year-to-date or monthly, see value_kind). Monthly values are derived in fct_enterprise_month.
with

source as (
    select * from {{ source('microdata', 'enterprise_month') }}
),

final as (
    select
        credit_code,
        report_month,
        cast(year(report_month) as integer) as report_year,
        cast(month(report_month) as integer) as report_month_number,
        value_kind,
        gross_output_yuan as gross_output_reported_yuan,
        revenue_yuan as revenue_reported_yuan,
        employees,
        coalesce(basis, 'reported') as basis,
        {{ store_relative_path('source_file') }} as source_file
    from source
)

select * from final
