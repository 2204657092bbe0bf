"""`chengyu synth`: a deterministic generator of synthetic enterprise microdata.

It writes the three inputs of the microdata layer in the documented layout
(docs/microdata_layout.md), every row labelled ``basis = 'synthetic'``:

    DIR/enterprises/register.parquet               the register with its history
    DIR/enterprise_month/report_YYYY-MM.parquet    one file per report month (none for January)
    DIR/supply_invoices/delivery_YYYY-MM.parquet   one file per monthly delivery of invoices
    DIR/SYNTHETIC.json                             parameters and row counts (not an input)

Layout (columns, types, meaning)
--------------------------------
enterprises: one row per enterprise and state of its register record.
    credit_code     VARCHAR   unified social credit code, 18 characters, GB 32100-2015 check digit
    name            VARCHAR   enterprise name
    area_code       VARCHAR   GB/T 2260 county-level code where the enterprise is located
    industry_class  VARCHAR   GB/T 4754-2017 class: section letter + 4 digits, e.g. C3670
    above_scale     BOOLEAN   in the above-scale register (main business revenue >= 20 million yuan)
    opened_on       DATE      date the enterprise was established
    closed_on       DATE      date it closed (NULL while open)
    record_date     DATE      date from which this row's area, class and flag hold (SCD history;
                              a register snapshot or a change record, both read the same way)
    basis           VARCHAR   'reported' for real microdata, 'synthetic' here
enterprise_month: one row per enterprise and report month.
    credit_code        VARCHAR
    report_month       DATE     first day of the month the report is for; the January and
                                February figures come as one report dated February
    value_kind         VARCHAR  'ytd' (cumulative from January, 累计值) or 'month'; one kind per
                                enterprise and year
    gross_output_yuan  DOUBLE   gross industrial output at current prices, yuan
    revenue_yuan       DOUBLE   main business revenue, yuan
    employees          INTEGER  average number of employed persons in the period (not summed)
    basis              VARCHAR
supply_invoices: one row per VAT invoice between two enterprises.
    invoice_id          VARCHAR       20-digit invoice number, unique
    seller_code         VARCHAR       seller's credit code
    buyer_code          VARCHAR       buyer's credit code
    issue_date          DATE
    amount_yuan         DECIMAL(18,2) amount excluding tax; negative on a red-letter invoice
    tax_yuan            DECIMAL(18,2) VAT; negative on a red-letter invoice
    tax_class_code      VARCHAR       19-digit tax classification code of the goods
    original_invoice_id VARCHAR       the invoice a red-letter invoice cancels; NULL otherwise
    basis               VARCHAR

Shape, with sources where they exist (everything else is an assumption, labelled so)
-----------------------------------------------------------------------------------
- Firm sizes: annual gross output is Pareto distributed above the above-scale threshold
  of 20 million yuan (NBS definition of 规模以上工业企业 since 2011), tail index 1.08 so
  that the mean is about 270 million yuan, close to Sichuan's 2023 revenue per above-scale
  enterprise (49,344.7 亿元 / 18,044 enterprises = 2.73 亿元; seeds F0031, F0032). A Pareto
  tail near 1 is Zipf's law for firm sizes (Axtell, Science 293, 2001). Capped at 150 billion.
- Where firms are: the register holds enterprises of Sichuan and Chongqing only (what the two
  statistics bureaus hold); counterparts elsewhere appear only on invoices. Firm counts per
  area follow the areas' GDP (2017 where the seeds have it: F0130, F0136, F0140, F0149, F0152,
  F0155; Yubei 2016 F0190, Jiangjin 2023 F0177; Jiangbei and Yongchuan assumed) times the
  relative industrial intensity priors (seeds/estimation_priors.csv P30-P34). Per division:
  the province's baseline equipment mix (priors P01-P16) times the specialty multiplier of
  the area's claims (seeds/area_specialties.csv with priors P20-P25); C39 and the supplier
  divisions C29, C31, C32 (outside the equipment definition) have assumed shares.
- Seasonality: January and February are reported together (NBS releases them as one
  period because of the Spring Festival); assumed monthly factors are low in January and
  February and high in December. Nominal growth 7.9 % a year, Sichuan's equipment output
  from 5,840 亿元 (2017, F0038) to 7,327.8 亿元 (2020, F0039).
- Year-to-date and monthly reports: 80 % of enterprises report year-to-date values, the
  rest monthly values (assumption; both kinds exist in practice).
- Supply links: every firm buys from 2 to 40 suppliers (more for larger firms). A supplier
  is drawn in three steps: its division from an assumed division-to-division input mix
  (stylised, not taken from an input-output table); its area seat from a gravity model,
  mass / distance (distance elasticity 1: Disdier & Head, Rev. Econ. Stat. 90(1), 2008),
  halved across a provincial border (border effects between Chinese provinces: Poncet,
  China Econ. Rev. 14(1), 2003; the factor 0.5 is assumed), distance between seats as
  great-circle distance, 20 km inside one seat (the mass of a seat and division is its
  weight in GDP units, as for the firm counts; the rest of China's seats weigh about 14 times
  Sichuan and Chongqing); the firm within the seat and division in proportion to its size. \
Purchases are 80 % of the buyer's output (intermediate input
  coefficient of machinery in China's 2007 input-output table: 0.808, F0210).
- Invoices: the K invoices are spread over months by seasonal output, then over the supply
  links active that month in proportion to their purchases; each invoice's amount is the
  link's monthly purchases divided by its number of invoices, times lognormal noise. VAT is
  17 % before 2018-05-01, 16 % to 2019-03-31 and 13 % after (财税〔2018〕32号; 财政部 税务总局
  海关总署公告2019年第39号). 1.5 % of invoices are cancelled by a red-letter invoice (红字发票)
  in the same month: 70 % in full, the rest in part (assumption).
- Late invoices: 4 % of a month's invoices arrive one delivery late and 1 % two deliveries
  late (assumption); the last delivery of the generated period carries all that is left.
- History: 2 % of enterprises relocate once (to another seat of the same province, weighted
  by mass), 3 % are reclassified once (half within their division), 3 % a year close, and
  15 % open during the period (assumptions).
- Credit codes: '91' (enterprise legal person registered by the market regulator), the
  six-digit county code of first registration, a nine-character organisation code (eight
  digits unique per firm and a GB 11714-1997 check character), and the GB 32100-2015 check
  character. Relocated firms keep their code, as real firms do.
- Out-of-register counterparts (small local firms and firms in the rest of China) number as
  many as the register's firms; their division is unknown to the warehouse. The data's scope
  is what tax bureaus of the two provinces hold: invoices with at least one party in Sichuan
  or Chongqing.

Determinism: every random number is ``hash(key, seed, stream)`` mapped to [0, 1) (DuckDB's
hash of the same values is the same on every run and thread count), integer invoice counts
are apportioned with exact integer arithmetic, and every file is written in a fixed order:
the same arguments give byte-identical files. Nothing the size of the invoices is held in
memory: they stream from DuckDB's range and unnest into Parquet, one delivery at a time.

Seat coordinates: the area seats' latitude and longitude (WGS 84, degrees) from the
Wikipedia infoboxes of the city or district (rounded to 0.01 degree); the seats of the rest
of Sichuan, the rest of Chongqing and the rest of China are a few representative cities.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from chengyu_cluster.microdata.credit_codes import org_check_sql, uscc_check_sql
from chengyu_cluster.outputs import new_folder
from chengyu_cluster.synth.shape import (
    ANNUAL_GROWTH,
    BORDER_FACTOR,
    DIVISION_CLASSES,
    EXIT_RATE,
    INPUT_MIX,
    INTERMEDIATE_SHARE,
    INTERNAL_KM,
    OUTPUT_PER_EMPLOYEE_YUAN,
    OUTSIDE_LOCAL_FACTOR,
    P_LATE1,
    P_LATE2,
    P_OPEN_DURING,
    P_RECLASS,
    P_RED,
    P_RED_FULL,
    P_RELOCATE,
    P_YTD,
    PARETO_ALPHA,
    PARETO_MIN_YUAN,
    SEASONAL,
    SEATS,
    SIZE_CAP_YUAN,
    division_weights,
)

# Streams: the third argument of hash(), one per random decision, so that decisions never share a number.
_TWO53 = "9007199254740992.0"


def _u(key: str, stream: int, seed: int) -> str:
    """SQL for a number in (0, 1) drawn from hash(key, seed, stream).

    DuckDB combines the hashes of several arguments in a way that leaves the numbers of
    neighbouring streams correlated (about 0.6 for streams 5 and 6); hashing the combined
    hash once more removes that (measured: |correlation| < 0.003 over a million keys). The top
    53 bits make a double exactly, so the number is never 0 or 1.
    """
    return f"(((hash(hash({key}, {seed}, {stream})) >> 11)::double + 0.5) / {_TWO53})"


def _normal(key: str, stream: int, seed: int) -> str:
    """SQL for a standard normal number (Box-Muller from two streams)."""
    return f"(sqrt(-2 * ln({_u(key, stream, seed)})) * cos(2 * pi() * {_u(key, stream + 1, seed)}))"


# ---- the generator ---------------------------------------------------------------------


@dataclass
class SynthConfig:
    enterprises: int
    months: int
    invoices: int
    seed: int
    start_year: int = 2019
    # Write only what was delivered up to this month (YYYY-MM): the data as of that month.
    as_of: str | None = None
    threads: int | None = None
    memory_limit: str = "3GB"


@dataclass
class SynthResult:
    out_dir: Path
    rows: dict[str, int] = field(default_factory=dict)
    files: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class _Plan:
    """What the steps need, derived once from the arguments. Only integers and dates computed
    here (never a user string) are written into the steps' SQL; paths are quoted literals."""

    cfg: SynthConfig
    out: Path  # the folder being written
    last: int  # index of the last delivered month
    seed: int
    start: dt.date  # first day of the generated period
    end: dt.date  # first day after the generated period
    as_of_end: dt.date  # first day after the delivered period

    def u(self, key: str, stream: int) -> str:
        return _u(key, stream, self.seed)


def _month_start(start_year: int, index: int) -> dt.date:
    return dt.date(start_year + index // 12, index % 12 + 1, 1)


def _last_delivered_month(cfg: SynthConfig) -> int:
    """Index of the last month written: the period's last, or the --as-of month; ValueError if bad."""
    if cfg.enterprises < 1 or cfg.months < 2 or cfg.invoices < 0:
        raise ValueError("need at least 1 enterprise, 2 months and 0 invoices")
    if cfg.as_of is None:
        return cfg.months - 1
    as_of = dt.date.fromisoformat(cfg.as_of + "-01")
    last = (as_of.year - cfg.start_year) * 12 + as_of.month - 1
    if not 1 <= last < cfg.months:
        raise ValueError(f"--as-of must be a month from February {cfg.start_year} within the {cfg.months} months")
    return last


def synth(project_dir: Path, out_dir: Path, cfg: SynthConfig, progress=None) -> SynthResult:
    """Write the three inputs into out_dir (which must not exist yet); return row counts."""
    last = _last_delivered_month(cfg)
    if out_dir.exists():
        raise FileExistsError(f"{out_dir} exists; give a new directory")
    started = time.perf_counter()
    # Written into a fresh folder beside out_dir and renamed into place: a failed run leaves
    # nothing, and no folder chengyu was not given is touched.
    with new_folder(out_dir) as work:
        for table in ("enterprises", "enterprise_month", "supply_invoices"):
            (work / table).mkdir()
        con = _connect(cfg, work)
        try:
            result = _generate(con, project_dir, work, cfg, last, progress)
        finally:
            con.close()
        shutil.rmtree(work / ".spill", ignore_errors=True)
        result.out_dir = out_dir
        result.seconds = time.perf_counter() - started
        _write_manifest(work, cfg, result)
    return result


def _connect(cfg: SynthConfig, work: Path):
    import duckdb

    con = duckdb.connect(
        config={
            "memory_limit": cfg.memory_limit,
            "temp_directory": str(work / ".spill"),
            "preserve_insertion_order": True,
        }
    )
    con.execute("set enable_progress_bar = false")
    if cfg.threads:
        con.execute(f"set threads = {int(cfg.threads)}")
    return con


def _write_manifest(work: Path, cfg: SynthConfig, result: SynthResult) -> None:
    """SYNTHETIC.json: the parameters and row counts (not an input of the warehouse)."""
    manifest = {
        "basis": "synthetic",
        "generator": "chengyu synth",
        "enterprises": cfg.enterprises,
        "months": cfg.months,
        "invoices": cfg.invoices,
        "seed": cfg.seed,
        "start_year": cfg.start_year,
        "as_of": cfg.as_of,
        "rows": result.rows,
    }
    (work / "SYNTHETIC.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def _generate(con, project_dir: Path, out: Path, cfg: SynthConfig, last: int, progress) -> SynthResult:
    """The steps in order; each creates the tables the later ones read."""
    plan = _Plan(
        cfg=cfg,
        out=out,
        last=last,
        seed=int(cfg.seed),
        start=dt.date(cfg.start_year, 1, 1),
        end=_month_start(cfg.start_year, cfg.months),
        as_of_end=_month_start(cfg.start_year, last + 1),
    )
    result = SynthResult(out)
    say = progress or (lambda line: None)
    _reference_tables(con, project_dir, cfg)
    _create_firms(con, plan)
    _create_firm_life(con, plan)
    _create_firm_events(con, plan)
    con.execute(REGISTER_ROWS_SQL)
    result.rows["enterprises"] = _write_register(con, plan)
    result.files += 1
    say(f"enterprises: {result.rows['enterprises']} rows")
    _create_firm_months(con, plan)
    con.execute(REPORTS_SQL)
    result.rows["enterprise_month"] = _write_reports(con, plan, result)
    say(f"enterprise_month: {result.rows['enterprise_month']} rows")
    _create_supply_links(con, plan)
    _write_invoices(con, plan, result, say)
    return result


# ---- step: reference tables (seats, distances, cells, classes, input mix, months) ------------


def _values(rows: list[tuple]) -> str:
    """A VALUES list of the generator's own constants (seats, classes, months): SQL literals."""

    def lit(v):
        if v is None:
            return "null"
        if isinstance(v, str):
            return "'" + v.replace("'", "''") + "'"
        if isinstance(v, bool):
            return "true" if v else "false"
        return repr(float(v)) if isinstance(v, float) else str(v)

    return ", ".join("(" + ", ".join(lit(v) for v in row) + ")" for row in rows)


def _sql_path(path: Path) -> str:
    """A file path as a quoted SQL string literal (COPY ... TO takes no bound parameter)."""
    return "'" + str(path).replace("'", "''") + "'"


def _parquet_rows(con, path: Path, what: str = "count(*)"):
    return con.execute(f"select {what} from read_parquet(?)", [str(path)]).fetchone()


def _reference_tables(con, project_dir: Path, cfg: SynthConfig) -> None:
    """Small tables of the shape: seats, distances, cells, classes, input mix, months."""
    _create_seats(con)
    _create_cells(con, project_dir)
    _create_classes_and_input_mix(con)
    con.execute(RELOCATION_CDF_SQL)
    _create_months(con, cfg)


def _create_seats(con) -> None:
    """seats, seat_counties and the great-circle distances between seats (haversine, 6371 km)."""
    con.execute(f"""create table seats as select * from (values {
        _values([(i, s.seat, s.group, s.province, s.lat, s.lon, s.gdp_yi) for i, s in enumerate(SEATS)])
    })
        t(seat_id, seat, grp, province, lat, lon, gdp_yi)""")
    con.execute(f"""create table seat_counties as select * from (values {
        _values([(i, c, j, len(s.counties)) for i, s in enumerate(SEATS) for j, c in enumerate(s.counties)])
    })
        t(seat_id, county, county_index, n_counties)""")
    con.execute(f"""
        create table distances as
        select a.seat_id as from_seat, b.seat_id as to_seat,
            case when a.seat_id = b.seat_id then {INTERNAL_KM}
                 else 2 * 6371 * asin(sqrt(pow(sin(radians(b.lat - a.lat) / 2), 2)
                      + cos(radians(a.lat)) * cos(radians(b.lat)) * pow(sin(radians(b.lon - a.lon) / 2), 2)))
            end as km,
            case when a.province = b.province and a.province <> 'other' then 1.0 else {BORDER_FACTOR} end as border
        from seats a cross join seats b
    """)


def _cell_rows(weights: dict[tuple[str, str], float]) -> list[tuple]:
    """(in_register, seat_id, division, weight): register cells (Sichuan and Chongqing) from the
    division weights, then out-of-register cells everywhere (rest of China by national mix)."""
    seat_id = {s.seat: i for i, s in enumerate(SEATS)}
    register = [(True, seat_id[s], d, w) for (s, d), w in sorted(weights.items())]
    divs = sorted(DIVISION_CLASSES)
    national = {d: sum(w for (s, dd), w in weights.items() if dd == d) for d in divs}
    total_national = sum(national.values())
    outside = []
    for i, s in enumerate(SEATS):
        for d in divs:
            if s.group == "rest_of_china":
                outside.append((False, i, d, s.gdp_yi * national[d] / total_national))
            elif (s.seat, d) in weights:
                outside.append((False, i, d, weights[(s.seat, d)] * OUTSIDE_LOCAL_FACTOR))
    return register + outside


def _create_cells(con, project_dir: Path) -> None:
    rows = _cell_rows(division_weights(project_dir))
    con.execute(
        f"create table cells as select * from (values {_values(rows)}) t(in_register, seat_id, division, weight)"
    )
    con.execute(CELL_CDF_SQL)


def _create_classes_and_input_mix(con) -> None:
    con.execute(f"""create table classes as select * from (values {
        _values([(d, c, j, len(cs)) for d, cs in DIVISION_CLASSES.items() for j, c in enumerate(cs)])
    })
        t(division, industry_class, class_index, n_classes)""")
    mix = [(b, s, share) for b, row in INPUT_MIX.items() for s, share in row.items()]
    con.execute(
        f"create table input_mix as select * from (values {_values(mix)}) t(buyer_division, seller_division, share)"
    )
    con.execute(INPUT_CDF_SQL)


def _month_rows(cfg: SynthConfig) -> list[tuple]:
    """(m, month_start, days, intensity, ci_start, ci_end) per generated month: intensity is the
    seasonal factor times growth; ci_* its cumulative sums in millionths, as integers, so that
    invoice counts can be apportioned with exact integer arithmetic."""
    months = []
    cumulative = 0
    for m in range(cfg.months):
        start = _month_start(cfg.start_year, m)
        nxt = _month_start(cfg.start_year, m + 1)
        intensity = SEASONAL[start.month - 1] * (1 + ANNUAL_GROWTH) ** (m / 12)
        scaled = round(intensity * 1e6)
        months.append((m, start.isoformat(), (nxt - start).days, intensity, cumulative, cumulative + scaled))
        cumulative += scaled
    return months


def _create_months(con, cfg: SynthConfig) -> None:
    con.execute(
        f"create table months as select m, month_start::date as month_start, days, intensity, "
        f"ci_start::bigint as ci_start, ci_end::bigint as ci_end "
        f"from (values {_values(_month_rows(cfg))}) t(m, month_start, days, intensity, ci_start, ci_end)"
    )


CELL_CDF_SQL = """
    create table cell_cdf as
    select in_register, seat_id, division,
        (sum(weight) over (partition by in_register order by seat_id, division rows unbounded preceding) - weight)
            / sum(weight) over (partition by in_register) as lo
    from cells
"""
INPUT_CDF_SQL = """
    create table input_cdf as
    select buyer_division, seller_division,
        (sum(share) over (partition by buyer_division order by seller_division rows unbounded preceding) - share)
            / sum(share) over (partition by buyer_division) as lo
    from input_mix
"""
# Relocation targets: seats of the same province, by mass.
RELOCATION_CDF_SQL = """
    create table relocation_cdf as
    select province, seat_id,
        (sum(gdp_yi) over (partition by province order by seat_id rows unbounded preceding) - gdp_yi)
            / sum(gdp_yi) over (partition by province) as lo
    from seats where province <> 'other'
"""


# ---- step: firms, their life and their register history ----------------------------------


def _create_firms(con, plan: _Plan) -> None:
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


def _firm_draw_columns(plan: _Plan) -> str:
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


def _closed_raw_sql(plan: _Plan) -> str:
    """Closing date of a register firm that exits during the period (at least 180 days after it
    is active), uncut: exits happen at EXIT_RATE a year."""
    p_exit = 1 - (1 - EXIT_RATE) ** (plan.cfg.months / 12)
    start, end = plan.start, plan.end
    return f"""case when in_register and u_exit < {p_exit}
                 then greatest(opened_on, date '{start}') + 180
                      + floor(u_exit_date * greatest(1, date_diff('day', greatest(opened_on, date '{start}'), \
date '{end}') - 180))::int
            end"""


def _create_firm_life(con, plan: _Plan) -> None:
    con.execute(f"""
        create table firm_life as
        select *,
            case when closed_raw < date '{plan.end}' then closed_raw end as closed_on,
            greatest(opened_on, date '{plan.start}') as active_from
        from firms
    """)


def _create_firm_events(con, plan: _Plan) -> None:
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


def _write_register(con, plan: _Plan) -> int:
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
        ) to {_sql_path(path)} (format parquet, compression zstd)
    """)
    return _parquet_rows(con, path)[0]


# ---- step: monthly reports ------------------------------------------------------------------


def _create_firm_months(con, plan: _Plan) -> None:
    """firm_months: each register firm's output, revenue and employees in each active month."""
    u, key = plan.u, "f.k * 1000 + mo.m"
    con.execute(f"""
        create table firm_months as
        select f.k, f.credit_code, f.reports_ytd, mo.m, mo.month_start,
            f.size_yuan / 12 * mo.intensity * exp(0.15 * {_normal(key, 40, plan.seed)} - 0.01125)
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


def _write_reports(con, plan: _Plan, result: SynthResult) -> int:
    """enterprise_month/report_YYYY-MM.parquet for each delivered month but January; the rows."""
    n_reports = 0
    for m in range(1, plan.last + 1):
        month = _month_start(plan.cfg.start_year, m)
        if month.month == 1:
            continue
        path = plan.out / "enterprise_month" / f"report_{month:%Y-%m}.parquet"
        con.execute(f"""
            copy (
                select credit_code, report_month, value_kind, gross_output_yuan, revenue_yuan, employees,
                    'synthetic' as basis
                from reports where report_month = date '{month}'
                order by credit_code
            ) to {_sql_path(path)} (format parquet, compression zstd)
        """)
        n_reports += _parquet_rows(con, path)[0]
        result.files += 1
    return n_reports


# ---- step: supply links ------------------------------------------------------------------


def _create_supply_links(con, plan: _Plan) -> None:
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


def _create_links(con, plan: _Plan) -> None:
    """links: a slot's seller division (input mix), seat (gravity) and firm (by size), summed
    into the buyer's annual purchases from each seller."""
    u, key = plan.u, "s.buyer_k * 64 + s.slot"
    con.execute(f"""
        create table links as
        with s1 as (
            select s.*, {u(key, 21)} as u_div, {u(key, 22)} as u_seat, {u(key, 23)} as u_firm,
                exp(0.8 * {_normal(key, 24, plan.seed)} - 0.32) as intensity
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


def _create_link_alloc(con, plan: _Plan) -> None:
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


# ---- step: invoices, one delivery at a time -----------------------------------------------


def _write_invoices(con, plan: _Plan, result: SynthResult, say) -> None:
    """supply_invoices/delivery_YYYY-MM.parquet for each delivered month; counts into result."""
    cfg, seed = plan.cfg, plan.seed
    months = con.execute("select m, month_start, days, intensity, ci_start, ci_end from months order by m").fetchall()
    wide = cfg.invoices * months[-1][5] >= 2**62
    n_invoices = n_red = 0
    for d in range(plan.last + 1):
        is_final = d == cfg.months - 1
        month = _month_start(cfg.start_year, d)
        path = plan.out / "supply_invoices" / f"delivery_{month:%Y-%m}.parquet"
        con.execute(f"create or replace temp table delivery_blocks ({DELIVERY_BLOCK_COLUMNS})")
        for lag in (2, 1, 0):
            if d - lag >= 0:
                con.execute(_delivery_blocks_sql(d, lag, is_final, seed, months[d - lag], wide))
        con.execute(_invoice_sql(d, is_final, seed, path))
        n, r = _parquet_rows(con, path, "count(*), count(original_invoice_id)")
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
    u = lambda key, stream: _u(key, stream, seed)  # noqa: E731
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


def _bits(h: str, slot: int) -> str:
    """SQL for a number in (0, 1) from 21 bits (slot 0, 1 or 2) of the 64-bit hash h."""
    return f"((({h} >> {21 * slot}) & 2097151)::double + 0.5) / 2097152.0"


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
                     when {_bits("h2", 2)} < {P_RED_FULL} then -blue_amount
                     else -round(blue_amount * (0.1 + 0.8 * {_bits("hash(h2)", 0)}), 2)::decimal(18, 2)
                end as amount_yuan,
                round(amount_yuan * {rate}, 2)::decimal(18, 2) as tax_yuan,
                tax_class_code,
                case when is_red then printf('%02d%s%016d', year(issue_date) % 100, seller_province, i)
                end as original_invoice_id,
                'synthetic' as basis
            from dated
        ) to {_sql_path(path)} (format parquet, compression zstd)
    """


def _invoice_rows_ctes(seed: int) -> str:
    """The invoices of delivery_blocks, their blue amounts, and a second row where cancelled.
    Two hashes per invoice give six numbers of 21 bits (2 million steps: fine for a day of the
    month, a 1.5 % share or a Box-Muller normal)."""
    normal = f"sqrt(-2 * ln({_bits('h1', 1)})) * cos(2 * pi() * {_bits('h1', 2)})"
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
                    month_start + floor({_bits("h1", 0)} * days)::int as issue_date,
                    round(greatest(1.0, month_value / n * exp(0.6 * {normal} - 0.18)), 2)::decimal(18, 2)
                        as blue_amount
                from hashed
            ),
            expanded as (
                select blue.*,
                    unnest(case when {_bits("h2", 0)} < {P_RED} then [false, true] else [false] end) as is_red
                from blue
            ),
            dated as (
                select expanded.*,
                    case when is_red then least(month_start + days - 1,
                             issue_date + floor({_bits("h2", 1)} * 20)::int) else issue_date end as row_date
                from expanded
            )"""


def run_synth(project_dir: Path, args) -> int:
    """`chengyu synth`: generate, print what was written; exit 2 on a bad argument, 10 on storage."""
    import resource
    import sys

    from chengyu_cluster.exits import EXIT_OK, EXIT_USAGE
    from chengyu_cluster.publish import versions as wh

    out = Path(os.path.expanduser(args.out)).absolute()
    cfg = SynthConfig(
        enterprises=args.enterprises,
        months=args.months,
        invoices=args.invoices,
        seed=args.seed,
        start_year=args.start_year,
        as_of=args.as_of,
        threads=args.threads,
        memory_limit=args.memory_limit,
    )
    try:
        with wh.storage_errors(f"write the synthetic microdata to {out}", any_io=True):
            result = synth(project_dir, out, cfg, progress=lambda line: print(f"  {line}", flush=True))
    except (FileExistsError, ValueError) as exc:
        print(f"chengyu: {exc}", file=sys.stderr)
        return EXIT_USAGE
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate = result.rows["supply_invoices"] / result.seconds if result.seconds else 0.0
    print(
        f"wrote {out} (basis synthetic): {result.rows['enterprises']:,} register rows, "
        f"{result.rows['enterprise_month']:,} monthly reports, {result.rows['supply_invoices']:,} invoices "
        f"({result.rows['red_letter_invoices']:,} red-letter) in {result.files} files; "
        f"{result.seconds:.1f} s, {rate:,.0f} invoices/s, peak memory {peak_mib:,.0f} MiB"
    )
    print(f"build with it: chengyu build --microdata {out}")
    return EXIT_OK
