"""`chengyu synth`: a deterministic generator of synthetic enterprise microdata.

It writes the three inputs of the microdata layer in the documented layout
(docs/microdata_layout.md), every row labelled ``basis = 'synthetic'``:

    DIR/enterprises/register.parquet               the register with its history
    DIR/enterprise_month/report_YYYY-MM.parquet    one file per report month (none for January)
    DIR/supply_invoices/delivery_YYYY-MM.parquet   one file per monthly delivery of invoices
    DIR/SYNTHETIC.json                             parameters and row counts (not an input)

The steps, in the order `synth` runs them (each creates the DuckDB tables the later ones read):
reference.py (seats, distances, cells, classes, input mix, months), firms.py (firms, their
history, the register file), reports.py (monthly reports), links.py (supply links and the
invoice count of each), invoices.py (the deliveries). shape.py holds the numbers they draw
from, plan.py the arguments, sql_text.py the SQL expressions they share.

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
from pathlib import Path

from chengyu_cluster.outputs import new_folder
from chengyu_cluster.synth.firms import (
    REGISTER_ROWS_SQL,
    create_firm_events,
    create_firm_life,
    create_firms,
    write_register,
)
from chengyu_cluster.synth.invoices import write_invoices
from chengyu_cluster.synth.links import create_supply_links
from chengyu_cluster.synth.plan import Plan, SynthConfig, SynthResult, first_day_of_month
from chengyu_cluster.synth.reference import reference_tables
from chengyu_cluster.synth.reports import REPORTS_SQL, create_firm_months, write_reports

__all__ = ["SynthConfig", "SynthResult", "run_synth", "synth"]


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
    plan = Plan(
        cfg=cfg,
        out=out,
        last=last,
        seed=int(cfg.seed),
        start=dt.date(cfg.start_year, 1, 1),
        end=first_day_of_month(cfg.start_year, cfg.months),
        as_of_end=first_day_of_month(cfg.start_year, last + 1),
    )
    result = SynthResult(out)
    say = progress or (lambda line: None)
    reference_tables(con, project_dir, cfg)
    create_firms(con, plan)
    create_firm_life(con, plan)
    create_firm_events(con, plan)
    con.execute(REGISTER_ROWS_SQL)
    result.rows["enterprises"] = write_register(con, plan)
    result.files += 1
    say(f"enterprises: {result.rows['enterprises']} rows")
    create_firm_months(con, plan)
    con.execute(REPORTS_SQL)
    result.rows["enterprise_month"] = write_reports(con, plan, result)
    say(f"enterprise_month: {result.rows['enterprise_month']} rows")
    create_supply_links(con, plan)
    write_invoices(con, plan, result, say)
    return result


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
