"""Versions and the pointer: publish and rollback killed after every file-system step,
rollback walking back, pruning, and files replaced behind the tool's back.

These use small real DuckDB files (a `marts.build_info` row is what makes a file a
version of this project) and real processes killed with SIGKILL, so each case takes
a fraction of a second instead of a whole build.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from chengyu_cluster import warehouse as wh

EXIT_NO_VERSION, EXIT_UNSAFE, EXIT_CORRUPT = 7, 9, 11

# A child process that publishes a prepared candidate (argv: folder, build id) or rolls back.
DRIVER = """
import sys
from pathlib import Path
from chengyu_cluster import warehouse as wh
paths = wh.WarehousePaths(Path(sys.argv[1]) / "chengyu.duckdb")
if sys.argv[2] == "rollback":
    wh.rollback(paths)
else:
    candidate = paths.versions_dir / "chengyu.candidate-1.duckdb"
    wh.publish(paths, candidate, sys.argv[2], {"build_id": sys.argv[2]}, keep=10)
"""


def make_candidate(paths: wh.WarehousePaths, build_id: str) -> Path:
    """A sealed candidate holding its build id, as a real build leaves it before publishing."""
    paths.versions_dir.mkdir(parents=True, exist_ok=True)
    candidate = paths.versions_dir / "chengyu.candidate-1.duckdb"
    con = duckdb.connect(str(candidate))
    con.execute("create schema marts")
    con.execute("create table marts.build_info as select ? as build_id", [build_id])
    con.execute("create table marts.fct_sector_output as select 1 as n")
    con.close()
    return candidate


def publish(paths: wh.WarehousePaths, build_id: str) -> None:
    wh.publish(paths, make_candidate(paths, build_id), build_id, {"build_id": build_id}, keep=10)


def id_in_pointer(paths: wh.WarehousePaths) -> str:
    """Open the pointer as a reader would and read the build id inside."""
    con = duckdb.connect(str(paths.published), read_only=True)
    try:
        return con.execute("select build_id from marts.build_info").fetchone()[0]
    finally:
        con.close()


def run_driver(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", DRIVER, str(folder), *args], capture_output=True, text=True,
                          env=dict(os.environ, **env), timeout=60)


def count_steps(folder: Path, *args: str) -> int:
    trial = folder.parent / "trial"
    shutil.copytree(folder, trial, symlinks=True)
    out = run_driver(trial, *args, CHENGYU_TEST_TRACE_STEPS="1")
    assert out.returncode == 0, out.stderr
    shutil.rmtree(trial)
    return out.stdout.count("[step ")


@pytest.fixture
def three_versions(tmp_path) -> wh.WarehousePaths:
    paths = wh.WarehousePaths(tmp_path / "wh" / "chengyu.duckdb")
    for build_id in ("20260101T000000000000Z", "20260102T000000000000Z", "20260103T000000000000Z"):
        publish(paths, build_id)
    return paths


V1, V2, V3, V4 = "20260101T000000000000Z", "20260102T000000000000Z", "20260103T000000000000Z", "20260104T000000000000Z"


def test_publish_killed_after_every_file_system_step(three_versions, tmp_path):
    folder = three_versions.directory
    make_candidate(three_versions, V4)
    n_steps = count_steps(folder, V4)
    # chmod, rename candidate, record (write, rename, fsync), pointer (create, rename, fsync)
    assert n_steps == 8
    for k in range(1, n_steps + 1):
        case = tmp_path / f"kill-{k}"
        shutil.copytree(folder, case, symlinks=True)
        killed = run_driver(case, V4, CHENGYU_TEST_KILL_AFTER_STEP=str(k))
        assert killed.returncode == -9, (k, killed.stderr)
        paths = wh.WarehousePaths(case / "chengyu.duckdb")
        # The pointer names a complete, readable warehouse: the old one until the pointer's
        # rename (step 7), the new one from then on.
        expected = V4 if k >= 7 else V3
        assert id_in_pointer(paths) == expected, k
        assert paths.current().build_id == expected
        # Every earlier version still exists and matches its record.
        for build_id in (V1, V2, V3):
            wh.verify_version(paths, paths.version(build_id))
        # What the kill left is cleaned up by the next build; rollback goes exactly one back.
        wh.remove_leftovers(paths)
        assert not list(case.glob(".chengyu.pointer-*")) and not list(case.glob("versions/*candidate*"))
        wh.rollback(paths)
        assert id_in_pointer(paths) == (V3 if expected == V4 else V2), k


def test_rollback_killed_after_every_file_system_step(three_versions, tmp_path):
    folder = three_versions.directory
    n_steps = count_steps(folder, "rollback")
    assert n_steps == 3  # pointer: create, rename, fsync
    for k in range(1, n_steps + 1):
        case = tmp_path / f"kill-{k}"
        shutil.copytree(folder, case, symlinks=True)
        killed = run_driver(case, "rollback", CHENGYU_TEST_KILL_AFTER_STEP=str(k))
        assert killed.returncode == -9
        paths = wh.WarehousePaths(case / "chengyu.duckdb")
        expected = V2 if k >= 2 else V3
        assert id_in_pointer(paths) == expected
        assert [v.build_id for v in paths.versions()] == [V1, V2, V3]
        wh.remove_leftovers(paths)
        wh.rollback(paths)
        assert id_in_pointer(paths) == (V1 if expected == V2 else V2)


def test_three_rollbacks_walk_back_three_versions(three_versions):
    publish(three_versions, V4)
    seen = []
    for _ in range(3):
        left, now = wh.rollback(three_versions)
        seen.append((left.build_id, now.build_id, id_in_pointer(three_versions)))
    assert seen == [(V4, V3, V3), (V3, V2, V2), (V2, V1, V1)]
    with pytest.raises(wh.NoSuchVersion, match="oldest kept"):
        wh.rollback(three_versions)
    wh.rollback(three_versions, to=V4)
    assert id_in_pointer(three_versions) == V4


def test_pruning_keeps_the_newest_and_always_the_current(three_versions):
    wh.rollback(three_versions, to=V1)  # the current version is now the oldest
    wh.publish(three_versions, make_candidate(three_versions, V4), V4, {}, keep=2)
    # Pruning runs once the pointer names V4: of V1..V4, keep=2 keeps the newest two.
    assert [v.build_id for v in three_versions.versions()] == [V3, V4]
    wh.rollback(three_versions, to=V3)
    wh.publish(three_versions, make_candidate(three_versions, "20260105T000000000000Z"),
               "20260105T000000000000Z", {}, keep=1)
    assert [v.build_id for v in three_versions.versions()] == ["20260105T000000000000Z"]


def test_a_replaced_version_file_is_never_made_current(three_versions):
    # What a SQL client with file access did: COPY ... TO over a kept version.
    target = three_versions.version(V2).database
    os.chmod(target, 0o644)
    target.write_text("1\n")
    before = os.readlink(three_versions.published)
    with pytest.raises(wh.CorruptVersion, match="no longer matches the checksum"):
        wh.rollback(three_versions)
    assert os.readlink(three_versions.published) == before and id_in_pointer(three_versions) == V3


def test_a_version_whose_inside_names_another_build_is_refused(three_versions):
    # A valid DuckDB file of this project copied over another version, checksum updated.
    v1, v2 = three_versions.version(V1), three_versions.version(V2)
    os.chmod(v2.database, 0o644)
    shutil.copyfile(v1.database, v2.database)
    record = v2.read_record()
    v2.record.write_text(json.dumps(dict(record, sha256=wh.file_sha256(v2.database))))
    with pytest.raises(wh.CorruptVersion, match="names"):
        wh.rollback(three_versions)


@pytest.mark.parametrize("make,words", [
    (lambda p: p.write_text("my notes\n"), "a regular file that is not a DuckDB database"),
    (lambda p: p.mkdir(), "a directory"),
    (lambda p: os.mkfifo(p), "a device, FIFO or socket"),
    (lambda p: duckdb.connect(str(p)).close(), "a DuckDB file that no chengyu build published"),
])
def test_publishing_over_something_else_is_refused(tmp_path, make, words):
    paths = wh.WarehousePaths(tmp_path / "chengyu.duckdb")
    make(paths.published)
    with pytest.raises(wh.UnsafeWarehousePath, match=words):
        wh.check_publishable(paths)


def test_a_device_as_warehouse_path_is_refused_before_anything_is_created(tmp_path):
    with pytest.raises(wh.UnsafeWarehousePath, match="must be named <name>.duckdb"):
        wh.check_publishable(wh.WarehousePaths(Path("/dev/full")))
    assert not Path("/dev/versions").exists()
    device = tmp_path / "chengyu.duckdb"
    os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 7))  # /dev/full under a warehouse name
    with pytest.raises(wh.UnsafeWarehousePath, match="a device"):
        wh.check_publishable(wh.WarehousePaths(device))
    assert not (tmp_path / "versions").exists()


def test_a_wal_beside_the_pointer_is_refused(three_versions):
    three_versions.wal.write_bytes(b"x")
    with pytest.raises(wh.UnsafeWarehousePath, match="opened the published warehouse read-write"):
        wh.check_publishable(three_versions)


def test_a_warehouse_of_an_older_chengyu_is_adopted_as_a_version(tmp_path):
    paths = wh.WarehousePaths(tmp_path / "chengyu.duckdb")
    con = duckdb.connect(str(paths.published))
    con.execute("create schema marts; create table marts.fct_sector_output as select 1 as n")
    con.close()
    content = wh.file_sha256(paths.published)
    wh.check_publishable(paths)
    paths.versions_dir.mkdir()
    wh.adopt_legacy_file(paths)
    assert paths.published.is_symlink()
    [version] = paths.versions()
    assert wh.file_sha256(paths.published) == content and version.read_record()["sha256"] == content


# ---- found by trying to break it -----------------------------------------------------

def test_another_warehouse_in_the_same_folder_never_touches_these_versions(three_versions):
    other = wh.WarehousePaths(three_versions.directory / "other.duckdb")
    before = sorted(p.name for p in three_versions.versions_dir.iterdir())
    assert wh.remove_leftovers(other) == []
    with pytest.raises(wh.NoSuchVersion, match="nothing is published"):
        wh.rollback(other)
    assert sorted(p.name for p in three_versions.versions_dir.iterdir()) == before


def test_a_pointer_whose_record_is_gone_is_repaired_by_rollback_without_deleting_the_file(three_versions):
    current = three_versions.version(V3)
    current.record.unlink()
    with pytest.raises(wh.CorruptVersion, match="run `chengyu rollback`"):
        three_versions.current()
    assert wh.remove_leftovers(three_versions) == []  # the file the pointer names is kept
    left, now = wh.rollback(three_versions)
    assert left is None and now.build_id == V2 and current.database.exists()


def test_rollback_skips_versions_that_do_not_verify_when_repairing(three_versions):
    os.unlink(three_versions.published)
    os.symlink("/tmp", three_versions.published)  # a pointer outside versions/
    with pytest.raises(wh.CorruptVersion, match="not a complete version"):
        three_versions.current()
    v3 = three_versions.version(V3).database
    os.chmod(v3, 0o644)
    v3.write_bytes(b"damaged")
    _, now = wh.rollback(three_versions)
    assert now.build_id == V2 and id_in_pointer(three_versions) == V2


def test_a_pointer_to_a_same_named_file_elsewhere_is_refused(three_versions, tmp_path):
    elsewhere = tmp_path / "evil" / f"chengyu.{V3}.duckdb"
    elsewhere.parent.mkdir()
    shutil.copyfile(three_versions.version(V3).database, elsewhere)
    os.unlink(three_versions.published)
    os.symlink(elsewhere, three_versions.published)
    with pytest.raises(wh.CorruptVersion, match="not a complete version"):
        three_versions.current()


def test_a_symlinked_lock_is_refused_and_its_target_untouched(three_versions, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    os.symlink(victim, three_versions.lock)
    with pytest.raises(wh.UnsafeWarehousePath, match="not the build lock"):
        with wh.build_lock(three_versions):
            pass
    assert victim.read_text() == "precious\n"


@pytest.mark.parametrize("content", ["{not json", "", "[1, 2]"])
def test_an_unreadable_record_is_a_corrupt_version_not_a_crash(three_versions, content):
    three_versions.version(V2).record.write_text(content)
    with pytest.raises(wh.CorruptVersion, match=f"version {V2}: its record"):
        wh.rollback(three_versions)


@pytest.mark.parametrize("name", ["ch[1].duckdb", "chengyu.other.duckdb", "chengyu.db", "*.duckdb"])
def test_warehouse_file_names_must_be_plain(tmp_path, name):
    with pytest.raises(wh.UnsafeWarehousePath, match="must be named <name>.duckdb"):
        wh.check_publishable(wh.WarehousePaths(tmp_path / name))


def test_an_adoption_killed_half_way_is_finished_by_the_next_run(tmp_path):
    paths = wh.WarehousePaths(tmp_path / "chengyu.duckdb")
    con = duckdb.connect(str(paths.published))
    con.execute("create schema marts; create table marts.fct_sector_output as select 1 as n")
    con.close()
    paths.versions_dir.mkdir()
    build_id = wh.build_id_at(paths.published.stat().st_mtime)
    os.link(paths.published, paths.version(build_id).database)  # the first step ran, then a kill
    wh.adopt_legacy_file(paths)
    assert paths.current().build_id == build_id and paths.published.is_symlink()
