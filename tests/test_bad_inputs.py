"""A corpus of bad inputs: each is rejected (or warned about, where that is the
documented rule) with a message naming file, line, column and rule, and the published
warehouse stays byte-for-byte as it was."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from conftest import sha256, workspace_with_published

CORPUS = Path(__file__).parent / "bad_inputs"
EXIT_INPUT, EXIT_DBT, EXIT_QUALITY = 3, 4, 5


# Every case of the bad-input and fault corpus: one line, never a traceback.
pytestmark = pytest.mark.usefixtures("no_tracebacks")


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


# Every file of the corpus is found with its place and rule in process, at the unit tier
# (tests/unit/test_reader_corpus.py); the command's side, the same for every file, here on one.
def test_a_bad_sector_output_file_is_rejected_and_nothing_changes(ws):
    before = ws.state()
    path = CORPUS / "unknown_area_code.csv"
    result = ws.run("build", "--sector-output", str(path))
    output = result.stdout + result.stderr
    assert result.returncode == EXIT_INPUT, output
    assert f"ERROR {path}, line 3, column 'area_code':" in output
    assert "[rule: known_member_area]" in output and "'510199' is unknown" in output
    assert "published warehouse" in output and "is unchanged" in output
    assert ws.state() == before


def test_utf8_bom_is_accepted_with_a_warning(ws):
    # Documented rule: Excel's "CSV UTF-8" starts with a byte-order mark; it is read
    # without it, with a warning. validate checks without building or publishing.
    before = ws.state()
    result = ws.run("validate", "--sector-output", str(CORPUS / "utf8_bom.csv"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" in result.stdout and "[rule: utf8_bom]" in result.stdout
    assert ws.state() == before


# Each kind of bad seed of SEED_CASES is found in process at the unit tier
# (tests/unit/test_reader_corpus.py); the command's side on a seed is
# test_a_figure_not_written_as_printed_is_rejected_by_the_reader below.


def test_a_figure_with_an_unknown_area_publishes_and_is_listed_as_rejected(rejected_figures_built):
    # A figure the warehouse cannot place is not a broken file: the reader warns with its
    # line, dbt lists it in audit_rejected_figures (a warning test), and the build publishes.
    # One shared build (conftest) holds F0158 moved to area 510699 and a figure in an unknown
    # unit (checked in tests/test_rejected_figures.py).
    ws = rejected_figures_built
    result = ws.build_result
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "Traceback" not in output, output
    assert "WARNING seeds/reported_figures.csv, line 159, column 'entity_code': figure F0158" in output
    assert "[rule: known_area]" in output and "figures rejected: 2" in output
    con = duckdb.connect(str(ws.published), read_only=True)
    try:
        assert con.execute(
            "select figure_id from marts.audit_rejected_figures where figure_id = 'F0158'"
        ).fetchall() == [("F0158",)]
    finally:
        con.close()


def test_a_failing_dbt_test_stops_the_build_and_names_the_rows(ws):
    # The input checks cannot see that a province's prior mix no longer adds up to 1
    # (0.10 -> 0.30 makes Sichuan's 1.20); the dbt test assert_baseline_mix_sums_to_one does.
    before = ws.state()
    # The edit moves the prior's 90 % range with it, so that only the sum is wrong.
    with edited_seed(
        ws,
        "estimation_priors",
        lambda t: t.replace(
            "P01,baseline_sector_share,510000,C33,,0.10,0.06,0.16",
            "P01,baseline_sector_share,510000,C33,,0.30,0.20,0.40",
        ),
    ):
        result = ws.run("build")
    output = result.stdout + result.stderr
    assert result.returncode == EXIT_DBT, output
    assert "assert_baseline_mix_sums_to_one" in output
    assert "offending row: {'area_code': '510000', 'total_share': 1.2" in output
    assert ws.state() == before
    assert not list(ws.warehouse.glob(".chengyu.candidate-*")), "the failed candidate is removed"


def test_a_figure_not_written_as_printed_is_rejected_by_the_reader(ws):
    # '5.84e3' is a number to Python and to DuckDB, but no statistical release prints it:
    # the reader (the one owner of cell rules) refuses it before anything is built.
    before = ws.state()
    with edited_seed(ws, "reported_figures", lambda t: t.replace(",2017,5840,亿元", ",2017,5.84e3,亿元")):
        result = ws.run("build")
    output = result.stdout + result.stderr
    assert result.returncode == EXIT_INPUT, output
    assert "column 'value'" in output and "5.84e3" in output and "[rule: as_printed]" in output
    assert ws.state() == before


# ---- one reader: what the checks accept is exactly what the warehouse holds ----------

HEADER = "area_code,sector_code,year,value,unit,measure,source\n"
GOOD = "510100,C34,2020,1200,亿元,gross_output,yearbook\n"


# Each cell that Python's float() or DuckDB's CSV reader would take but the one reader refuses
# is found in process at the unit tier (tests/unit/test_reader_corpus.py); the command's side
# here on one: exit 3 before anything is built.
def test_a_bad_cell_is_rejected_before_anything_is_built(ws, tmp_path):
    before = ws.state()
    path = tmp_path / "plus_inf.csv"
    path.write_text(HEADER + GOOD + "510100,C35,2020,+inf,亿元,gross_output,yearbook\n", encoding="utf-8")
    result = ws.run("build", "--sector-output", str(path))
    output = result.stdout + result.stderr
    assert result.returncode == EXIT_INPUT, output
    assert f"ERROR {path}, line 3, column 'value':" in output and "[rule: numeric]" in output
    assert "Traceback" not in output and "[stage] dbt-build" not in output
    assert ws.state() == before


def _fifo(path: Path) -> None:
    os.mkfifo(path)


@pytest.mark.parametrize(
    "make,words",
    [
        (lambda p: p.mkdir(), "this is a directory, not a regular file"),
        (_fifo, "this is a FIFO (named pipe), not a regular file"),
        (None, "this is a device, not a regular file"),  # /dev/zero
    ],
)
def test_only_regular_files_are_read_and_at_once(ws, tmp_path, make, words):
    path = Path("/dev/zero") if make is None else tmp_path / "input.csv"
    if make is not None:
        make(path)
    started = time.monotonic()
    result = ws.run("validate", "--sector-output", str(path), timeout=60)
    assert result.returncode == EXIT_INPUT
    assert time.monotonic() - started < 30  # a FIFO does not hang, /dev/zero is not read
    output = result.stdout + result.stderr
    assert f"ERROR {path}: {words}" in output and "[rule: regular_file]" in output
    assert "Traceback" not in result.stdout + result.stderr


def test_a_file_over_the_size_limit_is_refused(ws, tmp_path):
    path = tmp_path / "big.csv"
    # A 53-byte header and 2000 lines of 50 bytes (亿元 is 6): 100,053 bytes.
    path.write_text(HEADER + GOOD * 2000, encoding="utf-8")
    # 0.08 MiB = 83,886 bytes: above every seed (the largest has 54,876 bytes), below the file.
    result = ws.run("validate", "--sector-output", str(path), "--max-input-mb", "0.08")
    assert result.returncode == EXIT_INPUT
    output = result.stdout + result.stderr
    assert "the file has 100,053 bytes, more than the limit of 83,886" in output and "[rule: size_limit]" in output


def test_many_problems_print_the_first_50_and_a_count(ws, tmp_path):
    path = tmp_path / "many.csv"
    path.write_text(
        HEADER + "".join(f"510100,C34,2020,bad{i},亿元,gross_output,yearbook\n" for i in range(3000)), encoding="utf-8"
    )
    result = ws.run("validate", "--sector-output", str(path))
    assert result.returncode == EXIT_INPUT
    errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("ERROR")]
    # Each line's value is bad; 2999 lines also repeat line 2's key: 5999 problems.
    assert len(errors) == 50
    assert "... and 5949 more problem(s) not shown (the first 50 are above)" in result.stdout + result.stderr
    assert "5999 error(s)" in result.stdout + result.stderr


def test_a_glob_pattern_is_a_file_name_not_a_pattern(ws, tmp_path):
    for name in ("stA.csv", "stB.csv"):
        (tmp_path / name).write_text(HEADER + GOOD, encoding="utf-8")
    result = ws.run("validate", "--sector-output", str(tmp_path / "st*.csv"))
    assert result.returncode == EXIT_INPUT
    assert f"ERROR {tmp_path / 'st*.csv'}: the file does not exist [rule: file_exists]" in result.stdout + result.stderr


def test_blank_and_comma_only_lines_are_skipped_with_a_warning(ws, tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text(HEADER + GOOD + "\n,,,,,,\n , ,\u3000,,,,\n", encoding="utf-8")
    result = ws.run("validate", "--sector-output", str(path))
    assert result.returncode == 0, result.stdout
    assert "3 empty line(s) (or lines of only commas) skipped [rule: blank_lines]" in result.stdout + result.stderr


def test_what_the_reader_accepts_is_what_the_warehouse_holds(ws, tmp_path):
    # A name with glob characters next to the file a glob would pick instead; a source
    # starting with a quote character DuckDB's sniffer took for the quote; fields padded
    # with tabs, no-break spaces and ideographic spaces (trimmed, the documented rule); a
    # value 50 times the panel's estimate (published, with a warning naming the row).
    decoy = tmp_path / "fig1.csv"
    decoy.write_text(HEADER + "510100,C34,2020,1,亿元,gross_output,decoy\n", encoding="utf-8")
    path = tmp_path / "fig[1].csv"
    path.write_text(
        HEADER
        + "510600,C38,2023,905,亿元,gross_output,'quoted' yearbook table 3\n"
        + "\t510600\u00a0,C34,\u30002023,41000000, 万元 ,gross_output,yearbook, p. 12\n".replace(", p.", " p.")
        + "500118,C36,2023,60,万亿元,gross_output,'another quote\n",
        encoding="utf-8",
    )
    # 60 万亿元 for one cell is far beyond the published panel, and the user's cells are hard
    # constraints of the fit, so their areas' other cells move too: the gate blocks it unless explained.
    result = ws.run("build", "--sector-output", str(path), "--accept-shift", "synthetic far-off user figures")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNING dbt test warn_user_figure_far_from_estimate" in output and "'supplied_line': 4" in output
    con = duckdb.connect(str(ws.internal), read_only=True)
    try:
        rows = con.execute("""
            select supplied_line, area_code, sector_code, year, value_original, unit_original, source, supplied_file
            from intermediate.int_sector_output_supplied order by supplied_line
        """).fetchall()
        audit = con.execute(
            "select file, sha256, row_count from raw.load_audit where kind = 'sector_output'"
        ).fetchall()
    finally:
        con.close()
    assert rows == [
        (2, "510600", "C38", 2023, 905.0, "亿元", "'quoted' yearbook table 3", str(path)),
        (3, "510600", "C34", 2023, 41000000.0, "万元", "yearbook p. 12", str(path)),
        (4, "500118", "C36", 2023, 60.0, "万亿元", "'another quote", str(path)),
    ]
    assert audit == [(str(path), sha256(path), 3)]
    # Nothing reads the file at query time: edit it, and the warehouse still holds the same.
    path.write_text(HEADER, encoding="utf-8")
    con = duckdb.connect(str(ws.internal), read_only=True)
    try:
        assert con.execute("select count(*) from staging.stg_inputs__user_sector_output").fetchone()[0] == 3
    finally:
        con.close()
