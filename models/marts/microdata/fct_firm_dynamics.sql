-- Firm dynamics: one row per area x division x year of the register (Sichuan and Chongqing):
-- enterprises open in the year, entries and exits, the gross output reported for the year and
-- the share of the ten largest enterprises in it (int_firm_dynamics_cells), under disclosure
-- control (docs/microdata_layout.md): the gross output of a cell with fewer than
-- disclosure_min_enterprises reporting enterprises, or whose largest two hold more than
-- disclosure_dominance_top2_share of it, is NULL with its suppression_reason (primary). The areas
-- of a province add up to the province, whose output by division the yearbooks publish: when
-- one cell of a province x division x year is suppressed, the smallest published one beside it
-- is suppressed too ('secondary'), or the first could be recovered by subtraction. The top-10
-- output is published only when the enterprises outside the ten are enough for the threshold
-- (total - top 10 is their sum). Counts of enterprises are published: the register's counts by
-- area and division are what the yearbooks publish (企业单位数), and they reveal no value.
-- A table rebuilt on every run from its cells (incremental by year), so no window here.

with

cells as (
    select
        *,
        -- A cell without reports has no output to withhold.
        case
            when n_reporting_enterprises > 0
                then {{ disclosure_reason('n_reporting_enterprises', 'top2_abs_yuan', 'total_abs_yuan') }}
        end as primary_reason
    from {{ ref('int_firm_dynamics_cells') }}
),

protected as (
    {{ disclosure_secondary('cells', ['year', 'province_code', 'division_code'], 'area_code', 'gross_output_yuan') }}
),

final as (
    select
        year,
        area_code,
        area_group,
        province_code,
        division_code,
        n_open_enterprises,
        n_entries,
        n_exits,
        n_reporting_enterprises,
        case when suppression_reason is null then gross_output_yuan end as gross_output_yuan,
        case when suppression_reason is null and n_reporting_enterprises - 10 >= {{ var('disclosure_min_enterprises') }}
                then top10_gross_output_yuan
        end as top10_gross_output_yuan,
        -- Divided as doubles (Spark would round a decimal quotient to 6 places).
        case when suppression_reason is null and n_reporting_enterprises - 10 >= {{ var('disclosure_min_enterprises') }}
                then cast(top10_gross_output_yuan as double) / cast(nullif(gross_output_yuan, 0) as double)
        end as top10_share,
        suppression_reason,
        basis
    from protected
)

select * from final
