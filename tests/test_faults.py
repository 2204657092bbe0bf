"""Faults around whole builds: killed with SIGKILL, stopped with SIGTERM or Ctrl-C, two
builds at once, a reader holding the published file, a read-only or full disk, things
at the warehouse path that chengyu did not publish, a corrupt version. The published
warehouse is never damaged, and every failure ends in one line with its exit code."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest
import sqlalchemy

from conftest import workspace_with_published

DATA = Path(__file__).parent / "data"
EXIT_LOCKED, EXIT_QUERY, EXIT_UNSAFE, EXIT_STORAGE, EXIT_CORRUPT = 6, 8, 9, 10, 11


# Every case of the bad-input and fault corpus: one line, never a traceback.
pytestmark = pytest.mark.usefixtures("no_tracebacks")


@pytest.fixture(scope="module")
def ws(built, tmp_path_factory):
    return workspace_with_published(built, tmp_path_factory.mktemp("faults"))


def published_state(ws) -> dict:
    """The warehouse folder without the candidates that killed builds leave."""
    return {k: v for k, v in ws.state().items() if "candidate-" not in k}


def wait_for_line(proc, marker: str, timeout: float = 600) -> list[str]:
    """Read the build's output until a line contains marker."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"build ended before {marker!r}:\n" + "".join(seen))
        seen.append(line)
        if marker in line:
            return seen
    raise AssertionError(f"no {marker!r} within {timeout} s")


def kill_build(proc) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()


def assert_one_line_error(output: str, code_words: str) -> None:
    assert "Traceback" not in output, output
    assert code_words in output, output


def test_killed_in_the_middle_of_dbt(ws):
    before = published_state(ws)
    proc = ws.start("build")
    wait_for_line(proc, "[stage] dbt-build")
    time.sleep(5)  # dbt is building models into the candidate
    kill_build(proc)
    assert published_state(ws) == before
    assert list((ws.warehouse / "versions").glob("chengyu.candidate-*.duckdb")), "the killed build's candidate"


@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_stopped_build_stops_dbt_removes_its_candidate_and_releases_the_lock(ws, signum, code):
    before = published_state(ws)
    proc = ws.start("build", CHENGYU_TEST_PAUSE_AT="quality-gate", CHENGYU_TEST_PAUSE_SECONDS="600")
    wait_for_line(proc, "[stage] dbt-build")
    time.sleep(4)  # the dbt child is running
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert children, "dbt runs in a child process"
    os.kill(proc.pid, signum)  # the build alone, as `kill` or a terminal would
    output = proc.stdout.read()
    assert proc.wait(timeout=60) == code
    proc.stdout.close()
    assert_one_line_error(
        output, f"chengyu: stopped by {signal.Signals(signum).name}; the published warehouse is unchanged"
    )
    for child in children:
        assert not Path(f"/proc/{child}").exists() or "zombie" in Path(f"/proc/{child}/status").read_text().lower()
    assert not list((ws.warehouse / "versions").glob("chengyu.candidate-*"))
    assert published_state(ws) == {k: v for k, v in before.items()}
    # The lock is free: a rollback (which takes it) gets past it.
    assert ws.run("versions").returncode == 0


def test_two_builds_at_once_the_second_refuses(ws):
    before = published_state(ws)
    (ws.warehouse / "versions" / "chengyu.candidate-999999.duckdb").write_bytes(b"left by a killed build")
    first = ws.start("build", CHENGYU_TEST_PAUSE_AT="dbt-build")
    try:
        seen = "".join(wait_for_line(first, "[pause] dbt-build"))
        # Under the lock, the first build removes what a killed build left behind.
        assert "removed what an interrupted build left: chengyu.candidate-999999.duckdb" in seen
        second = ws.run("build", timeout=120)
        assert second.returncode == EXIT_LOCKED, second.stdout + second.stderr
        assert f"another build or rollback of {ws.published} is running (pid {first.pid})" in second.stderr
    finally:
        kill_build(first)
    assert published_state(ws) == before


def test_next_build_publishes_while_a_reader_holds_the_file_and_rolls_back(ws):
    old = ws.current()
    # Readers of the published file while the build runs: in this process through SQLAlchemy
    # (duckdb_engine: DuckDB allows one configuration per file and process), in another
    # through `chengyu sql` (DuckDB's Python client). No access path blocks the build.
    engine = sqlalchemy.create_engine(f"duckdb:///{ws.published}", connect_args={"read_only": True})
    reader = engine.connect()
    shell = subprocess.Popen(
        ws.command("sql"),
        env=ws.env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def synthetic_cells() -> int:
        return reader.execute(
            sqlalchemy.text("select count(*) from marts.fct_sector_output where basis = 'synthetic'")
        ).scalar()

    try:
        assert synthetic_cells() == 0
        # The synthetic cells are hard constraints of the panel fit and move their areas'
        # other cells too: the gate's shift against the published build is expected.
        result = ws.run(
            "build",
            "--sector-output",
            str(DATA / "synthetic_sector_output.csv"),
            "--accept-shift",
            "synthetic user figures",
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert not list((ws.warehouse / "versions").glob("chengyu.candidate-*"))
        # The readers still see the complete old version until they reconnect.
        assert synthetic_cells() == 0
        assert reader.execute(sqlalchemy.text("select count(*) from marts.fct_sector_output")).scalar() == 648
        assert reader.execute(sqlalchemy.text("select count(*) from marts.dim_area")).scalar() == 16
        out, _ = shell.communicate("select count(*) as n from marts.dim_year;\n", timeout=60)
        assert "31" in out
    finally:
        reader.close()
        engine.dispose()
        if shell.poll() is None:
            shell.kill()

    new = ws.current()
    assert new != old and ws.versions()[-2:] == [old, new]
    con = duckdb.connect(str(ws.published), read_only=True)
    try:
        supplied = con.execute("""
            select area_code, sector_code, output_value_yuan, basis
            from marts.fct_sector_output where method = 'user_supplied' order by area_code, sector_code
        """).fetchall()
        # 905 亿元 = 9.05e10 yuan; 41000000 万元 = 4.1e11 yuan; 0.06 万亿元 = 6e10 yuan.
        assert supplied == [
            ("500118", "C36", 6e10, "synthetic"),
            ("510600", "C34", 4.1e11, "synthetic"),
            ("510600", "C38", 9.05e10, "synthetic"),
        ]
        # The label travels to every measure built on the cells: the fit is one joint solve,
        # so the synthetic cells move every estimated cell, which is labelled synthetic too,
        # and so is every LQ of both references in every year (72 = 8 areas x 9 divisions).
        labels = dict(
            con.execute("""
            select reference || ' ' || year || ' ' || basis, count(*)
            from marts.fct_area_sector_specialization where year in (2022, 2023) group by all
        """).fetchall()
        )
        assert labels == {
            "cluster8 2023 synthetic": 72,
            "sichuan_chongqing 2023 synthetic": 72,
            "cluster8 2022 synthetic": 72,
            "sichuan_chongqing 2022 synthetic": 72,
        }
        # The warehouse says which build it is and which file it holds.
        build_id, user_file, share = con.execute(
            "select build_id, user_file, estimated_cell_share from marts.build_info"
        ).fetchone()
        assert build_id == new and user_file == str(DATA / "synthetic_sector_output.csv")
        assert share == pytest.approx(645 / 648)  # 3 of the 648 cells supplied
    finally:
        con.close()

    rolled = ws.run("rollback")
    assert rolled.returncode == 0, rolled.stderr
    assert ws.current() == old
    listed = ws.run("versions").stdout
    assert f"* {old}" in listed and f"  {new}" in listed


@contextmanager
def small_disk(path: Path, size: str, read_only: bool = False):
    """A tmpfs of the given size at path (root only: skipped where mounting is refused)."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_full_disk_is_refused_before_building_with_the_space_needed(ws, tmp_path):
    with small_disk(tmp_path / "disk", "1m") as disk:
        result = ws.run("build", CHENGYU_WAREHOUSE=str(disk / "chengyu.duckdb"))
    output = result.stdout + result.stderr
    assert result.returncode == EXIT_STORAGE, output
    assert_one_line_error(output, "MiB free; a build needs about 64 MiB free there")


def test_a_read_only_folder_is_refused(ws, tmp_path):
    with small_disk(tmp_path / "ro", "8m") as disk:
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        result = ws.run("build", CHENGYU_WAREHOUSE=str(disk / "chengyu.duckdb"))
    output = result.stdout + result.stderr
    assert result.returncode == EXIT_STORAGE, output
    assert_one_line_error(output, "the file system is read-only")


def test_a_text_file_at_the_warehouse_path_is_never_overwritten(ws, tmp_path):
    notes = tmp_path / "notes.duckdb"
    notes.write_text("my notes\n")
    result = ws.run("build", CHENGYU_WAREHOUSE=str(notes))
    assert result.returncode == EXIT_UNSAFE
    assert_one_line_error(result.stderr, "not a warehouse chengyu published")
    assert notes.read_text() == "my notes\n" and not (tmp_path / "versions").exists()


def test_a_wal_beside_the_published_file_is_refused_before_building(ws):
    wal = ws.warehouse / "chengyu.duckdb.wal"
    wal.write_bytes(b"left by a read-write client")
    try:
        started = time.monotonic()
        result = ws.run("build")
        assert result.returncode == EXIT_UNSAFE
        assert time.monotonic() - started < 30, "refused before dbt runs"
        assert_one_line_error(result.stderr, "opened the published warehouse read-write")
        assert "[stage] dbt-build" not in result.stdout
    finally:
        wal.unlink()


def test_a_writer_holding_the_file_makes_sql_say_locked(ws):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; "
            f"c = duckdb.connect({str(ws.published)!r}); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=ws.env(),
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        result = ws.run("sql", "select 1")
        assert result.returncode == EXIT_LOCKED
        assert_one_line_error(result.stderr, "held open for writing by another process")
    finally:
        holder.kill()
        holder.wait()


def test_a_corrupt_published_version_is_named_damaged_by_every_command_and_the_build(ws, tmp_path):
    current = ws.warehouse / "versions" / f"chengyu.{ws.current()}.duckdb"
    saved = current.read_bytes()
    os.chmod(current, 0o644)
    current.write_bytes(b"x" * 4096)
    # The way back: the last version that verifies, or a new build when there is none.
    way_back = "`chengyu rollback --to " if len(ws.versions()) > 1 else "`chengyu build --accept-shift REASON`"
    try:
        for args in (("sql", "select 1"), ("export", "--out", str(tmp_path / "out")), ("build",)):
            result = ws.run(*args)
            assert result.returncode == EXIT_CORRUPT, (args, result.stderr)
            assert_one_line_error(result.stderr, "the published version is damaged")
            assert way_back in result.stderr and "CRITICAL" not in result.stderr, result.stderr
        assert "[stage] dbt-build" not in result.stdout  # the build stopped before dbt
        verified = ws.run("verify")
        assert verified.returncode == EXIT_CORRUPT and "no longer matches the checksum" in verified.stderr
    finally:
        current.write_bytes(saved)
        os.chmod(current, 0o444)
