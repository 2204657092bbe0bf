"""Step 3: monthly reports of the register firms and the report files."""

from __future__ import annotations

from chengyu_cluster.synth.plan import Plan, SynthResult, first_day_of_month
from chengyu_cluster.synth.shape import OUTPUT_PER_EMPLOYEE_YUAN
from chengyu_cluster.synth.sql_text import normal, parquet_rows, quoted_path


def create_firm_months(con, plan: Plan) -> None:
    """firm_months: each register firm's output, revenue and employees in each active month."""
    u, key = plan.u, "f.k * 1000 + mo.m"
    con.execute(f"""
        create table firm_months as
        select f.k, f.credit_code, f.reports_ytd, mo.m, mo.month_start,
            f.size_yuan / 12 * mo.intensity * exp(0.15 * {normal(key, 40, plan.seed)} - 0.01125)
                as output_yuan,
            0.97 + 0.06 * {u(key, 42)} as revenue_ratio,
            greatest(1, round(f.size_yuan / {OUTPUT_PER_EMPLOYEE_YUAN} * (0.95 + 0.1 * {u(key, 43)})))::int
                as employees
        from firm_life f
        join months mo on mo.month_start >= date_trunc('month', f.active_from)
            and (f.closed_on is null or mo.month_start <= f.closed_on)
        where f.in_register
    """)


# January and February come as one report dated February; ytd reporters cumulate within the year.
REPORTS_SQL = """
    create table reports as
    with periods as (
        select k, credit_code, reports_ytd,
            case when month(month_start) = 1 then month_start + interval 1 month else month_start end::date
                as report_month,
            output_yuan, output_yuan * revenue_ratio as revenue_yuan, employees
        from firm_months
    ),
    by_report as (
        select k, credit_code, any_value(reports_ytd) as reports_ytd, report_month,
            sum(output_yuan) as output_yuan, sum(revenue_yuan) as revenue_yuan, max(employees) as employees
        from periods group by k, credit_code, report_month
    )
    select credit_code, report_month,
        case when reports_ytd then 'ytd' else 'month' end as value_kind,
        round(case when reports_ytd then sum(output_yuan) over w else output_yuan end, 2) as gross_output_yuan,
        round(case when reports_ytd then sum(revenue_yuan) over w else revenue_yuan end, 2) as revenue_yuan,
        employees
    from by_report
    window w as (partition by k, year(report_month) order by report_month rows unbounded preceding)
"""


def write_reports(con, plan: Plan, result: SynthResult) -> int:
    """enterprise_month/report_YYYY-MM.parquet for each delivered month but January; the rows."""
    n_reports = 0
    for m in range(1, plan.last + 1):
        month = first_day_of_month(plan.cfg.start_year, m)
        if month.month == 1:
            continue
        path = plan.out / "enterprise_month" / f"report_{month:%Y-%m}.parquet"
        con.execute(f"""
            copy (
                select credit_code, report_month, value_kind, gross_output_yuan, revenue_yuan, employees,
                    'synthetic' as basis
                from reports where report_month = date '{month}'
                order by credit_code
            ) to {quoted_path(path)} (format parquet, compression zstd)
        """)
        n_reports += parquet_rows(con, path)[0]
        result.files += 1
    return n_reports
