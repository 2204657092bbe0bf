"""Fast tests of the report's charts (no build): each chart is built from a small hand-made
DataFrame, rendered to SVG by vl-convert exactly as `chengyu report` does, and read back."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import altair as alt
import pandas as pd
import pytest
import vl_convert as vlc

from chengyu_cluster.access.report import (
    CELLS,
    ESTIMATED,
    FONT,
    HATCH,
    LABELS,
    NO_VALUE,
    POINTS,
    REPORTED,
    RING,
    VEGA_LITE,
    area_label,
    charts,
    coverage_section,
    findings_table,
    hatch_path,
    lines_chart,
    matrix_chart,
    to_svg,
)

SVG = "{http://www.w3.org/2000/svg}"


def layer(svg: str, name: str) -> list[ET.Element]:
    """The marks of one named layer: Vega puts them in a group of class '<name>_marks'."""
    root = ET.fromstring(svg)
    groups = [g for g in root.iter(f"{SVG}g") if f"{name}_marks" in g.get("class", "").split()]
    assert len(groups) == 1, f"{len(groups)} groups of layer {name}"
    return list(groups[0])


def texts(svg: str) -> list[str]:
    """Every text of the SVG, a multi-line text's lines joined by a space."""
    root = ET.fromstring(svg)
    return [" ".join(t.strip() for t in node.itertext() if t.strip()) for node in root.iter(f"{SVG}text")]


def test_vega_lite_version_is_altairs_and_bundled_by_vl_convert():
    assert alt.SCHEMA_VERSION.startswith(f"v{VEGA_LITE}.")
    assert VEGA_LITE in vlc.get_vegalite_versions()


def test_area_label():
    assert area_label("成都市", "Chengdu") == "成都市 Chengdu"
    assert area_label(None, "Chengdu") == "Chengdu"
    assert area_label(float("nan"), "Chengdu") == "Chengdu"  # a missing name read through pandas


def test_hatch_path_worked_by_hand():
    # 10 x 10 cell, spacing 5: one path unit is 10 / 2 = 5 px. Diagonals x + y = c for
    # c = -10 + 5 = -5, 0, 5 (c < 10), clipped to [-5, 5]^2:
    #   c = -5: (-5, 0) to (0, -5)  -> (-1, 0) to (0, -1)
    #   c =  0: (-5, 5) to (5, -5)  -> (-1, 1) to (1, -1)
    #   c =  5: (0, 5)  to (5, 0)   -> (0, 1)  to (1, 0)
    assert hatch_path(10, 10, 5) == "M-1,-1L1,-1L1,1L-1,1ZM-1,0L0,-1M-1,1L1,-1M0,1L1,0"


def test_hatch_path_stays_inside_a_wide_cell():
    # 64 x 28 cell, spacing 8: c runs from -46 + 8 = -38 to 42 in steps of 8, 11 diagonals;
    # y is bounded by 14 / 32 = 0.4375 units. The first: x + y = -38 from (-32, -6) to
    # (-24, -14), i.e. (-1, -0.1875) to (-0.75, -0.4375).
    path = hatch_path(64, 28, 8)
    assert path.startswith("M-1,-0.4375L1,-0.4375L1,0.4375L-1,0.4375Z")
    diagonals = re.findall(r"M([-\d.]+),([-\d.]+)L([-\d.]+),([-\d.]+)", path.split("Z", 1)[1])
    assert len(diagonals) == 11
    assert diagonals[0] == ("-1", "-0.1875", "-0.75", "-0.4375")
    for x0, y0, x1, y1 in (tuple(map(float, d)) for d in diagonals):
        assert x0 + y0 == pytest.approx(x1 + y1)  # a '/' diagonal
        assert all(-1 <= x <= 1 for x in (x0, x1)) and all(-0.4375 <= y <= 0.4375 for y in (y0, y1))


@pytest.fixture(scope="module")
def heat_map() -> tuple[pd.DataFrame, str]:
    """2 areas x 2 divisions: one reported cell, two estimated, one without a value."""
    cells = pd.DataFrame(
        {
            "row": ["成都市 Chengdu", "成都市 Chengdu", "永川区 Yongchuan", "永川区 Yongchuan"],
            "col": ["C33", "C34", "C33", "C34"],
            "value": [1.5, 0.4, None, 2.0],
            "estimated": [False, True, True, True],
            "note": [None, None, "the estimate gives every area the same share", None],
        }
    )
    chart = matrix_chart(cells, ["成都市 Chengdu", "永川区 Yongchuan"], ["C33", "C34"], (0.0, 1.0, 2.5), "LQ")
    return cells, to_svg(chart)


def test_matrix_spec_marks_estimates_in_a_legend():
    cells = pd.DataFrame({"row": ["a"], "col": ["x"], "value": [1.0], "estimated": [True], "note": [None]})
    spec = matrix_chart(cells, ["a"], ["x"], (0.0, 1.0, 2.5), "LQ").to_dict()
    hatch = next(lay for lay in spec["layer"] if lay.get("name") == HATCH)
    assert hatch["transform"] == [{"filter": f"(datum.basis === '{ESTIMATED}')"}]
    shape = hatch["encoding"]["shape"]
    assert shape["scale"]["domain"] == [REPORTED, ESTIMATED]
    assert shape["title"] == "Basis of the value"
    assert spec["config"]["scale"]["invalid"] == {"color": {"value": NO_VALUE}}
    assert "url" not in str(spec["datasets"])  # the data travel inside the spec


def test_matrix_draws_one_cell_per_row_and_hatches_the_estimated(heat_map):
    cells, svg = heat_map
    drawn = layer(svg, CELLS)
    assert len(drawn) == len(cells) == 4
    assert sum(1 for p in drawn if p.get("fill") == NO_VALUE) == 1  # the cell without a value is grey
    hatched = layer(svg, HATCH)
    assert len(hatched) == int(cells["estimated"].sum()) == 3
    assert all(
        p.get("aria-label").endswith(f"({ESTIMATED})") or f"({ESTIMATED}) –" in p.get("aria-label") for p in hatched
    )
    labels = [t.text for t in layer(svg, LABELS)]
    assert sorted(labels) == ["0.40", "1.50", "2.00", "n/a"]


def test_matrix_svg_names_areas_in_chinese_with_the_cjk_font(heat_map):
    _, svg = heat_map
    words = texts(svg)
    assert "成都市 Chengdu" in words and "永川区 Yongchuan" in words
    assert "Basis of the value" in words and REPORTED in words and ESTIMATED in words
    assert re.search(r'<text[^>]*font-family="Noto Sans CJK SC, sans-serif"[^>]*>成都市 Chengdu<', svg)
    assert FONT.startswith("Noto Sans CJK SC")


def test_matrix_column_labels_break_at_spaces():
    names = ["成都市 Chengdu", "永川区 Yongchuan"]
    cells = pd.DataFrame(
        {"row": names, "col": names[::-1], "value": [0.5, 0.5], "estimated": [True, True], "note": [None, None]}
    )
    svg = to_svg(matrix_chart(cells, names, names, (0.3, 0.8, 1.0), "similarity"))
    assert re.search(r"<tspan>成都市</tspan><tspan[^>]*>Chengdu</tspan>", svg)


@pytest.fixture(scope="module")
def lines() -> tuple[pd.DataFrame, str]:
    """Two series over three years; the last two years of the second are estimated."""
    points = pd.DataFrame(
        {
            "series": ["vs 江苏省 Jiangsu"] * 3 + ["vs 浙江省 Zhejiang"] * 3,
            "year": [2019, 2020, 2021] * 2,
            "value": [0.65, 0.66, 0.70, 1.05, 1.10, 1.12],
            "estimated": [False, False, False, False, True, True],
        }
    )
    return points, to_svg(lines_chart(points, "cluster / benchmark"))


def test_lines_draw_a_point_per_row_and_rings_for_estimates(lines):
    points, svg = lines
    drawn = layer(svg, POINTS)
    assert len(drawn) == len(points) == 6
    # A ring is the disc's path plus an inner circle: two sub-paths, drawn for the estimated.
    rings = [p for p in drawn if p.get("d").count("M") == 2]
    assert len(rings) == int(points["estimated"].sum()) == 2
    assert {p.get("aria-label") for p in rings} == {
        f"vs 浙江省 Zhejiang 2020: 1.100 ({ESTIMATED})",
        f"vs 浙江省 Zhejiang 2021: 1.120 ({ESTIMATED})",
    }
    assert RING.count("M") == 2


def test_lines_legends_name_series_in_chinese_and_the_basis(lines):
    _, svg = lines
    words = texts(svg)
    for word in ("vs 江苏省 Jiangsu", "vs 浙江省 Zhejiang", "Basis of the value", REPORTED, ESTIMATED):
        assert word in words
    assert len(re.findall(r"role-legend-entry", svg)) == 2  # series, basis


def test_to_svg_fetches_nothing():
    with pytest.raises(ValueError, match="External data url not allowed"):
        to_svg(alt.Chart("https://example.org/data.csv").mark_point().encode(x="a:Q"))


def test_report_charts_from_hand_made_marts():
    """The wiring from mart rows to the four charts: a note greys a cell, pairs are mirrored,
    the diagonal is 1 and not hatched, benchmarks are named in Chinese."""
    marts = {
        "areas": pd.DataFrame(
            {
                "area_code": ["510100", "500118", "320000"],
                "name_zh": ["成都市", "永川区", "江苏省"],
                "name_en": ["Chengdu", "Yongchuan", "Jiangsu"],
            }
        ),
        "lq": pd.DataFrame(
            {
                "area_code": ["510100", "510100", "500118", "500118"],
                "sector_code": ["C39", "C33", "C39", "C33"],
                "value": [1.0, 1.2, 1.0, 0.8],
                "estimated": [True] * 4,
                "note": ["same share", None, "same share", None],
            }
        ),
        "pairs": pd.DataFrame(
            {"area_code_a": ["510100"], "area_code_b": ["500118"], "value": [0.62], "estimated": [True]}
        ),
        "gap": pd.DataFrame(
            {
                "name_zh": ["江苏省"] * 2,
                "name_en": ["Jiangsu"] * 2,
                "year": [2015, 2016],
                "value": [0.65, 0.66],
                "estimated": [False, True],
            }
        ),
        "coupling": pd.DataFrame(
            {
                "year": [2015, 2016],
                "coordination_degree_classic": [0.77, 0.79],
                "coordination_degree_corrected": [0.71, 0.73],
                "estimated": [True, True],
            }
        ),
    }
    heat, similarity, gap, coupling = charts(marts)
    assert sorted(t.text for t in layer(heat, LABELS)) == ["0.80", "1.20", "n/a", "n/a"]
    assert sum(1 for p in layer(heat, CELLS) if p.get("fill") == NO_VALUE) == 2
    # 2 x 2 similarity cells: the pair both ways (0.62, hatched) and the diagonal (1.00, not).
    assert sorted(t.text for t in layer(similarity, LABELS)) == ["0.62", "0.62", "1.00", "1.00"]
    assert len(layer(similarity, HATCH)) == 2
    assert "vs 江苏省 Jiangsu" in texts(gap)
    assert len(layer(coupling, POINTS)) == 4
    assert "D corrected (王淑佳 2021)" in texts(coupling)


def test_findings_table_marks_only_robust_flags_as_findings():
    """Two strong-cluster cells: Chengdu C33 holds in 0.95 of the draws (>= 0.9: a finding),
    Yongchuan C36 in 0.55 (not robust). LQ and interval are printed with two decimals:
    1.234 -> 1.23, 0.987 -> 0.99, 1.6 -> 1.60; shares as percentages: 0.95 -> 95%, 0.55 -> 55%."""
    areas = pd.DataFrame(
        {"area_code": ["510100", "500118"], "name_zh": ["成都市", "永川区"], "name_en": ["Chengdu", "Yongchuan"]}
    )
    flags = pd.DataFrame(
        {
            "area_code": ["510100", "500118"],
            "sector_code": ["C33", "C36"],
            "location_quotient": [1.234, 1.1],
            "lq_p5": [0.987, 0.5],
            "lq_p95": [1.6, 1.9],
            "share_of_draws_strong_cluster": [0.95, 0.55],
            "is_robust_strong_cluster": [True, False],
        }
    )
    table = findings_table(flags, areas)
    rows = table.split("<tr>")[2:]
    assert rows[0] == (
        "<td>成都市 Chengdu</td><td>C33</td><td>1.23</td><td>0.99–1.60</td><td>95%</td><td>finding</td></tr>"
    )
    assert "<td>55%</td><td>not robust: not a finding</td>" in rows[1]
    assert findings_table(flags.iloc[0:0], areas) == "<p>No strong-cluster cell in this year.</p>"


def test_the_coverage_section_says_where_the_90_percent_target_is_missed():
    # 12 province figures, 10 inside the 90 % interval: 10/12 = 83.3 % < 85 %, and 12 >= 10
    # figures, so the report says the target is missed there. 11 area totals, 10 inside:
    # 90.9 % >= 85 %: no sentence. 3 area x division figures: too few to judge.
    rows = (
        [("province", True, True, 0.01)] * 10
        + [("province", False, False, 0.30)] * 2
        + [("area_total", False, True, 0.05)] * 10
        + [("area_total", False, False, 0.50)]
        + [("area_division", True, True, 0.10)] * 3
    )
    frame = pd.DataFrame(rows, columns=["level", "is_inside_50", "is_inside_90", "prediction_error"])
    page = coverage_section(frame)
    assert "83.3% (10 of 12)" in page and "90.9% (10 of 11)" in page
    assert page.count("below the target of 85%") == 1 and "only 83.3% of the 12 left-out figures" in page
    assert "Fewer than 10 figures at the level area × division" in page
