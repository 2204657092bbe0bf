"""`chengyu report`: one self-contained HTML page with the cluster's key charts.

The charts are Vega-Lite specifications built with Altair and rendered to static SVG by
vl-convert (which bundles Vega and Vega-Lite: no network, no JavaScript in the page), so the
page opens offline in any browser. Every value that rests on estimates is marked, and each
chart's legend says how: hatched cells in the matrices, hollow points on the lines.
"""

from __future__ import annotations

import html
from pathlib import Path

import altair as alt
import duckdb
import pandas as pd
import vl_convert as vlc

from chengyu_cluster.outputs import write_file

# Debian's fonts-noto-cjk (.ci/run installs it): vl-convert measures text with it and the
# SVG names it, so Chinese area names render instead of boxes; sans-serif is the fallback.
FONT = "Noto Sans CJK SC, sans-serif"
# The Vega-Lite version of Altair's schema; vl-convert bundles it (a unit test checks).
VEGA_LITE = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
CONFIG = {
    "font": FONT,
    "axis": {"labelFontSize": 11, "titleFontSize": 12},
    "legend": {"labelFontSize": 11, "titleFontSize": 12},
}
REPORTED, ESTIMATED = "reported", "rests on estimates"
NO_VALUE = "#d9d9d9"
LINE_COLOURS = ["#c0392b", "#2471a3", "#1e8449", "#7d3c98"]
CELL_WIDTH, CELL_HEIGHT = 64, 28
LINE_HEIGHT = 13  # of the matrices' column labels (11 px text)
# Layer names: Vega gives each layer's SVG group the class "<name>_marks" (the tests count them).
CELLS, HATCH, LABELS, POINTS = "cells", "estimate_hatch", "cell_labels", "points"
# Point shapes as Vega custom symbols (unit circle): a disc, and a ring whose inner circle
# runs the other way round, so the non-zero fill rule leaves it empty (a hollow point).
DISC = "M1,0A1,1,0,1,1,-1,0A1,1,0,1,1,1,0Z"
RING = DISC + "M0.55,0A0.55,0.55,0,1,0,-0.55,0A0.55,0.55,0,1,0,0.55,0Z"
POINT_SIZE = 90


def area_label(name_zh: str | None, name_en: str) -> str:
    """How an area is named on the charts: Chinese and English, e.g. '成都市 Chengdu'."""
    return f"{name_zh} {name_en}" if isinstance(name_zh, str) and name_zh else name_en


def basis_label(estimated: bool) -> str:
    return ESTIMATED if estimated else REPORTED


def hatch_path(width: float, height: float, spacing: float = 8.0) -> str:
    """A Vega custom symbol: the outline of a width x height cell and its '/' diagonals.

    Vega draws a custom symbol path scaled by sqrt(size) / 2, so with size = width**2 one
    unit of the path is width / 2 pixels: x runs over [-1, 1] and y over
    [-height / width, height / width]. Diagonals are the lines x + y = c (pixels, y down),
    c stepping by `spacing` from -(width + height) / 2, clipped to the cell.
    """
    half_w, half_h, unit = width / 2, height / 2, width / 2

    def point(x: float, y: float) -> str:
        return f"{x / unit:.4g},{y / unit:.4g}"

    corners = [(-half_w, -half_h), (half_w, -half_h), (half_w, half_h), (-half_w, half_h)]
    parts = ["M" + "L".join(point(x, y) for x, y in corners) + "Z"]
    c = -(half_w + half_h) + spacing
    while c < half_w + half_h:
        x0, x1 = max(-half_w, c - half_h), min(half_w, c + half_h)
        parts.append(f"M{point(x0, c - x0)}L{point(x1, c - x1)}")
        c += spacing
    return "".join(parts)


def matrix_chart(
    cells: pd.DataFrame,
    rows: list[str],
    cols: list[str],
    domain: tuple[float, float, float],
    colour_title: str,
    fmt: str = "{:.2f}",
) -> alt.TopLevelMixin:
    """A heat map: one cell per row of `cells` (columns row, col, value, estimated, note).

    Colour runs blue (domain[0]) - white (domain[1]) - red (domain[2]); a null value makes the
    cell grey ('n/a'); estimated cells are hatched, as the legend says; the note (or None)
    goes into the cell's description.
    """
    data = cells.assign(shown=[None if pd.isna(v) else float(v) for v in cells["value"]])
    data["label"] = [("n/a" if pd.isna(v) else fmt.format(v)) for v in data["shown"]]
    data["basis"] = [basis_label(bool(e)) for e in data["estimated"]]
    data["description"] = [
        f"{t.row} × {t.col}: {t.label} ({t.basis})" + (f" – {t.note}" if isinstance(t.note, str) else "")
        for t in data.itertuples()
    ]
    data = data[["row", "col", "shown", "label", "basis", "description"]]

    # Column labels break at spaces ('成都市 Chengdu' on two lines); Vega stacks the lines
    # downwards from the label's anchor, so the padding lifts them clear of the cells.
    lines = max((len(str(c).split(" ")) for c in cols), default=1)
    base = alt.Chart(data).encode(
        x=alt.X(
            "col:N",
            sort=cols,
            title=None,
            axis=alt.Axis(
                orient="top",
                labelAngle=0,
                labelPadding=3 + LINE_HEIGHT * (lines - 1),
                labelLineHeight=LINE_HEIGHT,
                labelExpr="split(datum.label, ' ')",
            ),
        ),
        y=alt.Y("row:N", sort=rows, title=None),
    )
    cell = (
        base.mark_rect(stroke="white", strokeWidth=2, invalid="show")
        .encode(
            color=alt.Color(
                "shown:Q",
                title=colour_title,
                scale=alt.Scale(domain=list(domain), range=["#4178ff", "#ffffff", "#ff5541"], clamp=True),
            ),
            description="description:N",
        )
        .properties(name=CELLS)
    )
    shape = hatch_path(CELL_WIDTH, CELL_HEIGHT)
    outline = shape[: shape.index("Z") + 1]
    hatch = (
        base.transform_filter(alt.datum.basis == ESTIMATED)
        .mark_point(size=CELL_WIDTH**2, stroke="#000", strokeOpacity=0.4, strokeWidth=1, opacity=1, filled=False)
        .encode(
            shape=alt.Shape(
                "basis:N",
                title="Basis of the value",
                scale=alt.Scale(domain=[REPORTED, ESTIMATED], range=[outline, shape]),
                legend=alt.Legend(symbolSize=32**2, symbolStrokeColor="#555", symbolStrokeWidth=1),
            ),
            description="description:N",
        )
        .properties(name=HATCH)
    )
    text = (
        base.mark_text(fontSize=11, color="#222")
        .encode(text="label:N", description="description:N")
        .properties(name=LABELS)
    )
    return (
        alt.layer(cell, hatch, text)
        .properties(width=alt.Step(CELL_WIDTH), height=alt.Step(CELL_HEIGHT))
        .configure_scale(invalid={"color": {"value": NO_VALUE}})
    )


def lines_chart(points: pd.DataFrame, y_title: str) -> alt.LayerChart:
    """One line per series (columns series, year, value, estimated); reported points are
    discs, estimated ones rings (hollow), as the second legend says."""
    data = points.assign(basis=[basis_label(bool(e)) for e in points["estimated"]])
    data["description"] = [f"{t.series} {t.year}: {t.value:.3f} ({t.basis})" for t in data.itertuples()]
    data = data[["series", "year", "value", "basis", "description"]]
    colour = alt.Color(
        "series:N", title=None, scale=alt.Scale(domain=list(dict.fromkeys(data["series"])), range=LINE_COLOURS)
    )
    base = alt.Chart(data).encode(
        x=alt.X("year:O", title=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("value:Q", title=y_title, scale=alt.Scale(zero=False, padding=12), axis=alt.Axis(format=".2f")),
    )
    line = base.mark_line(strokeWidth=2).encode(color=colour)
    # White discs under the points, so a ring does not show the line through it.
    under = base.mark_point(size=POINT_SIZE, filled=True, color="white", opacity=1)
    dots = (
        base.mark_point(size=POINT_SIZE, filled=True, opacity=1)
        .encode(
            color=colour,
            shape=alt.Shape(
                "basis:N",
                title="Basis of the value",
                scale=alt.Scale(domain=[REPORTED, ESTIMATED], range=[DISC, RING]),
                legend=alt.Legend(symbolFillColor="#555", symbolStrokeWidth=0, symbolOpacity=1, symbolSize=POINT_SIZE),
            ),
            description="description:N",
        )
        .properties(name=POINTS)
    )
    return alt.layer(line, under, dots).properties(width=560, height=260)


def to_svg(chart: alt.TopLevelMixin) -> str:
    """Static SVG, rendered offline by vl-convert; data may come only from the spec itself."""
    return vlc.vegalite_to_svg(chart.to_dict(), vl_version=VEGA_LITE, config=CONFIG, allowed_base_urls=[])


def read_marts(database: Path) -> dict:
    """What the charts show, read from the published marts (read-only)."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        areas = con.execute("select area_code, name_zh, name_en from marts.dim_area").df()
        year = con.execute("select max(year) from marts.fct_area_sector_specialization").fetchone()[0]
        lq = con.execute(
            """
            select area_code, sector_code, location_quotient as value, basis <> 'reported' as estimated,
                   specialisation_null_reason as note
            from marts.fct_area_sector_specialization where reference = 'cluster8' and year = ?
        """,
            [year],
        ).df()
        flags = con.execute(
            """
            select area_code, sector_code, location_quotient, lq_p5, lq_p95, share_of_draws_strong_cluster,
                   is_robust_strong_cluster
            from marts.fct_area_sector_specialization
            where reference = 'cluster8' and year = ? and is_strong_cluster
            order by share_of_draws_strong_cluster desc, location_quotient desc
        """,
            [year],
        ).df()
        pairs = con.execute(
            """
            select area_code_a, area_code_b, similarity_coefficient as value, basis <> 'reported' as estimated
            from marts.fct_area_pair_structure where year = ?
        """,
            [year],
        ).df()
        gap = con.execute("""
            select d.name_zh, d.name_en, g.year, g.gap_ratio as value, g.basis <> 'reported' as estimated
            from marts.fct_benchmark_gap as g join marts.dim_area as d on d.area_code = g.benchmark_area_code
            where g.metric_code = 'gdp' order by d.name_en, g.year
        """).df()
        coupling = con.execute("""
            select year, coordination_degree_classic, coordination_degree_corrected, basis <> 'reported' as estimated
            from marts.fct_cluster_coupling order by year
        """).df()
        share = con.execute("""
            select round(100 * avg(case when basis = 'reported' then 0 else 1 end)) from marts.fct_sector_output
        """).fetchone()[0]
        cross_validation = con.execute("""
            select level, is_inside_50, is_inside_90, prediction_error from marts.audit_panel_cross_validation
        """).df()
        as_of = con.execute("""
            select build_id, strftime(built_at, '%Y-%m-%d %H:%M') || ' UTC', data_first_year, data_last_year
            from marts.build_info
        """).fetchone()
    finally:
        con.close()
    return {
        "areas": areas,
        "year": year,
        "lq": lq,
        "flags": flags,
        "pairs": pairs,
        "gap": gap,
        "coupling": coupling,
        "share": share,
        "as_of": as_of,
        "cross_validation": cross_validation,
    }


def charts(marts: dict) -> tuple[str, str, str, str]:
    """The four charts as SVG: LQ heat map, similarity matrix, gap lines, coupling lines."""
    areas = marts["areas"]
    label = {
        code: area_label(zh, en)
        for code, zh, en in zip(areas["area_code"], areas["name_zh"], areas["name_en"], strict=True)
    }
    english = dict(zip(areas["area_code"], areas["name_en"], strict=True))
    lq = marts["lq"]
    codes = sorted(set(lq["area_code"]), key=lambda a: english[a])
    names = [label[a] for a in codes]
    # A cell with a note (C39: the estimate gives every area the same share) says nothing
    # about the area: no value, grey.
    heat = pd.DataFrame(
        {
            "row": lq["area_code"].map(label),
            "col": lq["sector_code"],
            "value": lq["value"].where(lq["note"].isna()),
            "estimated": lq["estimated"],
            "note": lq["note"],
        }
    )

    pairs = marts["pairs"]
    similarity = pd.concat(
        [
            pd.DataFrame(
                {
                    "row": pairs["area_code_a"].map(label),
                    "col": pairs["area_code_b"].map(label),
                    "value": pairs["value"],
                    "estimated": pairs["estimated"],
                    "note": None,
                }
            ),
            pd.DataFrame(
                {
                    "row": pairs["area_code_b"].map(label),
                    "col": pairs["area_code_a"].map(label),
                    "value": pairs["value"],
                    "estimated": pairs["estimated"],
                    "note": None,
                }
            ),
            pd.DataFrame({"row": names, "col": names, "value": 1.0, "estimated": False, "note": "an area with itself"}),
        ],
        ignore_index=True,
    )

    gap = marts["gap"]
    gap_points = pd.DataFrame(
        {
            "series": ["vs " + area_label(zh, en) for zh, en in zip(gap["name_zh"], gap["name_en"], strict=True)],
            "year": gap["year"],
            "value": gap["value"],
            "estimated": gap["estimated"],
        }
    )
    coupling = marts["coupling"]
    coupling_points = pd.concat(
        [
            pd.DataFrame(
                {
                    "series": "D classic",
                    "year": coupling["year"],
                    "value": coupling["coordination_degree_classic"],
                    "estimated": coupling["estimated"],
                }
            ),
            pd.DataFrame(
                {
                    "series": "D corrected (王淑佳 2021)",
                    "year": coupling["year"],
                    "value": coupling["coordination_degree_corrected"],
                    "estimated": coupling["estimated"],
                }
            ),
        ],
        ignore_index=True,
    )
    return (
        to_svg(matrix_chart(heat, names, sorted(set(lq["sector_code"])), (0.0, 1.0, 2.5), "LQ")),
        to_svg(matrix_chart(similarity, names, names, (0.3, 0.8, 1.0), "similarity")),
        to_svg(lines_chart(gap_points, "cluster / benchmark")),
        to_svg(lines_chart(coupling_points, "D (0–1)")),
    )


def findings_table(flags: pd.DataFrame, areas: pd.DataFrame) -> str:
    """Strong-cluster cells of the central fit as an HTML table: a robust one (the flag holds
    in at least 90 % of the Monte Carlo draws) is a finding; the others are listed as not."""
    label = {
        code: area_label(zh, en)
        for code, zh, en in zip(areas["area_code"], areas["name_zh"], areas["name_en"], strict=True)
    }
    rows = []
    for flag in flags.itertuples(index=False):
        verdict = "finding" if flag.is_robust_strong_cluster else "not robust: not a finding"
        rows.append(
            f"<tr><td>{html.escape(label[flag.area_code])}</td><td>{html.escape(flag.sector_code)}</td>"
            f"<td>{flag.location_quotient:.2f}</td><td>{flag.lq_p5:.2f}–{flag.lq_p95:.2f}</td>"
            f"<td>{flag.share_of_draws_strong_cluster:.0%}</td><td>{verdict}</td></tr>"
        )
    if not rows:
        return "<p>No strong-cluster cell in this year.</p>"
    return (
        "<table><tr><th>area</th><th>division</th><th>LQ</th><th>90 % interval</th>"
        "<th>share of draws strong</th><th></th></tr>" + "".join(rows) + "</table>"
    )


#: The calibration target: 90 % intervals hold at least this share of the left-out figures
#: at every level with at least CALIBRATION_MIN_FIGURES of them (issue 25).
CALIBRATION_TARGET, CALIBRATION_MIN_FIGURES = 0.85, 10
LEVELS = {
    "province": "province (a province, its rest, the two together)",
    "area_total": "area total (one member, several divisions)",
    "area_division": "area × division (one member, one division)",
}


def coverage_by_level(cross_validation: pd.DataFrame) -> pd.DataFrame:
    """Per level: figures left out, share held by the 50 % and 90 % intervals, median |error|."""
    rows = []
    for level in LEVELS:
        sel = cross_validation[cross_validation["level"] == level]
        n = len(sel)
        rows.append(
            {
                "level": level,
                "n": n,
                "inside_50": float(sel["is_inside_50"].mean()) if n else None,
                "inside_90": float(sel["is_inside_90"].mean()) if n else None,
                "median_abs_error": float(sel["prediction_error"].abs().median()) if n else None,
            }
        )
    return pd.DataFrame(rows)


def coverage_section(cross_validation: pd.DataFrame) -> str:
    """The coverage table and, for every level with enough figures whose 90 % intervals hold
    fewer than the target share, a sentence saying so."""
    summary = coverage_by_level(cross_validation)
    body, short = [], []
    for row in summary.itertuples(index=False):
        if row.n == 0:
            body.append(f"<tr><td>{LEVELS[row.level]}</td><td>0</td><td>–</td><td>–</td><td>–</td></tr>")
            continue
        inside = round(row.inside_90 * row.n)
        body.append(
            f"<tr><td>{LEVELS[row.level]}</td><td>{row.n}</td><td>{row.inside_50:.0%}</td>"
            f"<td>{row.inside_90:.1%} ({inside} of {row.n})</td><td>{row.median_abs_error:.3f}</td></tr>"
        )
        if row.n >= CALIBRATION_MIN_FIGURES and row.inside_90 < CALIBRATION_TARGET:
            short.append(
                f"At the level {LEVELS[row.level]} the 90 % intervals hold only {row.inside_90:.1%} of "
                f"the {row.n} left-out figures ({inside}), below the target of {CALIBRATION_TARGET:.0%}: "
                "the intervals at this level are too narrow to be quoted as 90 % intervals."
            )
    few = [LEVELS[r.level] for r in summary.itertuples(index=False) if 0 < r.n < CALIBRATION_MIN_FIGURES]
    notes = short + (
        [f"Fewer than {CALIBRATION_MIN_FIGURES} figures at the level {', '.join(few)}: its coverage is not judged."]
        if few
        else []
    )
    verdict = "".join(f'<p class="note">{html.escape(text)}</p>' for text in notes) or (
        f"<p>At every level with {CALIBRATION_MIN_FIGURES} or more figures the 90 % intervals hold at least "
        f"{CALIBRATION_TARGET:.0%} of them.</p>"
    )
    return (
        "<table><tr><th>level</th><th>figures left out</th><th>inside the 50 % interval</th>"
        "<th>inside the 90 % interval</th><th>median |error|</th></tr>" + "".join(body) + "</table>" + verdict
    )


def build_report(database: Path, out: Path) -> Path:
    marts = read_marts(database)
    heat, similarity, gap, coupling = charts(marts)
    year = marts["year"]
    build_id, built_at, first_year, last_year = marts["as_of"]
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Chengdu–Chongqing equipment cluster – report</title>
<style>body{{font-family:system-ui,"Noto Sans CJK SC",sans-serif;margin:2em;max-width:1100px;color:#222}}
h2{{margin-top:2em}} .note{{background:#fff8e1;border-left:4px solid #f0b400;padding:.6em 1em}}
.caption{{color:#555;font-size:14px}} svg{{max-width:100%;height:auto}}
td,th{{padding:2px 8px;text-align:left}}</style></head><body>
<h1>Chengdu–Chongqing advanced equipment manufacturing cluster</h1>
<p class="caption">Data as of build <code>{html.escape(build_id)}</code>, built {built_at};
figures for {first_year}–{last_year}.</p>
<p class="note"><b>Read with care:</b> {marts["share"]:.0f} % of the area × division output panel is <b>estimated</b>
(method in the warehouse's <code>fct_sector_output</code> description). Hatched cells and hollow points rest
on estimates; solid ones on reported figures only (each chart's legend, “Basis of the value”, says so).
Grey cells carry no area-specific information.</p>

<h2>1. Who is specialised in what ({year}, location quotient against the eight areas)</h2>
{heat}
<p class="caption">LQ &gt; 1 (red): the division's share of the area's output exceeds its share in the cluster.
Grey cells: no figure distinguishes the area in that division (C39, electronics, has no value by area at all).</p>
<h3>Strong clusters ({year}): only robust ones are findings</h3>
{findings_table(marts["flags"], marts["areas"])}
<p class="caption">Strong cluster: LQ at or above the division's 75th percentile among the eight areas, LQ ≥ 1 and
output above the 25th percentile. The interval and the share come from 200 Monte Carlo draws of the panel over its
priors' ranges; a cell is a finding when the flag holds in at least 90 % of them.</p>

<h2>2. Which areas duplicate each other ({year}, structural similarity coefficient)</h2>
{similarity}
<p class="caption">Near 1: the two areas have the same division mix (产业同构, duplication); low: they complement.</p>

<h2>3. The gap to Jiangsu and Zhejiang (GDP of Sichuan + Chongqing ÷ benchmark)</h2>
{gap}
<p class="caption">A rising line means the gap is closing. Hollow points: years interpolated between reported ones.</p>

<h2>4. Coupling coordination of the Sichuan and Chongqing equipment subsystems</h2>
{coupling}
<p class="caption">D in 0.7–0.8 is intermediate, 0.8–0.9 good, 0.9–1 high-quality coordination. The corrected
coupling also falls when the two subsystems' scores are far apart.</p>
<h2>5. How far the intervals can be trusted (leave-one-figure-out)</h2>
{coverage_section(marts["cross_validation"])}
<p class="caption">Each reported or supplied figure the fit uses is left out in turn and predicted from all
the others (<code>marts.audit_panel_cross_validation</code>, one row per figure). A figure should lie inside
the 90 % interval of its prediction nine times in ten; the error is relative for levels and in rate points
for growth and shares. The prediction is the closed form of the central fit, a Gaussian: it leaves out the
truncation by bounds and by x &ge; 0 that the published intervals carry, and so promises more coverage than
refitting without each figure and drawing from the posterior (<code>benchmarks/bench_calibration.py</code>;
docs/estimator.md gives both for the shipped figures).</p>
<p class="caption">Generated by <code>chengyu report</code> from {html.escape(database.name)}; charts drawn with
Vega-Lite {VEGA_LITE} (Altair, rendered offline by vl-convert).</p>
</body></html>"""
    return write_file(out, page)  # beside it, then renamed: never written through a link
