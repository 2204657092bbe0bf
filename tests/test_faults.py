"""Faults: builds killed with SIGKILL at several points, a reader holding the published
file, two builds at once, rollback. The published warehouse must never be damaged."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import duckdb
import pytest

from conftest import sha256, workspace_with_published

DATA = Path(__file__).parent / "data"
EXIT_LOCKED = 6



@pytest.fixture(scope="module")
def ws(built, tmp_path_factory):
    return workspace_with_published(built, tmp_path_factory.mktemp("faults"))


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


def test_killed_in_the_middle_of_dbt(ws):
    before = sha256(ws.published)
    proc = ws.start("build")
    wait_for_line(proc, "[stage] dbt-build")
    time.sleep(5)  # dbt is loading seeds and building models into the candidate
    kill_build(proc)
    assert sha256(ws.published) == before
    assert not ws.previous.exists()


def test_killed_before_the_quality_gate(ws):
    before = sha256(ws.published)
    proc = ws.start("build", CHENGYU_TEST_PAUSE_AT="quality-gate")
    wait_for_line(proc, "[pause] quality-gate")
    kill_build(proc)
    assert sha256(ws.published) == before
    # The complete but unchecked candidate is left behind, never published.
    assert list(ws.warehouse.glob(".chengyu.candidate-*.duckdb"))


def test_killed_between_keeping_the_old_version_and_the_rename(ws):
    before = sha256(ws.published)
    proc = ws.start("build", CHENGYU_TEST_PAUSE_AT="rename")
    wait_for_line(proc, "[pause] rename")
    kill_build(proc)
    assert sha256(ws.published) == before
    assert (ws.warehouse / "chengyu.previous.duckdb.tmp").exists()
    assert not ws.previous.exists()


def test_two_builds_at_once_the_second_refuses(ws):
    before = sha256(ws.published)
    first = ws.start("build", CHENGYU_TEST_PAUSE_AT="dbt-build")
    seen = "".join(wait_for_line(first, "[pause] dbt-build"))
    # Under the lock, the first build removed what the killed builds above left behind.
    assert "removed a candidate left by an earlier build: .chengyu.candidate-" in seen
    assert "removed a candidate left by an earlier build: chengyu.previous.duckdb.tmp" in seen
    second = ws.run("build", timeout=120)
    assert second.returncode == EXIT_LOCKED, second.stdout + second.stderr
    assert f"another build or rollback of {ws.published} is running (pid {first.pid})" in second.stderr
    kill_build(first)
    assert sha256(ws.published) == before


def test_next_build_recovers_publishes_while_a_reader_holds_the_file_and_rolls_back(ws):
    before = sha256(ws.published)
    reader = duckdb.connect(str(ws.published), read_only=True)
    try:
        old_count = reader.execute("select count(*) from marts.fct_sector_output where basis = 'synthetic'").fetchone()[0]
        assert old_count == 0

        result = ws.run("build", "--sector-output", str(DATA / "synthetic_sector_output.csv"))
        assert result.returncode == 0, result.stdout + result.stderr
        assert not list(ws.warehouse.glob(".chengyu.candidate-*"))
        assert not (ws.warehouse / "chengyu.previous.duckdb.tmp").exists()

        # The reader still sees the complete old version until it reconnects.
        assert reader.execute("select count(*) from marts.fct_sector_output "
                              "where basis = 'synthetic'").fetchone()[0] == 0
    finally:
        reader.close()

    assert sha256(ws.previous) == before
    after = sha256(ws.published)
    assert after != before
    con = duckdb.connect(str(ws.published), read_only=True)
    try:
        supplied = con.execute("""
            select area_code, sector_code, output_value_yuan, basis, supplied_source
            from marts.fct_sector_output where method = 'user_supplied' order by area_code, sector_code
        """).fetchall()
        # 905 亿元 = 9.05e10 yuan; 41000000 万元 = 4.1e11 yuan; 0.06 万亿元 = 6e10 yuan.
        assert [(a, s, v, b) for a, s, v, b, _ in supplied] == [
            ("500118", "C36", 6e10, "synthetic"), ("510600", "C34", 4.1e11, "synthetic"),
            ("510600", "C38", 9.05e10, "synthetic")]
        # The label travels to every measure built on the cells: against the eight-area
        # cluster every 2023 LQ reads the synthetic cells; against Sichuan + Chongqing (the
        # estimated province rows) only the two areas' own LQs do; 2022 is untouched.
        labels = dict(con.execute("""
            select reference || ' ' || year || ' ' || basis, count(*)
            from marts.fct_area_sector_specialization where year in (2022, 2023) group by all
        """).fetchall())
        assert labels == {"cluster8 2023 synthetic": 72, "sichuan_chongqing 2023 synthetic": 18,
                          "sichuan_chongqing 2023 estimated": 54, "cluster8 2022 estimated": 72,
                          "sichuan_chongqing 2022 estimated": 72}
    finally:
        con.close()

    rolled = ws.run("rollback")
    assert rolled.returncode == 0, rolled.stderr
    assert sha256(ws.published) == before and sha256(ws.previous) == after
    again = ws.run("rollback")
    assert again.returncode == 0 and sha256(ws.published) == after
