{{
    config(
        materialized='incremental',
        incremental_strategy=microdata_incremental_strategy(),
        partition_by=microdata_partition_by('report_month'),
        schema='microdata',
        pre_hook="{{ microdata_delete_window('report_month', ref('stg_microdata__enterprise_month'), 'report_month') }}",
    )
}}
-- One row per enterprise and report: the period's own values derived from the reported ones.
--   ytd:   value = ytd(m) - ytd(previous report of the same year); the first report of a year
--          covers every month from January (January-February combined: months_covered = 2).
--   month: value as reported; a February report without a January report of the same
--          enterprise and year is the combined January-February figure.
-- Attributed to the area and class valid at the end of the report month
-- (int_microdata_enterprise_months), so a relocated enterprise's months count where it was.
-- Incremental by report month: a run rebuilds the months from microdata_window_start on,
-- reading reports from the January of that year so that year-to-date differences are whole.
-- Firm-level microdata, in schema `microdata` with the rest of the layer (not the public marts).
{%- set window_start = microdata_window_start(ref('stg_microdata__enterprise_month'), 'report_month')
        if is_incremental() else none %}

with

reports as (
    select * from {{ ref('stg_microdata__enterprise_month') }}
    {%- if window_start %}
    where report_month >= date_trunc('year', {{ window_start }})
    {%- endif %}
),

enterprise_months as (
    select * from {{ ref('int_microdata_enterprise_months') }}
    {%- if window_start %}
    where month >= {{ window_start }}
    {%- endif %}
),

ordered as (
    select
        *,
        lag(report_month_number) over same_year as previous_report_month_number,
        lag(gross_output_reported_yuan) over same_year as previous_gross_output_reported_yuan,
        lag(revenue_reported_yuan) over same_year as previous_revenue_reported_yuan,
        bool_or(report_month_number = 1) over (partition by credit_code, report_year) as has_january_report
    from reports
    window same_year as (
        partition by credit_code, report_year
        order by report_month
    )
),

derived as (
    select
        *,
        case
            when value_kind = 'ytd' then coalesce(previous_report_month_number, 0) + 1
            when report_month_number = 2 and not has_january_report then 1
            else report_month_number
        end as first_month_number,
        case
            when value_kind = 'ytd' then gross_output_reported_yuan - coalesce(previous_gross_output_reported_yuan, 0)
            else gross_output_reported_yuan
        end as gross_output_yuan,
        case
            when value_kind = 'ytd' then revenue_reported_yuan - coalesce(previous_revenue_reported_yuan, 0)
            else revenue_reported_yuan
        end as revenue_yuan
    from ordered
),

final as (
    select
        derived.credit_code,
        derived.report_month,
        make_date(derived.report_year, derived.first_month_number, 1) as period_start_month,
        derived.report_month_number - derived.first_month_number + 1 as months_covered,
        derived.report_year as year,
        derived.value_kind,
        derived.gross_output_reported_yuan,
        derived.gross_output_yuan,
        derived.revenue_reported_yuan,
        derived.revenue_yuan,
        derived.employees,
        enterprise_months.county_code,
        enterprise_months.area_code,
        enterprise_months.area_group,
        enterprise_months.province_code,
        enterprise_months.industry_class,
        enterprise_months.division_code,
        enterprise_months.above_scale,
        derived.basis,
        derived.source_file
    from derived
    left join enterprise_months
        on derived.credit_code = enterprise_months.credit_code
            and derived.report_month = enterprise_months.month
    {%- if window_start %}
    where derived.report_month >= {{ window_start }}
    {%- endif %}
)

select * from final
