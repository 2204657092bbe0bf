"""Fast tests of the quality gate's limits and profile, and of reading dbt's run results."""

from __future__ import annotations

import duckdb
import pytest

from chengyu_cluster.pipeline.dbt_runner import relay_without_tracebacks, summarise, without_traceback
from chengyu_cluster.quality.gate import (
    CRITICAL,
    WARNING,
    count_band,
    distribution_band,
    expectations,
    share_band,
)
from chengyu_cluster.quality.profile import SPARK, Marts, duckdb_marts, frame_sql, profile, statistic_sql


def test_count_band():
    # Counts within the limit, never beyond it: 648 rows, 5 %: 648 * 0.95 = 615.6 -> 616
    # (ceiling), 648 * 1.05 = 680.4 -> 680 (floor).
    assert count_band(648, 0.05) == (616, 680)
    # 3 rows, 50 %: 1.5 -> 2 and 4.5 -> 4, so 1 row (-67 %) is outside; an empty mart allows only 0.
    assert count_band(3, 0.5) == (2, 4)
    assert count_band(0, 0.5) == (0, 0)


def test_distribution_band_is_relative_to_the_value_or_the_spread():
    # median 1.2, stdev 0.4, 10 %: the value is larger, half-width 0.12 -> [1.08, 1.32].
    assert distribution_band(1.2, 0.4, 0.10) == pytest.approx((1.08, 1.32))
    # median 0.001 near zero, stdev 0.05: half-width 10 % of 0.05 = 0.005 -> [-0.004, 0.006].
    assert distribution_band(0.001, 0.05, 0.10) == pytest.approx((-0.004, 0.006))


def test_share_band_stays_within_zero_and_one():
    # 1.0 +- 0.02 -> [0.98, 1.0]; 0.01 +- 0.02 -> [0.0, 0.03].
    assert share_band(1.0, 0.02) == pytest.approx((0.98, 1.0))
    assert share_band(0.01, 0.02) == pytest.approx((0.0, 0.03))


@pytest.fixture
def con():
    connection = duckdb.connect()
    connection.execute("create schema marts")
    connection.execute("create table marts.m as select * from (values (1.0), (2.0), (3.0), (6.0)) t(x)")
    connection.execute("create table marts.r as select * from (values (-0.0004), (0.0002)) t(relative_error)")
    yield connection
    connection.close()


MEASURES = [
    {"relation": "m", "column": "x", "kind": "distribution"},
    {"relation": "r", "column": "relative_error", "kind": "max_abs"},
    {"relation": "gone", "column": "y", "kind": "share"},
]
THRESHOLDS = {
    "row_count": {"warn": 0.05, "block": 0.5},
    "distribution": {"warn": 0.1, "block": 0.5},
    "share": {"warn": 0.02, "block": 0.2},
    "max_abs": {"warn": 0.0001, "block": 0.001},
}


def test_profile_reads_counts_columns_and_statistics(con):
    p = profile(duckdb_marts(con), MEASURES)
    assert p["counts"] == {"m": 4, "r": 2}
    assert p["columns"] == {"m": ["x"], "r": ["relative_error"]}
    # x = 1, 2, 3, 6: median (2 + 3) / 2 = 2.5, mean 12 / 4 = 3,
    # sample variance ((-2)^2 + (-1)^2 + 0 + 3^2) / 3 = 14 / 3, stdev 2.1602.
    stats = p["stats"][("m", "x")]
    assert stats["median"] == pytest.approx(2.5) and stats["mean"] == pytest.approx(3.0)
    assert stats["stdev"] == pytest.approx((14 / 3) ** 0.5)
    # the largest |error| is 0.0004; a measure of a missing mart is left out.
    assert p["stats"][("r", "relative_error")] == pytest.approx(0.0004)
    assert ("gone", "y") not in p["stats"]


def test_expectations_take_their_limits_from_the_published_profile(con):
    checks = expectations("m", profile(duckdb_marts(con), MEASURES), MEASURES, THRESHOLDS)
    by_type = [(severity, type(e).__name__, e) for severity, e, _ in checks]
    # columns (1) + row count warn/block (2) + median/mean/stdev warn/block (6)
    assert len(by_type) == 9
    warn_median = next(e for s, t, e in by_type if t == "ExpectColumnMedianToBeBetween" and s == WARNING)
    # median 2.5, stdev 2.16: 10 % of the larger (2.5) -> [2.25, 2.75]
    assert (warn_median.min_value, warn_median.max_value) == pytest.approx((2.25, 2.75))
    block_rows = next(e for s, t, e in by_type if t == "ExpectTableRowCountToBeBetween" and s == CRITICAL)
    # 4 rows, 50 %: [2, 6]
    assert (block_rows.min_value, block_rows.max_value) == (2, 6)
    max_abs = [
        e
        for s, e, _ in expectations("r", profile(duckdb_marts(con), MEASURES), MEASURES, THRESHOLDS)
        if type(e).__name__ == "ExpectColumnMaxToBeBetween"
    ]
    # published 0.0004: warn above 0.0005, block above 0.0014
    assert [e.max_value for e in max_abs] == pytest.approx([0.0005, 0.0014])


def test_summarise_reads_dbt_run_results():
    results = [
        {"unique_id": "model.chengyu_cluster.dim_area", "status": "success", "message": "OK"},
        {"unique_id": "test.chengyu_cluster.not_null_dim_area_code.abc", "status": "pass", "message": None},
        {"unique_id": "test.chengyu_cluster.warn_far.def", "status": "warn", "message": "Got 2 results"},
        {"unique_id": "unit_test.chengyu_cluster.dim_area.t1", "status": "fail", "message": "diff"},
    ]
    outcome = summarise(results, database=None)
    assert outcome.count("model") == 1 and outcome.count("test") == 2 and outcome.count("test", "warn") == 1
    assert [w.name for w in outcome.warnings] == ["warn_far"]
    assert [(f.kind, f.name) for f in outcome.failures] == [("unit_test", "dim_area")]
    assert not outcome.success


def test_summarise_reports_a_dbt_that_failed_without_results():
    outcome = summarise([], database=None, exit_code=2)
    assert not outcome.success and "exited with code 2" in outcome.failures[0].message


def test_audit_marts_only_warn_on_row_counts(con):
    # r is listed as an audit mart: its count may move with the inputs, so no block limit.
    checks = expectations("r", profile(duckdb_marts(con), MEASURES), MEASURES, THRESHOLDS, warn_only_row_counts=("r",))
    counts = [severity for severity, e, _ in checks if type(e).__name__ == "ExpectTableRowCountToBeBetween"]
    assert counts == [WARNING]


def test_a_python_models_traceback_is_cut_to_its_exception_line():
    message = (
        "Runtime Error in model int_panel_fit_cells\n  Python model failed:\n"
        '  Traceback (most recent call last):\n    File "x.py", line 3, in model\n      return f()\n'
        "  chengyu_cluster.estimation.panel_fit.InfeasibleConstraintsError: "
        "no panel meets user:a and user:b\n  "
    )
    assert without_traceback(message) == (
        "Runtime Error in model int_panel_fit_cells\n  Python model failed: "
        "chengyu_cluster.estimation.panel_fit.InfeasibleConstraintsError: "
        "no panel meets user:a and user:b"
    )
    assert without_traceback("Got 2 results") == "Got 2 results"


def test_dbt_output_is_relayed_without_traceback_bodies():
    import io

    lines = [
        "09:39:34  Runtime Error in model m\n",
        "  Python model failed:\n",
        "  Traceback (most recent call last):\n",
        '    File "x.py", line 3, in model\n',
        "      return f()\n",
        "             ^^^\n",
        "\n",
        "  ValueError: the figure F1 cannot hold\n",
        "09:39:35  Done.\n",
    ]
    out = io.StringIO()
    relay_without_tracebacks(iter(lines), out)
    # Kept: the two lines before the traceback, its exception line (same indentation as
    # 'Traceback'), and what follows; the 5 lines in between are left out.
    assert out.getvalue() == (
        "09:39:34  Runtime Error in model m\n  Python model failed:\n"
        "  ValueError: the figure F1 cannot hold\n09:39:35  Done.\n"
    )


def test_one_definition_of_each_statistic_rendered_per_engine():
    # The same measure on Spark: backticks, and percentile(x, 0.5) for DuckDB's median.
    spark = Marts(SPARK, "marts__b1", {"m": ["x"]}, first_row=None)
    assert statistic_sql(spark, "distribution", "m", "x") == (
        "select percentile(cast(`x` as double), 0.5), avg(cast(`x` as double)), stddev_samp(cast(`x` as double)) "
        "from `marts__b1`.`m`"
    )
    assert statistic_sql(spark, "max_abs", "m", "x") == "select max(abs(cast(`x` as double))) from `marts__b1`.`m`"


def test_the_gate_frame_holds_the_measures_and_only_the_names_of_other_columns(con):
    con.execute("create table marts.w (x double, label varchar)")
    con.execute("insert into marts.w values (1.5, 'a')")
    measures = MEASURES + [{"relation": "w", "column": "x", "kind": "share"}]
    marts = duckdb_marts(con)
    # relative_error -0.0004 and 0.0002 arrive as magnitudes 0.0004 and 0.0002.
    assert sorted(con.execute(frame_sql(marts, "r", measures)).fetchall()) == [(0.0002,), (0.0004,)]
    # label is compared by name only: present, but not read.
    frame = con.execute(frame_sql(marts, "w", measures)).df()
    assert list(frame.columns) == ["x", "label"] and frame["x"].tolist() == [1.5] and frame["label"].isna().all()
