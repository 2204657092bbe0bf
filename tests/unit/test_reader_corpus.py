"""The corpus of bad user files (tests/bad_inputs/), bad cells and bad seeds, read in process by
the one input reader (`read_inputs`, what validate and build run first): each is found with
its file, line, column and rule. The command's side, the same for every file (one line per
problem, exit 3, nothing built or published), is checked end to end in tests/test_bad_inputs.py
on one file, one cell and one seed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chengyu_cluster.inputs.reader import read_inputs

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "bad_inputs"
HEADER = "area_code,sector_code,year,value,unit,measure,source\n"
GOOD = "510100,C34,2020,1200,亿元,gross_output,yearbook\n"


def problems(path: Path) -> list[str]:
    accepted = read_inputs(REPO, path)
    lines = [str(line) for line in accepted.findings.lines()]
    assert not accepted.ok, lines
    return lines


def expected_location(file: str, line, column) -> str:
    where = file
    if line is not None:
        where += f", line {line}"
    if column:
        where += f", column '{column}'"
    return where


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
    ("benchmark_province.csv", "known_member_area", 2, "area_code", "Jiangsu, not a member area or province"),
    ("unknown_sector_code.csv", "known_sector", 2, "sector_code", "'C41'"),
    ("repeated_division.csv", "known_sector", 2, "sector_code", "'C36+C36'"),
    ("negative_output.csv", "non_negative", 2, "value", "-1200 is negative"),
    ("non_numeric_value.csv", "numeric", 2, "value", "'about 1200' is not a finite number"),
    ("unparseable_unit.csv", "known_currency_unit", 2, "unit", "'亿美元' cannot be parsed"),
    ("year_out_of_range.csv", "year_range", 2, "year", "2031 is outside the panel 2015-2023"),
    ("different_scopes.csv", "same_scope", 3, "measure", "never summed"),
    ("missing_source.csv", "not_empty", 2, "source", "source is empty"),
]


@pytest.mark.parametrize("name,rule,line,column,words", USER_FILE_CASES, ids=[c[0] for c in USER_FILE_CASES])
def test_bad_sector_output_file_is_found_with_its_place_and_rule(name, rule, line, column, words):
    path = CORPUS / name
    lines = problems(path)
    assert any(
        line_.startswith(f"ERROR {expected_location(str(path), line, column)}:")
        and f"[rule: {rule}]" in line_
        and words in line_
        for line_ in lines
    ), lines


# Cells that Python's float() or DuckDB's CSV reader would take but the one reader
# refuses: file, line, column and rule, exit 3, before anything is built.
CELL_CASES = [
    ("plus_inf", GOOD + "510100,C35,2020,+inf,亿元,gross_output,yearbook\n", 3, "value", "numeric"),
    ("plus_nan", GOOD + "510100,C35,2020,+nan,亿元,gross_output,yearbook\n", 3, "value", "numeric"),
    ("overflow", GOOD + "510100,C35,2020,1e400,亿元,gross_output,yearbook\n", 3, "value", "numeric"),
    ("fullwidth_digits", "510100,C34,2020,１２３,亿元,gross_output,yearbook\n", 2, "value", "numeric"),
    ("arabic_indic_year", "510100,C34,٢٠٢٠,1200,亿元,gross_output,yearbook\n", 2, "year", "year_format"),
    ("thousands_separator", '510100,C34,2020,"1,200",亿元,gross_output,yearbook\n', 2, "value", "numeric"),
    ("tab_inside_field", "510100,C34,2020,1200,亿元,gross_output,year\tbook\n", 2, "source", "control_character"),
    (
        "line_break_in_quoted_field",
        '510100,C34,2020,1200,亿元,gross_output,"year\nbook"\n',
        2,
        "source",
        "control_character",
    ),
    # 1e30 亿元 = 1e38 yuan, beyond China's whole 2023 GDP (1.26e14 yuan).
    ("implausible_value", "510100,C34,2020,1e30,亿元,gross_output,yearbook\n", 2, "value", "plausible_output"),
]


@pytest.mark.parametrize("name,body,line,column,rule", CELL_CASES, ids=[c[0] for c in CELL_CASES])
def test_bad_cell_is_found_with_its_place_and_rule(tmp_path, name, body, line, column, rule):
    path = tmp_path / f"{name}.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    lines = problems(path)
    assert any(
        line_.startswith(f"ERROR {path}, line {line}, column '{column}':") and f"[rule: {rule}]" in line_
        for line_ in lines
    ), lines


# A row appended to the shipped figures lands on the line after the file's last one.
APPENDED_FIGURE_LINE = len((REPO / "seeds" / "reported_figures.csv").read_text(encoding="utf-8").splitlines()) + 1

SEED_CASES = [
    # seed, edit, expected message (file, line, column) and rule
    (
        "reported_figures",
        lambda t: (
            t + "F0013,四川省,510000,gdp,2020,48000,亿元,"
            "http://www.tjcn.org/tjgb/23sc/36783.html "
            "(Sichuan 2020 statistical bulletin),x,high\n"
        ),
        f"seeds/reported_figures.csv, line {APPENDED_FIGURE_LINE}, column 'figure_id'",
        "same_key_same_value",
    ),
    (
        "reported_figures",
        lambda t: t.replace(
            "F0039,四川省,510000,equipment_mfg_output,2020,7327.8",
            "F0039,四川省,510000,equipment_mfg_output,2020,-7327.8",
        ),
        "seeds/reported_figures.csv, line 40, column 'value': figure F0039",
        "non_negative",
    ),
    (
        "reported_figures",
        lambda t: t.replace("F0050,重庆市,500000,gdp,2020,", "F0050,重庆市,500000,gdp,20X0,"),
        "seeds/reported_figures.csv, line 51, column 'year': figure F0050",
        "year_format",
    ),
    (
        "sectors",
        lambda t: t.replace(
            'C35,35,专用设备制造业,Manufacture of special purpose machinery,machinery,machinery,true,"Mach',
            "C35,35,专用设备制造业,Manufacture of special purpose machinery,machinery,machinery,true,Mach",
        ),
        "seeds/sectors.csv, line 4",
        "field_count",
    ),
]


@pytest.mark.parametrize("seed,edit,where,rule", SEED_CASES, ids=[f"{c[0]}-{c[3]}" for c in SEED_CASES])
def test_bad_seed_is_found_with_its_place_and_rule(tmp_path, seed, edit, where, rule):
    # The reader reads the project's seeds and their types (seeds/_seeds.yml, the input sources).
    shutil.copytree(REPO / "seeds", tmp_path / "seeds")
    sources = Path("models/staging/inputs/_inputs__sources.yml")
    (tmp_path / sources).parent.mkdir(parents=True)
    shutil.copyfile(REPO / sources, tmp_path / sources)
    path = tmp_path / "seeds" / f"{seed}.csv"
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    accepted = read_inputs(tmp_path)
    lines = [str(line) for line in accepted.findings.lines()]
    assert not accepted.ok and any(where in line and f"[rule: {rule}]" in line for line in lines), lines
