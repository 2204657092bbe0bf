-- The cells of fct_firm_dynamics before disclosure control: one row per area x division x
-- year of the register (Sichuan and Chongqing): enterprises open in the year, entries (opened
-- in the year) and exits (closed in the year), each counted in the area and division they had
-- in that month; the gross output reported for the year there and that of the ten largest
-- enterprises (a relocated enterprise's output counts in each area for its months there); and
-- the cell's contributors for disclosure control (the absolute output of all reporting
-- enterprises and of the largest two, macro disclosure_cells); fct_firm_dynamics applies the rules.
-- Incremental by year: a row depends only on the enterprise months and reports of its year
-- (entries and exits through the months of the opening and closing dates), so a run deletes and
-- rebuilds the years from that of microdata_layer_window_start on and keeps the earlier ones
-- (a change of an opening or closing date brings its month into the window: see
-- int_microdata_enterprise_months).
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

with

enterprise_months as (
    select * from {{ ref('int_microdata_enterprise_months') }}
    {%- if window_start %}
    where month >= date_trunc('year', {{ window_start }})
    {%- endif %}
),

history as (
    select distinct
        credit_code,
        opened_on,
        closed_on
    from {{ ref('int_microdata_enterprise_history') }}
),

history_basis as (
    select basis from {{ ref('int_microdata_enterprise_history') }}
),

reports as (
    select * from {{ ref('fct_enterprise_month') }}
    {%- if window_start %}
    where year >= year({{ window_start }})
    {%- endif %}
),

cells as (
    select distinct
        cast(year(month) as integer) as year,
        area_code,
        area_group,
        province_code,
        division_code
    from enterprise_months
),

active as (
    select
        cast(year(month) as integer) as year,
        area_code,
        division_code,
        count(distinct credit_code) as n_open_enterprises
    from enterprise_months
    where is_open
    group by all
),

-- Entries and exits in the cell of the month of the opening and of the closing date.
entries_exits as (
    select
        cast(year(enterprise_months.month) as integer) as year,
        enterprise_months.area_code,
        enterprise_months.division_code,
        count(*) filter (where enterprise_months.month = date_trunc('month', history.opened_on)) as n_entries,
        count(*) filter (where enterprise_months.month = date_trunc('month', history.closed_on)) as n_exits
    from history
    inner join enterprise_months
        on history.credit_code = enterprise_months.credit_code
            and enterprise_months.month in (
                date_trunc('month', history.opened_on), date_trunc('month', history.closed_on)
            )
    group by all
),

firm_output as (
    -- Summed as decimals (to the fen): a sum of doubles depends on the order of the rows, and an
    -- incremental build must give the same figures as a full one.
    select
        year,
        area_code,
        division_code,
        credit_code,
        sum(cast(gross_output_yuan as decimal(38, 2))) as gross_output_yuan,
        min(basis) as basis
    from reports
    group by all
),

ranked as (
    select
        *,
        row_number()
            over (
                partition by year, area_code, division_code
                order by gross_output_yuan desc, credit_code asc
            )
            as output_rank
    from firm_output
),

output as (
    select
        year,
        area_code,
        division_code,
        count(*) as n_reporting_enterprises,
        sum(gross_output_yuan) as gross_output_yuan,
        sum(gross_output_yuan) filter (where output_rank <= 10) as top10_gross_output_yuan,
        min(basis) as basis
    from ranked
    group by all
),

contributions as (
    select
        year,
        area_code,
        division_code,
        credit_code as enterprise_id,
        gross_output_yuan as contribution
    from firm_output
),

disclosure as (
    {{ disclosure_cells('contributions', ['year', 'area_code', 'division_code']) }}
),

basis as (
    select min(basis) as basis from history_basis
),

final as (
    select
        cells.year,
        cells.area_code,
        cells.area_group,
        cells.province_code,
        cells.division_code,
        cast(coalesce(active.n_open_enterprises, 0) as bigint) as n_open_enterprises,
        cast(coalesce(entries_exits.n_entries, 0) as bigint) as n_entries,
        cast(coalesce(entries_exits.n_exits, 0) as bigint) as n_exits,
        cast(coalesce(output.n_reporting_enterprises, 0) as bigint) as n_reporting_enterprises,
        cast(output.gross_output_yuan as decimal(38, 2)) as gross_output_yuan,
        cast(output.top10_gross_output_yuan as decimal(38, 2)) as top10_gross_output_yuan,
        disclosure.total_abs_yuan,
        disclosure.top2_abs_yuan,
        coalesce(output.basis, basis.basis) as basis
    from cells
    cross join basis
    left join active
        on
            cells.year = active.year
            and cells.area_code = active.area_code
            and cells.division_code = active.division_code
    left join entries_exits
        on
            cells.year = entries_exits.year
            and cells.area_code = entries_exits.area_code
            and cells.division_code = entries_exits.division_code
    left join output
        on
            cells.year = output.year
            and cells.area_code = output.area_code
            and cells.division_code = output.division_code
    left join disclosure
        on
            cells.year = disclosure.year
            and cells.area_code = disclosure.area_code
            and cells.division_code = disclosure.division_code
)

select * from final
