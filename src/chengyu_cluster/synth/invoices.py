"""Step 5: the invoice deliveries, one Parquet file per month."""

from __future__ import annotations

from pathlib import Path

from chengyu_cluster.synth.plan import Plan, SynthResult, first_day_of_month
from chengyu_cluster.synth.shape import P_LATE1, P_LATE2, P_RED, P_RED_FULL
from chengyu_cluster.synth.sql_text import bits, parquet_rows, quoted_path, uniform


def write_invoices(con, plan: Plan, result: SynthResult, say) -> None:
    """supply_invoices/delivery_YYYY-MM.parquet for each delivered month; counts into result."""
    cfg, seed = plan.cfg, plan.seed
    months = con.execute("select m, month_start, days, intensity, ci_start, ci_end from months order by m").fetchall()
    wide = cfg.invoices * months[-1][5] >= 2**62
    n_invoices = n_red = 0
    for d in range(plan.last + 1):
        is_final = d == cfg.months - 1
        month = first_day_of_month(cfg.start_year, d)
        path = plan.out / "supply_invoices" / f"delivery_{month:%Y-%m}.parquet"
        con.execute(f"create or replace temp table delivery_blocks ({DELIVERY_BLOCK_COLUMNS})")
        for lag in (2, 1, 0):
            if d - lag >= 0:
                con.execute(_delivery_blocks_sql(d, lag, is_final, seed, months[d - lag], wide))
        con.execute(_invoice_sql(d, is_final, seed, path))
        n, r = parquet_rows(con, path, "count(*), count(original_invoice_id)")
        n_invoices += n
        n_red += r
        result.files += 1
        if d % 12 == 11 or d == plan.last:
            say(f"supply_invoices: {n_invoices:,} rows through {month:%Y-%m}")
    result.rows["supply_invoices"] = n_invoices
    result.rows["red_letter_invoices"] = n_red


DELIVERY_BLOCK_COLUMNS = """m integer, month_start date, days integer, link_id bigint, n bigint, first_index bigint,
    month_value double, seller_code varchar, buyer_code varchar, seller_province varchar, tax_class_code varchar,
    j_from bigint, j_to bigint"""


def _delivery_blocks_sql(d: int, lag: int, is_final: bool, seed: int, month: tuple, wide: bool) -> str:
    """The blocks (link x month) of month d - lag that delivery d draws from, in link order.

    A block's invoices are split by count into on time, one month late and two months late;
    delivery d takes month d's on-time part and the late parts of the two months before (the
    final delivery takes all that is left). The month's numbers come in as literals and the
    rows are inserted in link order, so the invoices stream from the table in that order.
    `wide`: count with HUGEINT, needed only when invoices x cumulative intensity could pass
    the BIGINT range.
    """
    u = lambda key, stream: uniform(key, stream, seed)  # noqa: E731
    m, month_start, days, intensity, ci_start, ci_end = month
    big = "::hugeint" if wide else ""
    n_expr = (
        f"((l.n_link{big} * ({ci_end} - l.a_base)) // l.a_total "
        f"- (l.n_link{big} * ({ci_start} - l.a_base)) // l.a_total)::bigint"
    )
    if lag == 0:
        j_from, j_to = "0", ("n" if is_final else "n_on")
    elif lag == 1:
        j_from, j_to = "n_on", ("n" if is_final else "n_on + n_late1")
    else:
        j_from, j_to = "n_on + n_late1", "n"
    return f"""
        insert into delivery_blocks
        with lm as (
            select l.link_id, l.seller_code, l.buyer_code, l.seller_province, l.tax_class_code,
                l.annual_yuan / 12 * {intensity} as month_value,
                (l.link_offset + (l.n_link{big} * ({ci_start} - l.a_base)) // l.a_total)::bigint as first_index,
                {n_expr} as n
            from link_alloc l
            where {m} between l.first_m and l.last_m
        ), counted as (
            select *,
                least(n, floor(n * {P_LATE1} + {u(f"link_id * 4096 + {m}", 31)}))::bigint as n_late1,
                floor(n * {P_LATE2} + {u(f"link_id * 4096 + {m}", 32)})::bigint as n_late2_raw
            from lm where n > 0
        ), split as (
            select *, n - n_late1 - least(n_late2_raw, n - n_late1) as n_on from counted
        )
        select {m}, date '{month_start}', {days}, link_id, n, first_index, month_value, seller_code, buyer_code,
            seller_province, tax_class_code, {j_from}, {j_to}
        from split
    """


def _invoice_sql(d: int, is_final: bool, seed: int, path: Path) -> str:
    """COPY of delivery d: one row per invoice of the delivery's blocks, and a red-letter row
    after each invoice that is cancelled (`d` and `is_final` are implied by delivery_blocks)."""
    rate = "case when row_date < date '2018-05-01' then 0.17 when row_date < date '2019-04-01' then 0.16 else 0.13 end"
    return f"""
        copy (
            with {_invoice_rows_ctes(seed)}
            select
                printf('%02d%s%016d', year(row_date) % 100, seller_province,
                       i + case when is_red then 5000000000000000 else 0 end) as invoice_id,
                seller_code, buyer_code, row_date as issue_date,
                case when not is_red then blue_amount
                     when {bits("h2", 2)} < {P_RED_FULL} then -blue_amount
                     else -round(blue_amount * (0.1 + 0.8 * {bits("hash(h2)", 0)}), 2)::decimal(18, 2)
                end as amount_yuan,
                round(amount_yuan * {rate}, 2)::decimal(18, 2) as tax_yuan,
                tax_class_code,
                case when is_red then printf('%02d%s%016d', year(issue_date) % 100, seller_province, i)
                end as original_invoice_id,
                'synthetic' as basis
            from dated
        ) to {quoted_path(path)} (format parquet, compression zstd)
    """


def _invoice_rows_ctes(seed: int) -> str:
    """The invoices of delivery_blocks, their blue amounts, and a second row where cancelled.
    Two hashes per invoice give six numbers of 21 bits (2 million steps: fine for a day of the
    month, a 1.5 % share or a Box-Muller normal)."""
    normal = f"sqrt(-2 * ln({bits('h1', 1)})) * cos(2 * pi() * {bits('h1', 2)})"
    return f"""inv as (
                select b.first_index + unnest(range(b.j_from, b.j_to)) as i, b.month_start, b.days, b.n,
                    b.month_value, b.seller_code, b.buyer_code, b.seller_province, b.tax_class_code
                from delivery_blocks b where b.j_to > b.j_from
            ),
            hashed as (
                select inv.*, hash(hash(i, {seed}, 50)) as h1, hash(hash(i, {seed}, 51)) as h2 from inv
            ),
            blue as (
                select i, month_start, days, seller_code, buyer_code, seller_province, tax_class_code, h2,
                    month_start + floor({bits("h1", 0)} * days)::int as issue_date,
                    round(greatest(1.0, month_value / n * exp(0.6 * {normal} - 0.18)), 2)::decimal(18, 2)
                        as blue_amount
                from hashed
            ),
            expanded as (
                select blue.*,
                    unnest(case when {bits("h2", 0)} < {P_RED} then [false, true] else [false] end) as is_red
                from blue
            ),
            dated as (
                select expanded.*,
                    case when is_red then least(month_start + days - 1,
                             issue_date + floor({bits("h2", 1)} * 20)::int) else issue_date end as row_date
                from expanded
            )"""
