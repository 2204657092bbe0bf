"""A corpus of bad inputs: each is rejected (or warned about, where that is the
documented rule) with a message naming file, line, column and rule, and the published
warehouse stays byte-for-byte as it was."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import sha256, workspace_with_published

CORPUS = Path(__file__).parent / "bad_inputs"
EXIT_INPUT, EXIT_DBT, EXIT_QUALITY = 3, 4, 5



@pytest.fixture(scope="module")
def ws(built, tmp_path_factory):
    return workspace_with_published(built, tmp_path_factory.mktemp("corpus"))


@contextmanager
def edited_seed(ws, name: str, edit):
    """Apply edit(text) -> text to seeds/<name>.csv for the duration of a test."""
    path = ws.project / "seeds" / f"{name}.csv"
    original = path.read_bytes()
    try:
        path.write_text(edit(original.decode("utf-8")), encoding="utf-8")
        yield path
    finally:
        path.write_bytes(original)


# file, expected rule, line, column, words the message must contain
USER_FILE_CASES = [
    ("malformed_quoting.csv", "csv_quoting", 2, None, "quote opened and never closed"),
    ("wrong_delimiter.csv", "comma_delimiter", 1, None, "separated by ';'"),
    ("gbk_encoding.csv", "utf8_encoding", 2, None, "GBK"),
    ("empty.csv", "not_empty", None, None, "the file is empty"),
    ("header_only.csv", "has_rows", None, None, "no rows"),
    ("missing_column.csv", "required_column", 1, "unit", "is missing"),
    ("extra_column.csv", "known_column", 1, "note", "not part of the layout"),
    ("stray_comma.csv", "field_count", 2, None, "8 fields, the header has 7"),
    ("duplicated_key.csv", "unique_key", 4, None, "already appears on line 2"),
    ("same_cell_two_values.csv", "same_key_same_value", 3, None, "value '1200' there, '1250' here"),
    ("unknown_area_code.csv", "known_member_area", 3, "area_code", "'510199' is unknown"),
    ("province_instead_of_member.csv", "known_member_area", 2, "area_code", "Sichuan, not a member area"),
    ("unknown_sector_code.csv", "known_sector", 2, "sector_code", "'C41'"),
    ("negative_output.csv", "non_negative", 2, "value", "-1200 is negative"),
    ("non_numeric_value.csv", "numeric", 2, "value", "'about 1200' is not a number"),
    ("unparseable_unit.csv", "known_currency_unit", 2, "unit", "'亿美元' cannot be parsed"),
    ("year_out_of_range.csv", "year_range", 2, "year", "2031 is outside the panel 2015-2023"),
    ("different_scopes.csv", "same_scope", 3, "measure", "never summed"),
    ("missing_source.csv", "not_empty", 2, "source", "source is empty"),
]


def expected_location(file: str, line, column) -> str:
    where = file
    if line is not None:
        where += f", line {line}"
    if column:
        where += f", column '{column}'"
    return where


@pytest.mark.parametrize("name,rule,line,column,words", USER_FILE_CASES, ids=[c[0] for c in USER_FILE_CASES])
def test_bad_sector_output_file_is_rejected(ws, name, rule, line, column, words):
    before = sha256(ws.published)
    path = CORPUS / name
    result = ws.run("build", "--sector-output", str(path))
    output = result.stdout + result.stderr
    assert result.returncode == EXIT_INPUT, output
    assert f"ERROR {expected_location(str(path), line, column)}:" in output
    assert f"[rule: {rule}]" in output and words in output
    assert "published warehouse" in output and "is unchanged" in output
    assert sha256(ws.published) == before
    assert not ws.previous.exists()  # nothing was published, so nothing was kept aside


def test_utf8_bom_is_accepted_with_a_warning(ws):
    # Documented rule: Excel's "CSV UTF-8" starts with a byte-order mark; it is read
    # without it, with a warning. validate checks without building or publishing.
    before = sha256(ws.published)
    result = ws.run("validate", "--sector-output", str(CORPUS / "utf8_bom.csv"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" in result.stdout and "[rule: utf8_bom]" in result.stdout
    assert sha256(ws.published) == before


SEED_CASES = [
    # seed, edit, expected message (file, line, column) and rule
    ("reported_figures", lambda t: t.replace("5840,亿元 (stated '突破5840亿')", "5840,亿美元 (stated '突破5840亿')"),
     "seeds/reported_figures.csv, line 39, column 'unit': figure F0038", "known_unit"),
    ("reported_figures", lambda t: t + "F0013,四川省,510000,gdp,2020,48000,亿元,"
                                       "http://www.tjcn.org/tjgb/23sc/36783.html (Sichuan 2020 statistical bulletin),x,high\n",
     "seeds/reported_figures.csv, line 220, column 'figure_id'", "same_key_same_value"),
    ("reported_figures", lambda t: t.replace("F0158,德阳市,510600,", "F0158,德阳市,510699,"),
     "seeds/reported_figures.csv, line 159, column 'entity_code': figure F0158", "known_area"),
    ("reported_figures", lambda t: t.replace("F0039,四川省,510000,equipment_mfg_output,2020,7327.8",
                                             "F0039,四川省,510000,equipment_mfg_output,2020,-7327.8"),
     "seeds/reported_figures.csv, line 40, column 'value': figure F0039", "non_negative"),
    ("reported_figures", lambda t: t.replace("F0050,重庆市,500000,gdp,2020,", "F0050,重庆市,500000,gdp,20X0,"),
     "seeds/reported_figures.csv, line 51, column 'year': figure F0050", "year_format"),
    ("sectors", lambda t: t.replace('C35,35,专用设备制造业,Manufacture of special purpose machinery,machinery,machinery,true,"Mach',
                                    'C35,35,专用设备制造业,Manufacture of special purpose machinery,machinery,machinery,true,Mach'),
     "seeds/sectors.csv, line 4", "field_count"),
]


@pytest.mark.parametrize("seed,edit,where,rule", SEED_CASES, ids=[f"{c[0]}-{c[3]}" for c in SEED_CASES])
def test_bad_seed_is_rejected(ws, seed, edit, where, rule):
    before = sha256(ws.published)
    with edited_seed(ws, seed, edit):
        result = ws.run("build")
    output = result.stdout + result.stderr
    assert result.returncode == EXIT_INPUT, output
    assert where in output and f"[rule: {rule}]" in output
    assert sha256(ws.published) == before


def test_a_failing_dbt_test_stops_the_build_and_names_the_rows(ws):
    # The input checks cannot see that a province's prior mix no longer adds up to 1
    # (0.10 -> 0.30 makes Sichuan's 1.20); the dbt test assert_baseline_mix_sums_to_one does.
    before = sha256(ws.published)
    with edited_seed(ws, "estimation_priors", lambda t: t.replace("P01,baseline_sector_share,510000,C33,,0.10",
                                                                  "P01,baseline_sector_share,510000,C33,,0.30")):
        result = ws.run("build")
    output = result.stdout + result.stderr
    assert result.returncode == EXIT_DBT, output
    assert "assert_baseline_mix_sums_to_one" in output
    assert "offending row: {'area_code': '510000', 'total_share': 1.2" in output
    assert sha256(ws.published) == before
    assert not list(ws.warehouse.glob(".chengyu.candidate-*")), "the failed candidate is removed"


def test_a_critical_expectation_stops_the_build(ws):
    # '5.84e3' is a number to Python and to DuckDB, so the input checks and dbt accept
    # it; the Great Expectations suite requires plain decimals as stated by sources.
    before = sha256(ws.published)
    with edited_seed(ws, "reported_figures", lambda t: t.replace(",2017,5840,亿元", ",2017,5.84e3,亿元")):
        result = ws.run("build")
    output = result.stdout + result.stderr
    assert result.returncode == EXIT_QUALITY, output
    assert "CRITICAL input_reported_figures: expect_column_values_to_match_regex" in output
    assert "5.84e3" in output
    assert sha256(ws.published) == before
