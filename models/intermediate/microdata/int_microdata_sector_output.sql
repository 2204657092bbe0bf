-- Gross output built bottom-up from the enterprise reports: one row per area x division x
-- year, which replaces the estimate in fct_sector_output cell by cell (int_sector_output_supplied)
-- where the cell is a member's panel division and the year is whole. Scope: every enterprise of
-- the register (gross output at current prices), each month attributed to the area, division
-- and above-scale flag the enterprise had then; the above-scale part is kept apart for the
-- reconciliation with reported above-scale totals (audit_microdata_reconciliation).
-- coverage_share = months of the year any report covers / 12 (a year still running, or
-- starting with the data, is partial); only a cell with coverage_share = 1 is a whole year.
-- basis: reported for real microdata, synthetic for `chengyu synth` data. Each cell carries its
-- contributors (the reporting enterprises, macro disclosure_cells): fct_sector_output publishes a
-- cell the microdata supply under the disclosure control of the microdata marts.
with

reports as (
    select * from {{ ref('fct_enterprise_month') }}
),

sectors as (
    select sector_code from {{ ref('stg_reference__sectors') }}
),

covered_months as (
    select
        year,
        area_code,
        division_code,
        {{ month_series('period_start_month', 'report_month') }} as month
    from reports
),

coverage as (
    select
        year,
        area_code,
        division_code,
        count(distinct month) as months_covered
    from covered_months
    group by all
),

output as (
    select
        year,
        area_code,
        {{ any_non_null('area_group') }} as area_group,
        {{ any_non_null('province_code') }} as province_code,
        division_code,
        -- decimals (to the fen): a sum of doubles depends on the row order, and an incremental
        -- build must give the same figures as a full one
        sum(cast(gross_output_yuan as decimal(38, 2))) as output_value_yuan,
        coalesce(sum(cast(gross_output_yuan as decimal(38, 2))) filter (where above_scale), 0)
            as above_scale_output_yuan,
        count(distinct credit_code) as n_enterprises,
        count(distinct credit_code) filter (where above_scale) as n_above_scale_enterprises,
        {{ sorted_distinct_string_agg('source_file', "';'") }} as source_files,
        min(basis) as basis
    from reports
    group by year, area_code, division_code
),

contributions as (
    select
        year,
        area_code,
        division_code,
        credit_code as enterprise_id,
        cast(gross_output_yuan as decimal(38, 2)) as contribution
    from reports
),

disclosure as (
    {{ disclosure_cells('contributions', ['year', 'area_code', 'division_code']) }}
),

final as (
    select
        output.area_code,
        output.area_group,
        output.province_code,
        output.division_code as sector_code,
        sectors.sector_code is not null as in_panel,
        output.year,
        output.output_value_yuan,
        output.above_scale_output_yuan,
        output.n_enterprises,
        output.n_above_scale_enterprises,
        coverage.months_covered,
        coverage.months_covered / 12.0e0 as coverage_share,
        output.basis,
        output.source_files,
        disclosure.total_abs_yuan,
        disclosure.top2_abs_yuan,
        {{ disclosure_reason('disclosure.n_enterprises', 'disclosure.top2_abs_yuan', 'disclosure.total_abs_yuan') }}
            as disclosure_reason,
        'sum of enterprise reports: gross output at current prices, monthly values derived from year-to-date'
            as method
    from output
    inner join coverage
        on
            output.year = coverage.year
            and output.area_code = coverage.area_code
            and output.division_code = coverage.division_code
    inner join disclosure
        on
            output.year = disclosure.year
            and output.area_code = disclosure.area_code
            and output.division_code = disclosure.division_code
    left join sectors on output.division_code = sectors.sector_code
)

select * from final
