"""The gate report (reports/index.html) follows the live version after a rollback (no build)."""

from __future__ import annotations

from chengyu_cluster.quality.gate import CRITICAL, CheckResult, GateResult, _write_offline_index, show_live_report


def gate_page(report_dir, build_id: str, passed: bool) -> None:
    gate = GateResult(report_dir, compared_with="B0", build_id=build_id)
    gate.results.append(CheckResult("shift_dim_area", "expect_table_row_count_to_be_between", {}, CRITICAL, passed, 8))
    _write_offline_index(report_dir, gate)


def test_rollback_shows_the_live_builds_gate_page_again(tmp_path):
    gate_page(tmp_path, "B1", passed=True)
    gate_page(tmp_path, "B2", passed=False)  # the newest gate run: index.html is B2's
    index = tmp_path / "index.html"
    assert "Quality gate of build B2" in index.read_text(encoding="utf-8")
    # Rolled back to B1: its kept page becomes index.html again (1 passed, 0 critical failed).
    assert show_live_report(tmp_path, "B1") == f"gate report {index}: build B1, the live one"
    page = index.read_text(encoding="utf-8")
    assert "Quality gate of build B1" in page and "1 passed, 0 warned, 0 critical failed" in page
    assert "B2" not in page


def test_a_live_build_without_a_kept_page_is_named_on_the_page_shown(tmp_path):
    gate_page(tmp_path, "B2", passed=True)
    index = tmp_path / "index.html"
    # B0 was built before (or elsewhere): no page of it is kept, so the page of B2 says at its
    # top that it is not the live one - once, however often the rollback runs.
    for _ in range(2):
        shown = show_live_report(tmp_path, "B0")
        assert shown == f"gate report {index}: of build B2, not the live one (its page says so)"
    page = index.read_text(encoding="utf-8")
    assert page.count("This report is of build B2, not of the live version B0") == 1
    assert page.index('id="not-live"') < page.index("<h1>Quality gate of build B2")
    # Back to B2 (rollback --to): its kept page, without the notice.
    show_live_report(tmp_path, "B2")
    assert 'id="not-live"' not in index.read_text(encoding="utf-8")


def test_no_gate_report_yet_says_nothing(tmp_path):
    assert show_live_report(tmp_path, "B0") is None
    assert not (tmp_path / "index.html").exists()
