"""Hostile command-line values and output paths: each is one line on stderr and a documented
exit code (README), never a traceback, and nothing is written where it was not asked for.
No build needed: the argument checks, outputs.py, the PostgreSQL marker and the rendering
of `chengyu metrics query` are exercised directly; tests/test_access.py runs the commands
against a real build."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from chengyu_cluster.access.metrics import display_cell, mf_error_line
from chengyu_cluster.cli import main
from chengyu_cluster.outputs import (
    OutputInTheWay,
    check_docs_folder,
    check_file_target,
    new_folder,
    write_file,
)
from chengyu_cluster.publish.postgres import LEGACY_COMMENT, read_marker, schema_comment
from chengyu_cluster.publish.versions import StorageError

EXIT_USAGE, EXIT_IN_THE_WAY, EXIT_STORAGE = 2, 9, 10


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(
    "args,words",
    [
        (
            ["synth", "--enterprises", "3", "--months", "2", "--invoices", "1", "--out", "x", "--memory-limit", "abc"],
            "'abc' is not a size such as 2GB",
        ),
        (
            [
                "synth",
                "--enterprises",
                "3",
                "--months",
                "2",
                "--invoices",
                "1",
                "--out",
                "x",
                "--memory-limit",
                "3GB; x",
            ],
            "is not a size",
        ),
        (["synth", "--enterprises", "3", "--months", "2", "--invoices", "1", "--out", ""], "the path is empty"),
        (["export", "--out", ""], "the path is empty"),
        (["export", "--out", "   "], "the path is empty"),
        (["report", "--out", ""], "the path is empty"),
        (["docs", "--out", ""], "the path is empty"),
        (["publish-postgres", "--dsn", "x", "--schema", "a" * 54], "longer than 53 characters"),
        (["publish-postgres", "--dsn", "x", "--schema", "public; drop"], "not a plain lower-case PostgreSQL name"),
        (["publish-postgres", "--dsn", "x", "--schema", "模式"], "not a plain lower-case PostgreSQL name"),
        (["export"], "the following arguments are required: --out"),
        (["nosuchcommand"], "invalid choice"),
    ],
)
def test_bad_values_are_one_line_usage_errors(args, words, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    line = one_line(capsys.readouterr().err)
    assert exit_info.value.code == EXIT_USAGE and words in line, line


@pytest.mark.parametrize(
    "given,words",
    [
        ("/nonexistent", "does not exist"),
        ("", "does not exist"),
        ("/proc/self", "has no dbt_project.yml"),
        ("/etc/hostname", "does not exist or is not a folder"),  # a file where a folder is expected
        ("/tmp/" + "长" * 200, "does not exist"),  # a name too long for the file system
    ],
)
def test_a_project_dir_that_is_not_a_project_is_refused_not_replaced(given, words, capsys, tmp_path, monkeypatch):
    # Run from a real project: the old code fell back to it and built the current folder.
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    assert main(["--project-dir", given, "versions"]) == EXIT_USAGE
    assert words in one_line(capsys.readouterr().err)


def test_project_dir_from_the_environment_is_checked_too(capsys, monkeypatch):
    monkeypatch.setenv("CHENGYU_PROJECT_DIR", "/nonexistent")
    assert main(["versions"]) == EXIT_USAGE
    assert "CHENGYU_PROJECT_DIR '/nonexistent' does not exist" in one_line(capsys.readouterr().err)


# ---- outputs.py: files --------------------------------------------------------------------


def hostile(tmp_path: Path, kind: str) -> Path:
    """A path holding something chengyu must not write through or replace."""
    path = tmp_path / f"out-{kind}"
    if kind == "symlink":
        path.symlink_to(tmp_path / "victim")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "dangling-symlink":
        path.symlink_to(tmp_path / "nothing-yet")
    return path


@pytest.mark.parametrize("kind", ["symlink", "dangling-symlink", "fifo", "folder"])
def test_a_file_output_never_goes_through_or_replaces_anything_but_a_file(tmp_path, kind):
    (tmp_path / "victim").write_text("precious", encoding="utf-8")
    path = hostile(tmp_path, kind)
    before = os.lstat(path)
    with pytest.raises(OutputInTheWay) as refused:
        write_file(path, "report")
    assert refused.value.exit_code == EXIT_IN_THE_WAY and str(path) in str(refused.value)
    assert (tmp_path / "victim").read_text(encoding="utf-8") == "precious"
    assert os.lstat(path).st_mode == before.st_mode
    assert not (tmp_path / "nothing-yet").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".chengyu-")]  # no temporary left


def test_a_device_is_refused():
    with pytest.raises(OutputInTheWay, match="is a device"):
        check_file_target(Path("/dev/null"))


def test_a_file_output_replaces_a_regular_file_and_creates_folders_on_the_way(tmp_path):
    target = tmp_path / "a" / "b" / "报告 report's.html"
    assert write_file(target, "one") == target
    write_file(target, "two")
    assert target.read_text(encoding="utf-8") == "two"
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~current_umask()
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]


def test_a_folder_that_takes_no_files_is_a_storage_error():
    with pytest.raises(StorageError, match="takes no new files") as refused:
        write_file(Path("/proc/version"), "x")
    assert refused.value.exit_code == EXIT_STORAGE


def test_a_name_too_long_is_the_file_systems_refusal(tmp_path):
    with pytest.raises(OSError) as refused:  # warehouse.storage_errors makes it exit 10, one line
        write_file(tmp_path / ("x" * 300), "x")
    assert refused.value.errno == errno.ENAMETOOLONG


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# ---- outputs.py: folders ------------------------------------------------------------------


def test_a_new_folder_is_written_beside_and_renamed_into_place(tmp_path):
    out = tmp_path / "exports" / "2026"
    with new_folder(out) as folder:
        assert folder.parent == out.parent and folder != out and not out.exists()
        (folder / "manifest.json").write_text("{}", encoding="utf-8")
    assert [p.name for p in out.iterdir()] == ["manifest.json"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~current_umask()


def test_an_empty_folder_is_replaced(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    with new_folder(out) as folder:
        (folder / "a.parquet").write_bytes(b"x")
    assert [p.name for p in out.iterdir()] == ["a.parquet"]


def test_a_failed_export_leaves_nothing(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(RuntimeError), new_folder(out) as folder:
        (folder / "half.parquet").write_bytes(b"x")
        raise RuntimeError("disk gone")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["planted-manifest-symlink", "a-file-in-it", "symlink", "fifo", "file"])
def test_a_folder_output_must_be_new_or_empty(tmp_path, kind):
    victim = tmp_path / "victim.json"
    victim.write_text("a version record", encoding="utf-8")
    out = tmp_path / "out"
    if kind == "planted-manifest-symlink":  # issue 22 case 7
        out.mkdir()
        (out / "manifest.json").symlink_to(victim)
    elif kind == "a-file-in-it":
        out.mkdir()
        (out / "notes.txt").write_text("mine", encoding="utf-8")
    elif kind == "symlink":
        (tmp_path / "empty").mkdir()
        out.symlink_to(tmp_path / "empty")
    elif kind == "fifo":
        os.mkfifo(out)
    else:
        out.write_text("x", encoding="utf-8")
    with pytest.raises(OutputInTheWay) as refused, new_folder(out) as folder:
        (folder / "manifest.json").write_text("overwritten", encoding="utf-8")
    assert refused.value.exit_code == EXIT_IN_THE_WAY
    assert victim.read_text(encoding="utf-8") == "a version record"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".chengyu-")]


def test_a_folder_filled_meanwhile_is_not_overwritten(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(OutputInTheWay, match="changed by someone else"), new_folder(out) as folder:
        (folder / "manifest.json").write_text("ours", encoding="utf-8")
        out.mkdir()
        (out / "theirs.txt").write_text("theirs", encoding="utf-8")  # arrives while the export runs
    assert [p.name for p in out.iterdir()] == ["theirs.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_docs_folder_may_exist_but_not_be_a_link(tmp_path):
    (tmp_path / "docs").mkdir()
    check_docs_folder(tmp_path / "docs")
    check_docs_folder(tmp_path / "new")
    (tmp_path / "link").symlink_to(tmp_path / "docs")
    with pytest.raises(OutputInTheWay, match="symbolic link"):
        check_docs_folder(tmp_path / "link")


# ---- publish-postgres: the marker of chengyu's own schema -----------------------------------


def test_the_marker_round_trips_and_nothing_else_counts():
    comment = schema_comment("chengyu.duckdb", "20261207T045300881511Z", ["dim_area", "build_info"])
    assert read_marker(comment) == {"build_id": "20261207T045300881511Z", "tables": ["build_info", "dim_area"]}
    # A publication from before the marker: its tables are not listed, its build id is in build_info.
    assert read_marker(LEGACY_COMMENT + "chengyu.x.duckdb") == {"build_id": None, "tables": None}
    for other in (
        None,
        "",
        "standard public schema",
        "chengyu-publication: not json",
        'chengyu-publication: {"tables": "dim_area"}',
        "chengyu-publication: [1]",
    ):
        assert read_marker(other) is None, other


# ---- chengyu metrics query: what people read ------------------------------------------------


@pytest.mark.parametrize(
    "column,text,decimals,shown",
    [
        ("metric_time__year", "2015-01-01 00:00:00", None, "2015"),
        ("metric_time__quarter", "2015-07-01 00:00:00", None, "2015-Q3"),  # July is in the third quarter
        ("metric_time__month", "2015-07-01 00:00:00", None, "2015-07"),
        ("metric_time__day", "2015-07-02 00:00:00", None, "2015-07-02"),
        ("sector_output_yuan", "386254409909.3565", None, "386254409909.3565"),
        ("sector_output_yuan", "3.86254e+11", None, "386254000000"),  # mf's own 'g' form, written out
        ("sector_output_growth", "1.5e-05", None, "0.000015"),
        ("sector_output_growth", "0.0635154", 2, "0.06"),
        ("sector_output_yuan", "386254409909.7", 0, "386254409910"),  # .7 rounds the last digit up: 909 -> 910
        ("area__code", "0510", None, "0510"),  # a code stays a code
        ("area__name_en", "Infinity", None, "Infinity"),
        ("sector_output_growth", "", None, None),  # mf writes a missing value as an empty cell
    ],
)
def test_metric_cells_as_people_read_them(column, text, decimals, shown):
    assert display_cell(column, text, decimals) == shown


UNKNOWN_GROUP_BY = """
ERROR: Got error(s) during query resolution.

Error #1:
  Message:

    The given input does not match any of the available group-by-items for
    SimpleMetric('sector_output_yuan'). Common issues are:
      * Incorrect names.

    Suggestions:
      [
        'output_cell__basis',
        'metric_time__year',
      ]

  Query Input:

    nosuch__dim

Log File:: /x/logs/metricflow.log
"""


@pytest.mark.parametrize(
    "output,line",
    [
        (
            UNKNOWN_GROUP_BY,
            "The given input does not match any of the available group-by-items for "
            "SimpleMetric('sector_output_yuan') (input: nosuch__dim); did you mean output_cell__basis, "
            "metric_time__year",
        ),
        (
            "ERROR: Runtime Error\n  Parser Error: syntax error at end of input\nLog File:: x\n",
            "Parser Error: syntax error at end of input",
        ),
        (
            "Usage: mf query [OPTIONS]\nTry 'mf query --help' for help.\n\nError: No such option '--bogus'.\n",
            "No such option '--bogus'.",
        ),
        ("", "mf failed without saying why"),
    ],
)
def test_mf_errors_become_one_line(output, line):
    assert mf_error_line(output) == line


# ---- synth: any seed, and only its own folder --------------------------------------------


def test_synth_takes_any_seed_and_touches_nothing_beside_its_folder(tmp_path):
    from chengyu_cluster.synth.generator import SynthConfig, synth

    repo = Path(__file__).resolve().parents[2]
    (tmp_path / "s.partial").mkdir()  # someone's folder: the old synth removed `<out>.partial`
    (tmp_path / "s.partial" / "keep.txt").write_text("theirs", encoding="utf-8")
    # 30000 * 104729 = 3,141,870,000 > 2^31 - 1: DuckDB's INT32 overflowed ("Out of Range Error").
    for seed in (-5, 30000, 2**70):
        synth(repo, tmp_path / f"s{seed}", SynthConfig(enterprises=5, months=3, invoices=10, seed=seed))
    synth(repo, tmp_path / "s", SynthConfig(enterprises=5, months=3, invoices=10, seed=1))
    assert (tmp_path / "s.partial" / "keep.txt").read_text(encoding="utf-8") == "theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["s.partial", "s", "s-5", "s30000", f"s{2**70}"])
