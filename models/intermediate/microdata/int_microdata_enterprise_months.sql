{{
    config(
        materialized='incremental',
        incremental_strategy=microdata_incremental_strategy(),
        partition_by=microdata_partition_by('month'),
        pre_hook="{{ microdata_delete_layer_window('month') }}",
    )
}}
-- Every register enterprise in every month the microdata span (from the first to the last
-- month of any report or invoice) from the month of its first record on, with the area,
-- class and flag valid at the end of that month: the key that attributes each month's figures
-- to where and what the enterprise was then. Before its first record an enterprise is not in
-- the register (its invoices count as those of a party outside it).
-- Incremental by month: a run deletes and rebuilds the months from microdata_layer_window_start
-- on; earlier months are kept. That equals a full rebuild because a month's row depends only on
--   * the register records dated by the end of the month (a record added, changed or removed
--     changes only the months from its record date on), and
--   * the enterprise's opening and closing dates (is_open; taken from its latest record: a
--     change of either changes the months from the earlier of the old and new date on), and
--   * whether the month is inside the data's span (a report or invoice file added or removed
--     brings its months into the window).
-- chengyu build plans the earliest such month (raw_microdata.load_state, microdata_planned_start)
-- (src/chengyu_cluster/microdata/plan.py, plan_carry_over); a plain dbt run rebuilds the look-back window only.
{%- set window_start = microdata_layer_window_start() if is_incremental() else none %}

with

history as (
    select * from {{ ref('int_microdata_enterprise_history') }}
),

bounds as (
    select
        min(report_month) as first_month,
        max(report_month) as last_month
    from {{ ref('stg_microdata__enterprise_month') }}
    {%- if window_start %}
    where report_month >= {{ window_start }}
    {%- endif %}
    union all
    select
        cast(date_trunc('month', min(issue_date)) as date) as first_month,
        cast(date_trunc('month', max(issue_date)) as date) as last_month
    from {{ ref('stg_microdata__supply_invoices') }}
    {%- if window_start %}
    where issue_date >= {{ window_start }}
    union all
    -- Data before the window: the span starts before it, so every month from the window's
    -- start to the last is in the span (an empty month included, as in a full build).
    select
        {{ window_start }} as first_month,
        null as last_month
    where
        exists (
            select 1 from {{ ref('stg_microdata__enterprise_month') }}
            where report_month < {{ window_start }}
        )
        or exists (
            select 1 from {{ ref('stg_microdata__supply_invoices') }}
            where issue_date < {{ window_start }}
        )
    {%- endif %}
),

span as (
    select
        min(first_month) as first_month,
        max(last_month) as last_month
    from bounds
),

months as (
    select {{ month_series('first_month', 'last_month') }} as month
    from span
    where first_month is not null
),

enterprises as (
    select distinct credit_code from history
),

grid as (
    select
        enterprises.credit_code,
        months.month,
        cast(months.month + interval 1 month - interval 1 day as date) as month_end
    from enterprises
    cross join months
),

final as (
    -- The register state at the end of each month: the history's period that holds then
    -- (valid_from inclusive, valid_to exclusive, so at most one). No period before the
    -- enterprise's first record: no row.
    select
        grid.credit_code,
        grid.month,
        history.county_code,
        history.area_code,
        history.area_group,
        history.province_code,
        history.industry_class,
        history.division_code,
        history.above_scale,
        history.opened_on <= grid.month_end
        and (history.closed_on is null or history.closed_on >= grid.month) as is_open,
        history.basis
    from grid
    inner join history
        on grid.credit_code = history.credit_code
            and grid.month_end >= history.valid_from
            and (history.valid_to is null or grid.month_end < history.valid_to)
)

select * from final
