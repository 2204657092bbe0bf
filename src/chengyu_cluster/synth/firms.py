"""Step 2: firms, their life, their register history and the register file."""

from __future__ import annotations

from chengyu_cluster.microdata.credit_codes import org_check_sql, uscc_check_sql
from chengyu_cluster.synth.plan import Plan
from chengyu_cluster.synth.shape import (
    EXIT_RATE,
    P_OPEN_DURING,
    P_RECLASS,
    P_RELOCATE,
    P_YTD,
    PARETO_ALPHA,
    PARETO_MIN_YUAN,
    SIZE_CAP_YUAN,
)
from chengyu_cluster.synth.sql_text import parquet_rows, quoted_path


def create_firms(con, plan: Plan) -> None:
    """firm_draws and firms: register firms (k < N) and out-of-register counterparts (k >= N),
    each placed in a cell, a county and a class, with its size, dates and credit code."""
    n_reg, u = plan.cfg.enterprises, plan.u
    con.execute(f"""
        create table firm_draws as
        select k, k < {n_reg} as in_register, {u("k", 1)} as u_cell
        from range({n_reg + max(50, n_reg)}) t(k)
    """)
    con.execute(f"""
        create table firms as
        with placed as (
            select f.k, f.in_register, c.seat_id, c.division
            from firm_draws f asof join cell_cdf c on f.in_register = c.in_register and f.u_cell >= c.lo
        ),
        drawn as (
            select f.*, s.province, s.grp, sc.county as county, cl.industry_class, {_firm_draw_columns(plan)}
            from placed f
            join seats s using (seat_id)
            join seat_counties sc on sc.seat_id = f.seat_id
                and sc.county_index = floor({u("f.k", 2)} * sc.n_counties)::int
            join classes cl on cl.division = f.division
                and cl.class_index = floor(pow({u("f.k", 3)}, 2) * cl.n_classes)::int
        ),
        coded as (
            select *,
                lpad(((k * 7919 + {plan.seed % 100000000 * 104729}) % 100000000)::varchar, 8, '0') as org8
            from drawn
        ),
        bodies as (
            select *, '91' || county || org8 || {org_check_sql("org8")} as body17 from coded
        )
        select k, in_register, seat_id, division, province, grp, county, industry_class, size_yuan,
            opened_on, reports_ytd,
            body17 || {uscc_check_sql("body17")} as credit_code,
            {_closed_raw_sql(plan)} as closed_raw,
            u_reloc, u_reloc_date, u_reloc_seat, u_reloc_county, u_reclass, u_reclass_date, u_reclass_kind,
            u_reclass_div, u_reclass_class
        from bodies
        order by k
    """)


def _firm_draw_columns(plan: Plan) -> str:
    """A firm's size (Pareto), opening date and the uniform numbers of its later decisions."""
    u, start = plan.u, plan.start
    span_days = (plan.end - start).days
    pareto = f"least({SIZE_CAP_YUAN}, {PARETO_MIN_YUAN} * pow({u('f.k', 4)}, -1.0 / {PARETO_ALPHA}))"
    return f"""
                {pareto} as size_yuan,
                case when not f.in_register or {u("f.k", 5)} >= {P_OPEN_DURING}
                     then date '{start}' - (365 + floor({u("f.k", 6)} * 9000))::int
                     else date '{start}' + floor({u("f.k", 6)} * {span_days - 1})::int end as opened_on,
                {u("f.k", 7)} as u_exit, {u("f.k", 8)} as u_exit_date,
                {u("f.k", 9)} as u_reloc, {u("f.k", 10)} as u_reloc_date, {u("f.k", 11)} as u_reloc_seat,
                {u("f.k", 12)} as u_reloc_county,
                {u("f.k", 13)} as u_reclass, {u("f.k", 14)} as u_reclass_date, {u("f.k", 15)} as u_reclass_kind,
                {u("f.k", 16)} as u_reclass_div, {u("f.k", 17)} as u_reclass_class,
                {u("f.k", 18)} < {P_YTD} as reports_ytd"""


def _closed_raw_sql(plan: Plan) -> str:
    """Closing date of a register firm that exits during the period (at least 180 days after it
    is active), uncut: exits happen at EXIT_RATE a year."""
    p_exit = 1 - (1 - EXIT_RATE) ** (plan.cfg.months / 12)
    start, end = plan.start, plan.end
    return f"""case when in_register and u_exit < {p_exit}
                 then greatest(opened_on, date '{start}') + 180
                      + floor(u_exit_date * greatest(1, date_diff('day', greatest(opened_on, date '{start}'), \
date '{end}') - 180))::int
            end"""


def create_firm_life(con, plan: Plan) -> None:
    con.execute(f"""
        create table firm_life as
        select *,
            case when closed_raw < date '{plan.end}' then closed_raw end as closed_on,
            greatest(opened_on, date '{plan.start}') as active_from
        from firms
    """)


def create_firm_events(con, plan: Plan) -> None:
    """firm_events: one relocation and one reclassification at most per register firm."""
    con.execute(f"""
        create table firm_events as
        with base as (
            select f.*, least(coalesce(closed_on, date '{plan.end}'), date '{plan.end}') as active_to from firm_life f
            where in_register
        ),
        {RELOCATION_CTES},
        {RECLASSIFICATION_CTES}
        select k, event_date, new_county, null::varchar as new_class from reloc_placed
        union all
        select k, event_date, null, new_class from reclass where new_class is not null
    """)


# An event falls at least 90 days into a firm's active span of more than 240 days.
RELOCATION_CTES = f"""reloc as (
            select b.k, b.active_from + 90 + floor(b.u_reloc_date
                       * greatest(1, date_diff('day', b.active_from, b.active_to) - 120))::int as event_date,
                r.seat_id as new_seat, b.u_reloc_county
            from base b
            asof join relocation_cdf r on r.province = b.province and b.u_reloc_seat >= r.lo
            where b.u_reloc < {P_RELOCATE} and date_diff('day', b.active_from, b.active_to) > 240
        ),
        reloc_placed as (
            select r.k, r.event_date, sc.county as new_county
            from reloc r join seat_counties sc on sc.seat_id = r.new_seat
                and sc.county_index = floor(r.u_reloc_county * sc.n_counties)::int
        )"""
# Half the reclassifications stay in the division; the other half move to another division.
RECLASSIFICATION_CTES = f"""reclass_div as (
            select b.k, b.active_from + 90 + floor(b.u_reclass_date
                       * greatest(1, date_diff('day', b.active_from, b.active_to) - 120))::int as event_date,
                case when b.u_reclass_kind < 0.5 then b.division
                     else (list_sort(list_filter(['C29','C31','C32','C33','C34','C35','C36','C37','C38',\
'C39','C40','C43'],
                                                 d -> d <> b.division)))[1 + floor(b.u_reclass_div * 11)::int] \
end as new_division,
                b.u_reclass_class, b.industry_class
            from base b
            where b.u_reclass < {P_RECLASS} and date_diff('day', b.active_from, b.active_to) > 240
        ),
        reclass as (
            select r.k, r.event_date, coalesce(
                case when cl.industry_class <> r.industry_class then cl.industry_class end,
                (select min(c2.industry_class) from classes c2
                 where c2.division = r.new_division and c2.industry_class <> r.industry_class)) as new_class
            from reclass_div r
            join classes cl on cl.division = r.new_division
                and cl.class_index = floor(r.u_reclass_class * cl.n_classes)::int
        )"""
# Register rows: the opening state, then one row per event carrying every change so far.
REGISTER_ROWS_SQL = """
    create table register_rows as
    with events as (
        select k, event_date, max(new_county) as new_county, max(new_class) as new_class
        from firm_events group by k, event_date
    ),
    states as (
        select f.k, f.opened_on as record_date, f.county as area_code, f.industry_class from firm_life f
        where f.in_register
        union all
        select e.k, e.event_date,
            coalesce(e.new_county, (select e2.new_county from events e2
                where e2.k = e.k and e2.new_county is not null and e2.event_date < e.event_date),
                f.county),
            coalesce(e.new_class, (select e2.new_class from events e2
                where e2.k = e.k and e2.new_class is not null and e2.event_date < e.event_date),
                f.industry_class)
        from events e join firm_life f using (k)
    )
    select s.k, f.credit_code, s.record_date, s.area_code, s.industry_class, f.opened_on, f.closed_on
    from states s join firm_life f using (k)
"""


def write_register(con, plan: Plan) -> int:
    """enterprises/register.parquet: the register as delivered up to the as-of month; its rows."""
    path = plan.out / "enterprises" / "register.parquet"
    cut = f"date '{plan.as_of_end}'"
    con.execute(f"""
        copy (
            select r.credit_code,
                '合成企业' || lpad(r.k::varchar, 7, '0') || '有限公司' as name,
                r.area_code, r.industry_class, true as above_scale, r.opened_on,
                case when r.closed_on < {cut} then r.closed_on end as closed_on,
                r.record_date, 'synthetic' as basis
            from register_rows r
            where r.record_date < {cut} and r.opened_on < {cut}
            order by r.credit_code, r.record_date
        ) to {quoted_path(path)} (format parquet, compression zstd)
    """)
    return parquet_rows(con, path)[0]
