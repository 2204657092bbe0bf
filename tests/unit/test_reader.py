"""Fast tests of the input reader's pure rules (no build): numbers, dialect, trimming,
file kinds, the problem cap."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chengyu_cluster.inputs.reader import (
    ERROR,
    Findings,
    Issue,
    parse_csv,
    parse_date,
    parse_integer,
    parse_number,
    read_regular_file,
    typed_rows,
)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("1200", 1200.0),
        ("-3.5", -3.5),
        ("+2", 2.0),
        ("1.2e3", 1200.0),
        (".5", 0.5),
        ("5.", 5.0),
        ("1E-2", 0.01),
        ("1e308", 1e308),
        # Refused: not finite, other digits, separators, words.
        ("1e400", None),
        ("inf", None),
        ("+inf", None),
        ("nan", None),
        ("-nan", None),
        ("１２３", None),
        ("٢٠٢٠", None),
        ("1,200", None),
        ("1_000", None),
        ("0x10", None),
        ("1 200", None),
        ("", None),
        ("e3", None),
        ("--1", None),
    ],
)
def test_parse_number(text, expected):
    assert parse_number(text) == expected


def test_parse_integer_and_date():
    assert parse_integer("2020") == 2020 and parse_integer("-7") == -7
    assert parse_integer("2020.0") is None and parse_integer("٢٠٢٠") is None
    assert str(parse_date("2021-06-05")) == "2021-06-05"
    assert parse_date("2021-02-30") is None and parse_date("2021-6-5") is None


def parse(text: str, columns=("a", "b")) -> tuple[object, Findings]:
    findings = Findings()
    return parse_csv(text.encode("utf-8"), "f.csv", list(columns), findings), findings


def test_every_field_is_trimmed_of_unicode_white_space():
    table, findings = parse("a,b\n\t x\u00a0,\u3000y \n")
    assert findings.n_errors == 0
    assert table.rows == [(2, {"a": "x", "b": "y"})]


def test_a_leading_single_quote_is_text_not_a_quote_character():
    table, _ = parse("a,b\n'x,y'\n'z,w\n")
    assert [r for _, r in table.rows] == [{"a": "'x", "b": "y'"}, {"a": "'z", "b": "w"}]


def test_control_characters_inside_a_field_are_refused_with_line_and_column():
    _, findings = parse('a,b\nok,"x\ty"\nfine,"two\nlines"\n')
    assert [(i.line, i.column, i.rule) for i in findings.kept] == [
        (2, "b", "control_character"),
        (3, "b", "control_character"),
    ]


def test_blank_and_comma_only_lines_are_skipped_and_counted():
    table, findings = parse("a,b\n\n1,2\n,\n \t, \u3000\n3,4\n")
    assert [line for line, _ in table.rows] == [3, 6]
    assert table.skipped_blank_lines == 3
    assert findings.n_errors == 0 and findings.n_warnings == 1


def test_bom_is_dropped_with_a_warning_and_header_checked():
    table, findings = parse("\ufeffa,b\n1,2\n")
    assert table.header == ["a", "b"] and findings.kept[0].rule == "utf8_bom"
    _, missing = parse("a,c\n1,2\n")
    assert {(i.column, i.rule) for i in missing.kept} == {("b", "required_column"), ("c", "known_column")}


def test_typed_rows_name_the_bad_cell():
    table, findings = parse("a,b\n7,x\n1e3,2021-01-01\n")
    rows = typed_rows(table, "f.csv", {"a": "integer", "b": "date"}, findings)
    # '7' is an integer and 'x' no date; '1e3' is no integer, '2021-01-01' a date.
    assert [(i.line, i.column, i.rule) for i in findings.kept] == [(2, "b", "type_date"), (3, "a", "type_integer")]
    assert rows[0]["a"] == 7 and str(rows[1]["b"]) == "2021-01-01"


def test_findings_keep_the_first_50_and_count_the_rest():
    findings = Findings()
    for n in range(120):
        findings.add(Issue("f.csv", n, None, "r", "m", ERROR))
    assert len(findings.kept) == 50 and findings.n_errors == 120
    assert findings.lines()[-1] == "... and 70 more problem(s) not shown (the first 50 are above)"


@pytest.mark.parametrize("kind", ["directory", "fifo", "device", "missing", "too_big"])
def test_only_regular_files_within_the_limit_are_read(tmp_path, kind):
    path = tmp_path / "x.csv"
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)  # opening it must not wait for a writer
    elif kind == "device":
        path = Path("/dev/zero")
    elif kind == "too_big":
        path.write_bytes(b"a" * 101)
    findings = Findings()
    assert read_regular_file(path, "x.csv", 100, findings) is None
    rule = {"missing": "file_exists", "too_big": "size_limit"}.get(kind, "regular_file")
    assert [i.rule for i in findings.kept] == [rule]


def test_blank_lines_before_the_header_are_skipped():
    table, findings = parse("\n\na,b\n1,2\n")
    assert table.header == ["a", "b"] and table.rows == [(4, {"a": "1", "b": "2"})]


@pytest.mark.parametrize(
    "text,where",
    [
        ("a\x00,b\n1,2\n", "header"),  # NUL in a header name
        ("a,\ufeffb\n1,2\n", "header"),  # a byte-order mark in the middle of the header
        ("a,b\n1,x\u202ey\n", "field"),  # a bidi override inside a field
        ("a,b\n1,x\u2028y\n", "field"),  # a line separator inside a field
    ],
)
def test_invisible_characters_are_refused(text, where):
    table, findings = parse(text)
    assert table is None and [i.rule for i in findings.kept] == ["control_character"]
    assert (findings.kept[0].column is None) == (where == "header")


def test_a_field_longer_than_pythons_default_limit_is_read():
    table, findings = parse("a,b\n1," + "x" * 200_000 + "\n")
    assert findings.n_errors == 0 and len(table.rows[0][1]["b"]) == 200_000


def test_integers_must_fit_the_warehouse_columns():
    # 2**31 - 1 = 2,147,483,647 is the largest 32-bit integer; one more does not fit.
    assert parse_integer("2147483647") == 2147483647 and parse_integer("-2147483648") == -2147483648
    assert parse_integer("2147483648") is None and parse_integer("1" + "0" * 20) is None


def test_a_tab_separated_file_gets_the_delimiter_hint_on_its_header_line():
    _, findings = parse("\na\tb\n1\t2\n")
    assert [(i.line, i.rule) for i in findings.kept] == [(2, "comma_delimiter")]


def test_user_figures_that_contradict_each_other_fail_validation(tmp_path):
    # C34+C35 = 1200 and C35+C34 = 900 name the same two cells of Deyang 2020: the panel
    # fit's feasibility check (the same LP) cannot meet both; the smallest total violation
    # leaves one of them 300 short, 300 / 1200 = 0.25 (or 300 / 900 = 0.333) of its value.
    from chengyu_cluster.inputs.reader import read_inputs

    project = Path(__file__).resolve().parents[2]
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "area_code,sector_code,year,value,unit,measure,source\n"
        "510600,C34+C35,2020,1200,亿元,gross_output,test\n"
        "510600,C35+C34,2020,900,亿元,gross_output,test\n",
        encoding="utf-8",
    )
    accepted = read_inputs(project, bad)
    problems = [str(line) for line in accepted.findings.lines()]
    assert not accepted.ok
    assert any("consistent_figures" in p and "line 3" in p for p in problems), problems
    # A member's cell and its province's sum that leaves room for the rest are consistent.
    good = tmp_path / "good.csv"
    good.write_text(
        "area_code,sector_code,year,value,unit,measure,source\n"
        "510600,C34+C35,2020,1200,亿元,gross_output,test\n"
        "510600,C34,2020,500,亿元,gross_output,test\n"
        "510000,C34,2020,5000,亿元,gross_output,test\n",
        encoding="utf-8",
    )
    assert read_inputs(project, good).ok


def test_an_above_scale_figure_is_a_lower_bound_in_validation(tmp_path):
    # Deyang C34 2020: 500 亿 of all enterprises. An above-scale (规模以上) figure of 450 亿 is a
    # part of it (450 <= 500): consistent. One of 600 亿 would need the smaller enterprises to
    # have negative output (500 - 600 = -100): the check names it. A scope other than all or
    # above_scale is refused.
    from chengyu_cluster.inputs.reader import read_inputs

    project = Path(__file__).resolve().parents[2]
    header = "area_code,sector_code,year,value,unit,measure,source,scope\n"
    good = tmp_path / "good.csv"
    good.write_text(
        header + "510600,C34,2020,500,亿元,gross_output,test,all\n"
        "510600,C34,2020,450,亿元,gross_output,test,above_scale\n",
        encoding="utf-8",
    )
    accepted = read_inputs(project, good)
    assert accepted.ok, accepted.findings.lines()
    assert [r["scope"] for r in accepted.tables["user_sector_output"]] == ["all", "above_scale"]
    bad = tmp_path / "bad.csv"
    bad.write_text(
        header + "510600,C34,2020,500,亿元,gross_output,test,\n"
        "510600,C34,2020,600,亿元,gross_output,test,above_scale\n"
        "510600,C35,2020,600,亿元,gross_output,test,some\n",
        encoding="utf-8",
    )
    problems = [str(line) for line in read_inputs(project, bad).findings.lines()]
    assert any("accepted_values" in p and "line 4" in p for p in problems), problems
    bad.write_text(
        header + "510600,C34,2020,500,亿元,gross_output,test,\n"
        "510600,C34,2020,600,亿元,gross_output,test,above_scale\n",
        encoding="utf-8",
    )
    problems = [str(line) for line in read_inputs(project, bad).findings.lines()]
    assert any("consistent_figures" in p for p in problems), problems
