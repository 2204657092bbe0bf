"""`chengyu report`: one self-contained HTML page with the cluster's key charts.

Charts are inline SVG drawn here, so the page opens offline in any browser. Every value
that rests on estimates is marked: hatched cells, hollow points, and a note.
"""

from __future__ import annotations

import html
from pathlib import Path

import duckdb

HATCH = """<pattern id="est" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
<line x1="0" y1="0" x2="0" y2="6" stroke="#000" stroke-opacity="0.35" stroke-width="1.5"/></pattern>"""


def _colour(value: float | None, low: float, mid: float, high: float) -> str:
    """Diverging blue (below mid) - white - red (above mid)."""
    if value is None:
        return "#d9d9d9"
    if value >= mid:
        t = min((value - mid) / (high - mid), 1.0) if high > mid else 0.0
        return f"rgb(255,{int(255 - 170 * t)},{int(255 - 190 * t)})"
    t = min((mid - value) / (mid - low), 1.0) if mid > low else 0.0
    return f"rgb({int(255 - 190 * t)},{int(255 - 120 * t)},255)"


def _matrix_svg(rows: list[str], cols: list[str], cell: dict, title: str, low: float, mid: float, high: float,
                fmt: str = "{:.2f}") -> str:
    """cell[(row, col)] = (value or None, estimated: bool, note or None)."""
    left, top, w, h = 110, 70, 64, 28
    width, height = left + w * len(cols) + 20, top + h * len(rows) + 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{html.escape(title)}"><defs>{HATCH}</defs>']
    for j, c in enumerate(cols):
        x = left + j * w + w / 2
        parts.append(f'<text x="{x}" y="{top - 10}" text-anchor="middle" font-size="12">{html.escape(c)}</text>')
    for i, r in enumerate(rows):
        y = top + i * h
        parts.append(f'<text x="{left - 8}" y="{y + h / 2 + 4}" text-anchor="end" font-size="12">{html.escape(r)}</text>')
        for j, c in enumerate(cols):
            value, estimated, note = cell.get((r, c), (None, False, "no value"))
            x = left + j * w
            label = "n/a" if value is None else fmt.format(value)
            tip = f"{r} × {c}: {label}" + (" (rests on estimates)" if estimated else "") + (f" – {note}" if note else "")
            parts.append(f'<g><title>{html.escape(tip)}</title>'
                         f'<rect x="{x}" y="{y}" width="{w - 2}" height="{h - 2}" fill="{_colour(value, low, mid, high)}"/>')
            if estimated:
                parts.append(f'<rect x="{x}" y="{y}" width="{w - 2}" height="{h - 2}" fill="url(#est)"/>')
            parts.append(f'<text x="{x + w / 2 - 1}" y="{y + h / 2 + 4}" text-anchor="middle" font-size="11">'
                         f'{html.escape(label)}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def _lines_svg(series: dict[str, list[tuple[int, float, bool]]], title: str, y_label: str) -> str:
    """series[name] = [(year, value, estimated)]; estimated points are drawn hollow."""
    left, top, width, height = 60, 20, 560, 260
    points = [p for s in series.values() for p in s]
    years = sorted({p[0] for p in points})
    lo, hi = min(p[1] for p in points), max(p[1] for p in points)
    pad = (hi - lo) * 0.1 or 0.05
    lo, hi = lo - pad, hi + pad

    def sx(year: int) -> float:
        return left + (year - years[0]) / max(years[-1] - years[0], 1) * width

    def sy(value: float) -> float:
        return top + (hi - value) / (hi - lo) * height

    colours = ["#c0392b", "#2471a3", "#1e8449", "#7d3c98"]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 180}" height="{top + height + 50}" '
             f'role="img" aria-label="{html.escape(title)}">',
             f'<line x1="{left}" y1="{top + height}" x2="{left + width}" y2="{top + height}" stroke="#555"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + height}" stroke="#555"/>',
             f'<text x="14" y="{top + height / 2}" font-size="12" transform="rotate(-90 14 {top + height / 2})" '
             f'text-anchor="middle">{html.escape(y_label)}</text>']
    for year in years:
        parts.append(f'<text x="{sx(year)}" y="{top + height + 18}" text-anchor="middle" font-size="11">{year}</text>')
    for k in range(5):
        value = lo + (hi - lo) * k / 4
        parts.append(f'<text x="{left - 6}" y="{sy(value) + 4}" text-anchor="end" font-size="11">{value:.2f}</text>')
    for n, (name, pts) in enumerate(series.items()):
        colour = colours[n % len(colours)]
        pts = sorted(pts)
        path = " ".join(f"{'M' if i == 0 else 'L'}{sx(y):.1f},{sy(v):.1f}" for i, (y, v, _) in enumerate(pts))
        parts.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for year, value, estimated in pts:
            fill = "#fff" if estimated else colour
            parts.append(f'<circle cx="{sx(year):.1f}" cy="{sy(value):.1f}" r="4.5" fill="{fill}" stroke="{colour}" '
                         f'stroke-width="2"><title>{html.escape(name)} {year}: {value:.3f}'
                         f'{" (rests on estimates)" if estimated else " (reported)"}</title></circle>')
        ly = top + 14 + n * 18
        parts.append(f'<line x1="{left + width + 20}" y1="{ly}" x2="{left + width + 40}" y2="{ly}" stroke="{colour}" '
                     f'stroke-width="2"/><text x="{left + width + 46}" y="{ly + 4}" font-size="12">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def build_report(database: Path, out: Path) -> Path:
    con = duckdb.connect(str(database), read_only=True)
    try:
        names = dict(con.execute("select area_code, name_en from marts.dim_area").fetchall())
        year = con.execute("select max(year) from marts.fct_area_sector_specialization").fetchone()[0]
        lq_rows = con.execute("""
            select area_code, sector_code, location_quotient, basis <> 'reported', specialisation_null_reason
            from marts.fct_area_sector_specialization where reference = 'cluster8' and year = ?
        """, [year]).fetchall()
        pairs = con.execute("""
            select area_code_a, area_code_b, similarity_coefficient, basis <> 'reported'
            from marts.fct_area_pair_structure where year = ?
        """, [year]).fetchall()
        gap = con.execute("""
            select d.name_en, g.year, g.gap_ratio, g.basis <> 'reported'
            from marts.fct_benchmark_gap as g join marts.dim_area as d on d.area_code = g.benchmark_area_code
            where g.metric_code = 'gdp' order by 1, 2
        """).fetchall()
        coupling = con.execute("""
            select year, coordination_degree_classic, coordination_degree_corrected, basis <> 'reported'
            from marts.fct_cluster_coupling order by year
        """).fetchall()
        shares = con.execute("""
            select round(100 * avg(case when basis = 'reported' then 0 else 1 end)) from marts.fct_sector_output
        """).fetchone()[0]
    finally:
        con.close()

    areas = sorted({r[0] for r in lq_rows}, key=lambda a: names[a])
    sectors = sorted({r[1] for r in lq_rows})
    heat = {(names[a], s): (None if note else lq, est, note) for a, s, lq, est, note in lq_rows}
    similarity = {}
    for a, b, value, est in pairs:
        similarity[(names[a], names[b])] = similarity[(names[b], names[a])] = (value, est, None)
    for a in areas:
        similarity[(names[a], names[a])] = (1.0, False, "an area with itself")
    gap_series: dict[str, list] = {}
    for benchmark, y, ratio, est in gap:
        gap_series.setdefault(f"vs {benchmark}", []).append((y, ratio, est))
    coupling_series = {"D classic": [(y, c, e) for y, c, _, e in coupling],
                       "D corrected (王淑佳 2021)": [(y, d, e) for y, _, d, e in coupling]}

    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Chengdu–Chongqing equipment cluster – report</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}}
h2{{margin-top:2em}} .note{{background:#fff8e1;border-left:4px solid #f0b400;padding:.6em 1em}}
.caption{{color:#555;font-size:14px}}</style></head><body>
<h1>Chengdu–Chongqing advanced equipment manufacturing cluster</h1>
<p class="note"><b>Read with care:</b> {shares:.0f} % of the area × division output panel is <b>estimated</b>
(method in the warehouse's <code>fct_sector_output</code> description). Hatched cells and hollow points rest
on estimates; solid ones on reported figures only. Grey cells carry no area-specific information.</p>

<h2>1. Who is specialised in what ({year}, location quotient against the eight areas)</h2>
{_matrix_svg([names[a] for a in areas], sectors, heat, "Location quotient heat map", 0.0, 1.0, 2.5)}
<p class="caption">LQ &gt; 1 (red): the division's share of the area's output exceeds its share in the cluster.
C39 (electronics) is grey: the estimate gives every area the same share.</p>

<h2>2. Which areas duplicate each other ({year}, structural similarity coefficient)</h2>
{_matrix_svg([names[a] for a in areas], [names[a] for a in areas], similarity, "Similarity matrix", 0.3, 0.8, 1.0)}
<p class="caption">Near 1: the two areas have the same division mix (产业同构, duplication); low: they complement.</p>

<h2>3. The gap to Jiangsu and Zhejiang (GDP of Sichuan + Chongqing ÷ benchmark)</h2>
{_lines_svg(gap_series, "Gap ratio over time", "cluster / benchmark")}
<p class="caption">A rising line means the gap is closing. Hollow points: years interpolated between reported ones.</p>

<h2>4. Coupling coordination of the Sichuan and Chongqing equipment subsystems</h2>
{_lines_svg(coupling_series, "Coordination degree over time", "D (0–1)")}
<p class="caption">D in 0.7–0.8 is intermediate, 0.8–0.9 good, 0.9–1 high-quality coordination. The corrected
coupling also falls when the two subsystems' scores are far apart.</p>
<p class="caption">Generated by <code>chengyu report</code> from {html.escape(database.name)}.</p>
</body></html>"""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
