"""Step 4: supply links, from the gravity model to the invoice count of each link."""

from __future__ import annotations

from chengyu_cluster.synth.plan import Plan
from chengyu_cluster.synth.shape import INTERMEDIATE_SHARE, PARETO_MIN_YUAN
from chengyu_cluster.synth.sql_text import normal


def create_supply_links(con, plan: Plan) -> None:
    """From firms to link_alloc: who buys from whom, how much, and how many invoices."""
    con.execute(SELLER_MASS_SQL)
    con.execute(GRAVITY_CDF_SQL)
    con.execute(FIRM_CDF_SQL)
    con.execute(SLOTS_SQL)
    _create_links(con, plan)
    con.execute(OUT_OF_SCOPE_LINKS_SQL)
    con.execute(LINK_PARTIES_SQL)
    _create_link_alloc(con, plan)
    con.execute("delete from link_alloc where n_link = 0")


# Mass of sellers per seat and division, and the gravity weights of every (buyer seat, seller
# division) over seller seats. The mass is the cell's weight in GDP units (register and
# out-of-register cells alike), not the summed size of the firms drawn there: one giant firm
# from the Pareto tail would otherwise pull every buyer's links to its seat. Only cells where
# firms were drawn count.
SELLER_MASS_SQL = """
    create table seller_mass as
    select c.seat_id, c.division, sum(c.weight) as mass
    from cells c
    where exists (select 1 from firm_life f where f.seat_id = c.seat_id and f.division = c.division)
    group by all
"""
GRAVITY_CDF_SQL = """
    create table gravity_cdf as
    with w as (
        select d.from_seat as buyer_seat, m.division as seller_division, m.seat_id as seller_seat,
            m.mass * d.border / d.km as weight
        from seller_mass m join distances d on d.to_seat = m.seat_id
    )
    select buyer_seat, seller_division, seller_seat,
        (sum(weight) over (partition by buyer_seat, seller_division order by seller_seat rows unbounded preceding)
            - weight) / sum(weight) over (partition by buyer_seat, seller_division) as lo
    from w
"""
FIRM_CDF_SQL = """
    create table firm_cdf as
    select seat_id, division, k,
        (sum(size_yuan) over (partition by seat_id, division order by k rows unbounded preceding) - size_yuan)
            / sum(size_yuan) over (partition by seat_id, division) as lo
    from firm_life
"""
# Each firm buys from 2 to 40 suppliers, more for larger firms: one slot per supplier drawn.
_N_SLOTS = f"least(40, greatest(2, round(3 * pow(size_yuan / {PARETO_MIN_YUAN}, 0.25))::int))"
SLOTS_SQL = f"""
    create table slots as
    select k as buyer_k, seat_id as buyer_seat, division as buyer_division, size_yuan as buyer_size,
        unnest(range({_N_SLOTS})) as slot,
        {_N_SLOTS} as n_slots
    from firm_life
"""


def _create_links(con, plan: Plan) -> None:
    """links: a slot's seller division (input mix), seat (gravity) and firm (by size), summed
    into the buyer's annual purchases from each seller."""
    u, key = plan.u, "s.buyer_k * 64 + s.slot"
    con.execute(f"""
        create table links as
        with s1 as (
            select s.*, {u(key, 21)} as u_div, {u(key, 22)} as u_seat, {u(key, 23)} as u_firm,
                exp(0.8 * {normal(key, 24, plan.seed)} - 0.32) as intensity
            from slots s
        ),
        s2 as (
            select s1.*, i.seller_division from s1
            asof join input_cdf i on i.buyer_division = s1.buyer_division and s1.u_div >= i.lo
        ),
        s3 as (
            select s2.*, g.seller_seat from s2
            asof join gravity_cdf g on g.buyer_seat = s2.buyer_seat and g.seller_division = s2.seller_division
                and s2.u_seat >= g.lo
        ),
        s4 as (
            select s3.*, fc.k as seller_k from s3
            asof join firm_cdf fc on fc.seat_id = s3.seller_seat and fc.division = s3.seller_division
                and s3.u_firm >= fc.lo
        )
        select buyer_k, seller_k,
            sum(buyer_size * {INTERMEDIATE_SHARE} / n_slots * intensity) as annual_yuan
        from s4 where seller_k <> buyer_k
        group by buyer_k, seller_k
    """)


# The data's scope: invoices with at least one party in Sichuan or Chongqing.
OUT_OF_SCOPE_LINKS_SQL = """
    delete from links l
    where (select grp from firm_life f where f.k = l.buyer_k) = 'rest_of_china'
        and (select grp from firm_life f where f.k = l.seller_k) = 'rest_of_china'
"""
LINK_PARTIES_SQL = """
    create table link_parties as
    select row_number() over (order by l.buyer_k, l.seller_k) - 1 as link_id, l.annual_yuan,
        s.credit_code as seller_code, b.credit_code as buyer_code,
        substr(s.credit_code, 3, 2) as seller_province,
        '1090' || substr(s.industry_class, 2, 4) || '00000000000' as tax_class_code,
        greatest(s.active_from, b.active_from) as link_from,
        least(coalesce(s.closed_on, date '9999-12-31'), coalesce(b.closed_on, date '9999-12-31')) as link_to
    from links l join firm_life s on s.k = l.seller_k join firm_life b on b.k = l.buyer_k
    order by link_id
"""


def _create_link_alloc(con, plan: Plan) -> None:
    """link_alloc: the K invoices over the links, then each link's count over its active months.

    A link's weight is its purchases over the months it is active (both firms open), in
    thousands of yuan. K is apportioned over links by cumulative weight in link order, and a
    link's invoices over its months by cumulative intensity; both with integer arithmetic, so
    the counts add up to exactly K. A link is active over one run of months, so the
    cumulative intensity of its months is a difference of the months table's cumulative sums.
    """
    start, end, k = plan.start, plan.end, int(plan.cfg.invoices)
    con.execute(f"""
        create table link_alloc as
        with spans as (
            select l.*, f.m as first_m, la.m as last_m, f.ci_start as a_base, la.ci_end - f.ci_start as a_total
            from link_parties l
            join months f on f.month_start = date_trunc('month', greatest(l.link_from, date '{start}'))
            join months la on la.month_start = date_trunc('month', least(l.link_to, date '{end}' - 1))
            where l.link_from < date '{end}' and l.link_to >= date '{start}'
        ), weighted as (
            select *, greatest(1, round(annual_yuan / 12000 * a_total / 1e6))::bigint as w from spans
            where first_m <= last_m
        ), c as (
            select *, sum(w) over (order by link_id rows unbounded preceding) as cum, sum(w) over () as total
            from weighted
        )
        select link_id, annual_yuan, seller_code, buyer_code, seller_province, tax_class_code, first_m, last_m,
            a_base, a_total,
            (({k}::hugeint * cum) // total - ({k}::hugeint * (cum - w)) // total)::bigint as n_link,
            (({k}::hugeint * (cum - w)) // total)::bigint as link_offset
        from c
        order by link_id
    """)
