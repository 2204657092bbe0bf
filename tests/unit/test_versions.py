"""Versions, the pointer and the publish log: publish, rollback and prune killed after every
file-system step, rollback following what was live (not build-id order), pruning by what was
live, unique ids under a clock that jumps, the published file checked by every command that
opens it, and files replaced or deleted behind the tool's back.

These build nothing: small real DuckDB files (a `marts.build_info` row is what makes a file a
version of this project) and real processes killed with SIGKILL, so each case takes a
fraction of a second instead of a whole build.
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

from chengyu_cluster.publish import versions as wh

REPO = Path(__file__).resolve().parents[2]
EXIT_LOCKED, EXIT_NO_VERSION, EXIT_QUERY, EXIT_UNSAFE, EXIT_CORRUPT = 6, 7, 8, 9, 11
V1, V2, V3, V4, V5, V6 = (f"2026010{d}T000000000000Z" for d in range(1, 7))

# A child process that runs a sequence of operations on a warehouse folder (argv[1]):
# publish:ID:KEEP (makes the candidate first), rollback, prune:KEEP. Its fs_step counter
# runs over the whole sequence, so CHENGYU_TEST_KILL_AFTER_STEP=k stops it at any step.
DRIVER = """
import sys
from pathlib import Path
import duckdb
from chengyu_cluster.publish import versions as wh
paths = wh.WarehousePaths(Path(sys.argv[1]) / "chengyu.duckdb")
for op in sys.argv[2:]:
    kind, *rest = op.split(":")
    if kind == "publish":
        candidate = paths.versions_dir / "chengyu.candidate-build.duckdb"
        candidate.unlink(missing_ok=True)
        con = duckdb.connect(str(candidate))
        con.execute("create schema marts")
        con.execute("create table marts.build_info as select ? as build_id", [rest[0]])
        con.close()
        wh.publish(paths, candidate, rest[0], {"build_id": rest[0]}, keep=int(rest[1]))
    elif kind == "rollback":
        wh.rollback(paths)
    elif kind == "prune":
        wh.prune(paths, int(rest[0]))
"""


def make_candidate(paths: wh.WarehousePaths, build_id: str) -> Path:
    """A sealed candidate holding its build id, as a real build leaves it before publishing."""
    paths.versions_dir.mkdir(parents=True, exist_ok=True)
    candidate = paths.candidate()
    candidate.unlink(missing_ok=True)
    con = duckdb.connect(str(candidate))
    con.execute("create schema marts")
    con.execute("create table marts.build_info as select ? as build_id", [build_id])
    con.execute("create table marts.fct_sector_output as select 1 as n")
    # What must stay in the internal file: an enterprise-level row.
    con.execute("create schema microdata")
    con.execute("create table microdata.fct_enterprise_month as select '91510100MA0001' as credit_code, 5.0 as output")
    con.close()
    return candidate


def publish(paths: wh.WarehousePaths, build_id: str, keep: int = 10) -> None:
    wh.publish(paths, make_candidate(paths, build_id), build_id, {"build_id": build_id}, keep=keep)


def id_in_pointer(paths: wh.WarehousePaths) -> str:
    """Open the pointer as a reader would and read the build id inside."""
    con = duckdb.connect(str(paths.published), read_only=True)
    try:
        return con.execute("select build_id from marts.build_info").fetchone()[0]
    finally:
        con.close()


def kept(paths: wh.WarehousePaths) -> set[str]:
    return {v.build_id for v in paths.versions()}


def rollbacks_until_refused(paths: wh.WarehousePaths) -> list[str]:
    """Plain rollbacks until there is nothing to roll back to: the versions they reached."""
    reached = []
    while True:
        try:
            reached.append(wh.rollback(paths)[1].build_id)
        except wh.NoSuchVersion:
            return reached


def run_driver(folder: Path, *ops: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", DRIVER, str(folder), *ops],
        capture_output=True,
        text=True,
        env=dict(os.environ, **env),
        timeout=60,
    )


def killed_at_every_step(folder: Path, tmp_path: Path, *ops: str):
    """Yield (k, paths) for a fresh copy of folder whose operations were killed after step k,
    for k = 1, 2, ... until the operations complete; then check that they did complete."""
    k = 0
    while True:
        k += 1
        case = tmp_path / f"kill-{k}"
        shutil.copytree(folder, case, symlinks=True)
        run = run_driver(case, *ops, CHENGYU_TEST_KILL_AFTER_STEP=str(k))
        if run.returncode == 0:
            assert k > 3, "the operations ran without file-system steps"
            return
        assert run.returncode == -9, (k, run.stderr)
        yield k, wh.WarehousePaths(case / "chengyu.duckdb")


def assert_log_and_pointer_agree(paths: wh.WarehousePaths) -> str:
    """After a kill: the next locked command's repair makes the log agree with the pointer,
    and the pointer names a complete version whose file holds its id."""
    wh.remove_leftovers(paths)
    live = paths.current().build_id
    assert wh.read_history(paths).live == live  # readers replay the log as repaired already
    wh.reconcile(paths, "test")
    history = wh.read_history(paths)
    assert history.pending is None and history.live == live and id_in_pointer(paths) == live
    for version in paths.versions():
        wh.verify_version(paths, version)
    assert not list(paths.directory.glob(".chengyu.pointer-*")) and not list(paths.versions_dir.glob("*candidate*"))
    # No file of a version without its record: every file left is one of a complete version.
    files = {p.name for p in paths.versions_dir.glob("chengyu.2*.duckdb")}
    assert files == {p.name for v in paths.versions() for p in (v.database, v.internal) if p.exists()}
    return live


@pytest.fixture
def three_versions(tmp_path) -> wh.WarehousePaths:
    paths = wh.WarehousePaths(tmp_path / "wh" / "chengyu.duckdb")
    for build_id in (V1, V2, V3):
        publish(paths, build_id)
    return paths


# ---- kills at every file-system step ----------------------------------------------------


def test_publish_killed_after_every_file_system_step(three_versions, tmp_path):
    steps = 0
    for k, paths in killed_at_every_step(three_versions.directory, tmp_path, f"publish:{V4}:10"):
        steps = k
        live = assert_log_and_pointer_agree(paths)
        # The old version until the pointer's rename (the commit point), the new one after.
        assert live in (V3, V4)
        assert {V1, V2, V3} <= kept(paths)
        # From either state, rollbacks walk back what was live, newest first.
        assert rollbacks_until_refused(paths) == ([V3, V2, V1] if live == V4 else [V2, V1]), k
    # the serving file written, then chmod, link, unlink for the internal file and for the
    # serving file, record (write, rename, fsync), pointer (create, rename, fsync), log
    # (append, fsync): 1 + 3 + 3 + 3 + 3 + 2 = 15 steps.
    assert steps == 15


def test_rollback_killed_after_every_file_system_step(three_versions, tmp_path):
    steps = 0
    for k, paths in killed_at_every_step(three_versions.directory, tmp_path, "rollback"):
        steps = k
        live = assert_log_and_pointer_agree(paths)
        assert live in (V3, V2) and kept(paths) == {V1, V2, V3}
        assert rollbacks_until_refused(paths) == ([V2, V1] if live == V3 else [V1]), k
    assert steps == 5  # pointer: create, rename, fsync; log: append, fsync


def test_prune_killed_after_every_file_system_step(three_versions, tmp_path):
    publish(three_versions, V4)
    steps = 0
    for k, paths in killed_at_every_step(three_versions.directory, tmp_path, "prune:2"):
        steps = k
        assert assert_log_and_pointer_agree(paths) == V4
        # The two most recently live (V4, V3) are never touched; V2 and V1 go, record first.
        assert {V3, V4} <= kept(paths) <= {V1, V2, V3, V4}
        assert rollbacks_until_refused(paths)[:1] == [V3]
    assert steps == 6  # V1 and V2 (the least recently live): record, serving file, internal file each


def test_rollback_build_rollback_killed_after_every_file_system_step(three_versions, tmp_path):
    """rollback (V3 withdrawn), publish V4 keeping 3 (prunes V1), rollback (V4 withdrawn):
    killed at any step, the log and pointer agree and a withdrawn version never comes back."""
    ops = ("rollback", f"publish:{V4}:3", "rollback")
    states = set()
    for k, paths in killed_at_every_step(three_versions.directory, tmp_path, *ops):
        live = assert_log_and_pointer_agree(paths)
        v4_was_live = V4 in wh.read_history(paths).last_live
        states.add((live, v4_was_live))
        # What plain rollbacks reach from each state (a version pruned meanwhile is skipped).
        path = {(V3, False): [V2, V1], (V2, False): [V1], (V4, True): [V2, V1], (V2, True): [V1]}[(live, v4_was_live)]
        assert rollbacks_until_refused(paths) == [b for b in path if b in kept(paths)], k
    assert states == {(V3, False), (V2, False), (V4, True), (V2, True)}  # every stage was hit


# ---- case 1: rollback follows what was live, not build order ------------------------------


def test_rollback_returns_to_the_version_live_before_not_a_withdrawn_one(three_versions):
    wh.rollback(three_versions)  # V2 live, V3 withdrawn
    publish(three_versions, V4)
    assert wh.rollback(three_versions)[1].build_id == V2  # not V3, the withdrawn one
    assert wh.rollback(three_versions)[1].build_id == V1
    with pytest.raises(wh.NoSuchVersion, match="comes back only when named"):
        wh.rollback(three_versions)
    assert wh.rollback(three_versions, to=V3)[1].build_id == V3  # named, it comes back
    assert wh.rollback(three_versions)[1].build_id == V1  # undoing `--to V3`


def test_rollback_to_an_old_version_withdraws_the_ones_above_it(three_versions):
    wh.rollback(three_versions, to=V1)
    publish(three_versions, V4)
    assert rollbacks_until_refused(three_versions) == [V1]
    assert id_in_pointer(three_versions) == V1


def test_three_rollbacks_walk_back_three_versions(three_versions):
    publish(three_versions, V4)
    seen = []
    for _ in range(3):
        left, now = wh.rollback(three_versions)
        seen.append((left.build_id, now.build_id, id_in_pointer(three_versions)))
    assert seen == [(V4, V3, V3), (V3, V2, V2), (V2, V1, V1)]
    with pytest.raises(wh.NoSuchVersion):
        wh.rollback(three_versions)
    wh.rollback(three_versions, to=V4)
    assert id_in_pointer(three_versions) == V4


# ---- case 2: pruning keeps what was live most recently ------------------------------------


def test_pruning_keeps_the_live_version_and_the_most_recently_live(tmp_path):
    paths = wh.WarehousePaths(tmp_path / "chengyu.duckdb")
    for build_id in (V1, V2, V3, V4, V5):
        publish(paths, build_id, keep=5)
    wh.rollback(paths, to=V1)  # V1 live, V2..V5 withdrawn
    publish(paths, V6, keep=5)
    # Most recently live: V6 (now), V1 (until V6), V5 (until the rollback), V4, V3; V2 goes.
    assert kept(paths) == {V6, V1, V5, V4, V3}
    assert wh.rollback(paths)[1].build_id == V1  # not the withdrawn V5
    publish(paths, "20260107T000000000000Z", keep=1)
    assert kept(paths) == {"20260107T000000000000Z"}


# ---- case 3: a clock that jumps, unique ids ---------------------------------------------------


def test_a_version_dated_in_the_future_is_neither_pruned_nor_skipped(tmp_path):
    paths = wh.WarehousePaths(tmp_path / "chengyu.duckdb")
    ahead = "20990101T000000000000Z"  # built while the clock was 73 years ahead
    publish(paths, V1, keep=2)
    publish(paths, ahead, keep=2)
    for build_id in (V2, V3):  # the clock is right again: ids earlier than the live one
        publish(paths, build_id, keep=2)
    # Most recently live: V3, V2; the future-dated one was live before V2 and goes at keep=2.
    assert kept(paths) == {V2, V3}
    assert wh.rollback(paths)[1].build_id == V2
    wh.rollback(paths, to=V3)
    publish(paths, V4, keep=3)
    assert kept(paths) == {V4, V3, V2} and wh.rollback(paths)[1].build_id == V3


def test_a_clock_set_back_never_repeats_an_id(three_versions, monkeypatch):
    # The clock reads the moment V2 was built: its id is taken, and V1's is in the log.
    monkeypatch.setattr(wh.time, "time", lambda: 1767225600.0 + 86400)  # 2026-01-02T00:00:00Z
    assert wh.new_build_id() == V2
    assert wh.unique_build_id(three_versions) == "20260102T000000000001Z"
    wh.prune(three_versions, 1)  # V1 and V2 deleted, but the log still names them
    assert wh.unique_build_id(three_versions) == "20260102T000000000001Z"


def test_publish_never_overwrites_a_version(three_versions):
    before = wh.file_sha256(three_versions.version(V2).database)
    candidate = make_candidate(three_versions, V2)
    with pytest.raises(wh.VersionExists, match="never overwritten"):
        wh.publish(three_versions, candidate, V2, {"build_id": V2})
    assert wh.file_sha256(three_versions.version(V2).database) == before
    assert id_in_pointer(three_versions) == V3 and candidate.exists()
    wh.prune(three_versions, 1)  # V1 is gone, but its id is in the publish log: refused too
    with pytest.raises(wh.VersionExists):
        wh.publish(three_versions, candidate, V1, {"build_id": V1})


# ---- the publish log, hostile -----------------------------------------------------------------


def test_a_torn_last_line_is_skipped_and_the_next_event_starts_a_new_line(three_versions):
    with open(three_versions.publish_log, "ab") as log:
        log.write(b'{"event": "rollback", "build_id": "2026')  # a kill in the middle of a write
    history = wh.read_history(three_versions)
    assert history.skipped == 1 and history.live == V3
    assert wh.rollback(three_versions)[1].build_id == V2
    lines = three_versions.publish_log.read_text().splitlines()
    assert lines[-2].endswith('"2026') and json.loads(lines[-1])["build_id"] == V2
    assert wh.read_history(three_versions).stack == [V1, V2]


def test_a_deleted_log_is_restarted_from_the_pointer_and_nothing_older_comes_back_unnamed(three_versions):
    three_versions.publish_log.unlink()
    with pytest.raises(wh.NoSuchVersion, match="rollback --to BUILD_ID"):
        wh.rollback(three_versions)
    [event] = [json.loads(line) for line in three_versions.publish_log.read_text().splitlines()]
    assert event["event"] == "recovered" and event["build_id"] == V3 and "recorded by" in event["command"]
    assert wh.rollback(three_versions, to=V1)[1].build_id == V1
    assert wh.rollback(three_versions)[1].build_id == V3


def test_a_warehouse_from_before_the_log_rolls_back_to_what_was_live_when_the_log_began(three_versions):
    three_versions.publish_log.unlink()  # as an older chengyu left it: versions, no log
    publish(three_versions, V4)  # the publish records V3 (the pointer's) as live before it
    assert [e["event"] for e in wh.read_log(three_versions)[0]] == ["recovered", "publish"]
    assert rollbacks_until_refused(three_versions) == [V3]


def test_unknown_events_and_lines_of_the_wrong_shape_are_ignored(three_versions):
    with open(three_versions.publish_log, "a") as log:
        log.write(json.dumps({"event": "snapshot-expire", "what": 1}) + "\n")
        log.write(json.dumps({"event": "rollback", "build_id": 7, "previous": None, "at": "x", "command": "y"}) + "\n")
        log.write(json.dumps(["not", "an", "object"]) + "\n")
    history = wh.read_history(three_versions)
    assert (history.unknown, history.skipped, history.stack) == (1, 2, [V1, V2, V3])
    assert wh.rollback(three_versions)[1].build_id == V2


def test_a_log_that_repeats_an_id_or_names_another_live_version_is_overruled_by_the_pointer(three_versions):
    with open(three_versions.publish_log, "a") as log:  # forged: V1 published again, so "live"
        log.write(
            json.dumps(
                {"event": "publish", "build_id": V1, "previous": V3, "at": "2026-01-05T00:00:00Z", "command": "build"}
            )
            + "\n"
        )
    assert wh.read_history(three_versions).live == V3  # the pointer is the truth for "live now"
    assert wh.rollback(three_versions)[1].build_id == V1  # V3 was on the stack above V1


def test_a_symlinked_log_is_refused_and_its_target_untouched(three_versions, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    three_versions.publish_log.unlink()
    os.symlink(victim, three_versions.publish_log)
    with pytest.raises(wh.UnsafeWarehousePath, match="not the publish log"):
        wh.rollback(three_versions)
    assert victim.read_text() == "precious\n"


# ---- case 4 and 10: the published file is checked before it is used ---------------------------


def damage(version: wh.Version, same_size: bool) -> None:
    os.chmod(version.database, 0o644)
    if same_size:  # another figure in a file of the same size and build id: only the checksum sees it
        other = version.database.with_name("other.duckdb")
        con = duckdb.connect(str(other))
        con.execute("create schema marts")
        con.execute("create table marts.build_info as select ? as build_id", [version.build_id])
        con.execute("create table marts.fct_sector_output as select 2 as n")
        con.close()
        assert other.stat().st_size == version.database.stat().st_size
        os.replace(other, version.database)
    else:
        with open(version.database, "r+b") as f:
            f.truncate(version.database.stat().st_size // 2)


def test_a_damaged_published_file_is_named_damaged_with_the_last_version_that_verifies(three_versions):
    damage(three_versions.version(V3), same_size=False)
    with pytest.raises(wh.CorruptVersion, match=f"published version is damaged: .*`chengyu rollback --to {V2}`"):
        wh.check_published(three_versions)  # the size check alone sees a truncated file
    damage(three_versions.version(V2), same_size=True)
    # The recovery names the most recently live version that verifies in full: V1.
    with pytest.raises(wh.CorruptVersion, match=f"rollback --to {V1}`"):
        wh.check_published(three_versions)
    with pytest.raises(wh.CorruptVersion, match=f"damaged: .*rollback --to {V1}.*quality gate cannot compare"):
        wh.live_for_build(three_versions, accept_shift=None)
    assert wh.live_for_build(three_versions, accept_shift="rebuilt after a disk fault")[0] is None


def test_a_same_size_change_is_seen_by_the_full_check_only(three_versions):
    damage(three_versions.version(V3), same_size=True)
    assert wh.check_published(three_versions, full=False).build_id == V3
    with pytest.raises(wh.CorruptVersion, match="no longer matches the checksum"):
        wh.check_published(three_versions, full=True)


def chengyu(*args: str, warehouse: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "chengyu_cluster.cli", "--project-dir", str(REPO), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, CHENGYU_WAREHOUSE=str(warehouse)),
    )


@pytest.mark.parametrize(
    "args",
    [
        ("sql", "select 1"),
        ("export", "--out", "{tmp}/out"),
        ("report",),
        ("analyses", "q1"),
        ("metrics", "list", "metrics"),
        ("publish-postgres", "--dsn", "host=127.0.0.1 port=1"),
        ("build",),
    ],
)
def test_every_command_that_opens_the_published_file_names_it_damaged(three_versions, tmp_path, args):
    damage(three_versions.version(V3), same_size=False)
    result = chengyu(*(a.format(tmp=tmp_path) for a in args), warehouse=three_versions.published)
    assert result.returncode == EXIT_CORRUPT, result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("chengyu: ") and "published version is damaged" in line
    assert f"`chengyu rollback --to {V2}`" in line and "shift" not in line.split(";")[0]


def test_a_gate_that_cannot_read_the_published_version_stops_the_build(three_versions):
    """Case 4: a process holds the published file open read-write."""
    from chengyu_cluster.quality.gate import prepare_gate

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, time; "
            f"c = duckdb.connect({str(three_versions.published)!r}); print('held', flush=True); "
            "time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(wh.BuildLocked, match="held open for writing.*--accept-shift REASON"):
            wh.live_for_build(three_versions, accept_shift=None)
        result = chengyu("build", warehouse=three_versions.published)
        assert result.returncode == EXIT_LOCKED and "quality gate cannot compare" in result.stderr, result.stderr
        # The gate itself fails closed too (the holder may come between the check and the gate).
        with pytest.raises(wh.BuildLocked, match="quality gate stops the build"):
            prepare_gate(REPO, three_versions.version(V3).database)
        baseline = prepare_gate(REPO, three_versions.version(V3).database, accept_shift="held by a BI tool")
        assert baseline.profile is None and "published without a comparison: held by a BI tool" in baseline.note
        live, note = wh.live_for_build(three_versions, accept_shift="held by a BI tool")
        assert live is None and "held open for writing" in note
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


# ---- case 13: versions/ deleted by hand -----------------------------------------------------


def test_a_deleted_versions_folder_sends_everyone_to_build(three_versions, tmp_path):
    shutil.rmtree(three_versions.versions_dir)
    rolled = chengyu("rollback", warehouse=three_versions.published)
    assert rolled.returncode == EXIT_NO_VERSION and "`chengyu build` publishes a new one" in rolled.stderr
    read = chengyu("sql", "select 1", warehouse=three_versions.published)
    assert read.returncode == EXIT_CORRUPT and "`chengyu build` publishes a new one" in read.stderr
    # The build goes on as if nothing were published (here it stops at a missing input file, exit 3).
    built = chengyu("build", "--sector-output", str(tmp_path / "missing.csv"), warehouse=three_versions.published)
    assert built.returncode == 3 and "building as if nothing were published" in built.stdout, built.stderr
    wh.check_publishable(three_versions)
    publish(three_versions, V4)
    assert id_in_pointer(three_versions) == V4 and wh.read_history(three_versions).stack == [V4]


# ---- issue 26 item 4: copies follow the live version ------------------------------------------


def test_rollback_says_which_copy_holds_another_build_and_versions_lists_them(three_versions, tmp_path):
    wh.record_copy(three_versions, "export", str(tmp_path / "out"), V3, "export")
    rolled = chengyu("rollback", warehouse=three_versions.published)
    assert rolled.returncode == 0, rolled.stderr
    assert f"the export {tmp_path / 'out'} holds build {V3}, not the published one" in rolled.stdout
    listed = chengyu("versions", warehouse=three_versions.published).stdout
    assert f"copy: export {tmp_path / 'out'} holds build {V3}" in listed and "(not the published build)" in listed
    assert f"* {V2}  published " in listed and "live" in listed
    assert f"  {V3}  published " in listed and "withdrawn " in listed and "by `rollback`" in listed
    assert "(comes back only with rollback --to)" in listed and f"`chengyu rollback` returns to {V1}" in listed


def test_rollback_refreshes_the_postgres_copy(three_versions):
    import psycopg

    from postgres_server import postgres_server

    with postgres_server() as dsn:
        rolled = subprocess.run(
            [sys.executable, "-m", "chengyu_cluster.cli", "--project-dir", str(REPO), "rollback"],
            capture_output=True,
            text=True,
            timeout=120,
            env=dict(os.environ, CHENGYU_WAREHOUSE=str(three_versions.published), CHENGYU_PUBLISH_POSTGRES=dsn),
        )
        assert rolled.returncode == 0, rolled.stderr
        with psycopg.connect(dsn) as pg:
            assert pg.execute("select build_id from chengyu.build_info").fetchall() == [(V2,)]
    [copy] = wh.read_history(three_versions).copies.values()
    assert copy["build_id"] == V2 and copy["copy"] == "postgres" and "password" not in copy["target"]
    assert copy["target"].startswith("schema chengyu (dbname=postgres host=127.0.0.1 port=")


# ---- found by trying to break it (kept from before the publish log) -------------------------


def test_a_replaced_version_file_is_never_made_current(three_versions):
    # What a SQL client with file access did: COPY ... TO over a kept version.
    target = three_versions.version(V2).database
    os.chmod(target, 0o644)
    target.write_text("1\n")
    before = os.readlink(three_versions.published)
    with pytest.raises(wh.CorruptVersion, match=f"no longer matches the checksum.*rollback --to {V1}"):
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


@pytest.mark.parametrize(
    "make,words",
    [
        (lambda p: p.write_text("my notes\n"), "a regular file that is not a DuckDB database"),
        (lambda p: p.mkdir(), "a directory"),
        (lambda p: os.mkfifo(p), "a device, FIFO or socket"),
        (lambda p: duckdb.connect(str(p)).close(), "a DuckDB file that no chengyu build published"),
    ],
)
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
    assert wh.read_history(paths).stack == [version.build_id]


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
    assert wh.remove_leftovers(three_versions) == []  # the files of the version the pointer names are kept
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


# ---- serving and internal files ---------------------------------------------------------


def schemas_in(database: Path) -> set[str]:
    con = duckdb.connect(str(database), read_only=True)
    try:
        return {s for (s,) in con.execute("select distinct schema_name from duckdb_tables()").fetchall()}
    finally:
        con.close()


def test_the_pointer_names_a_serving_file_that_holds_only_the_served_schemas(tmp_path):
    paths = wh.WarehousePaths(tmp_path / "wh" / "chengyu.duckdb")
    candidate = make_candidate(paths, V1)
    con = duckdb.connect(str(candidate))
    con.execute("create table marts.dim_area (area_code varchar not null primary key, gdp decimal(18, 2))")
    con.execute("insert into marts.dim_area values ('510100', 1.25)")
    con.execute("comment on table marts.dim_area is 'One row per area.'")
    con.execute("comment on column marts.dim_area.gdp is 'GDP, 100 million yuan'")
    con.execute("create view marts.v_area as select area_code from marts.dim_area")
    con.close()
    wh.publish(paths, candidate, V1, {"build_id": V1})
    version = paths.current()
    assert paths.pointer_target() == version.database
    assert schemas_in(paths.published) == {"marts"}  # no microdata, raw, staging, ...
    assert schemas_in(version.internal) == {"marts", "microdata"}
    assert version.internal_database() == version.internal
    assert stat.S_IMODE(version.database.stat().st_mode) == 0o444
    assert stat.S_IMODE(version.internal.stat().st_mode) == 0o400
    con = duckdb.connect(str(paths.published), read_only=True)
    try:
        assert con.execute("select current_database()").fetchone()[0] == "chengyu"  # catalog kept
        # Same types, key and comments; the view materialised as a table.
        assert con.execute(
            "select column_name, data_type, is_nullable, comment from duckdb_columns() "
            "where table_name = 'dim_area' order by column_index"
        ).fetchall() == [("area_code", "VARCHAR", False, None), ("gdp", "DECIMAL(18,2)", True, "GDP, 100 million yuan")]
        assert con.execute(
            "select comment, has_primary_key from duckdb_tables() where table_name = 'dim_area'"
        ).fetchone() == ("One row per area.", True)
        assert con.execute("select * from marts.v_area").fetchall() == [("510100",)]
        assert con.execute("select count(*) from duckdb_views() where not internal").fetchone()[0] == 0
    finally:
        con.close()
    record = version.read_record()
    assert record["internal"]["sha256"] == wh.file_sha256(version.internal)
    assert record["sha256"] == wh.file_sha256(version.database)


@pytest.mark.parametrize("full", [True, False])
def test_a_damaged_internal_file_fails_verify(three_versions, full):
    internal = three_versions.current().internal
    os.chmod(internal, 0o644)
    with open(internal, "r+b") as f:  # same size for the full check, one byte more for the cheap one
        f.seek(0, os.SEEK_END if not full else os.SEEK_SET)
        f.write(b"x" if not full else f.read(1))
        if full:
            f.seek(4096)
            f.write(b"\xff")
    with pytest.raises(wh.CorruptVersion, match=r"chengyu\.2026010[0-9]T0+Z\.internal\.duckdb no longer matches"):
        wh.check_published(three_versions, full=full)
    assert wh.rollback(three_versions)[1].build_id == V2  # the repair the message names still works


def test_a_missing_internal_file_fails_verify(three_versions):
    three_versions.current().internal.unlink()
    with pytest.raises(wh.CorruptVersion, match="internal.duckdb cannot be read"):
        wh.check_published(three_versions)


def test_prune_removes_both_files_and_leftovers_an_internal_file_without_record(three_versions):
    v1 = three_versions.version(V1)
    wh.prune(three_versions, 2)
    assert not any(p.exists() for p in (v1.database, v1.internal, v1.record))
    # A kill between linking the internal file and writing the record leaves it alone.
    orphan = three_versions.version(V4).internal
    shutil.copyfile(three_versions.version(V2).internal, orphan)
    assert orphan in wh.remove_leftovers(three_versions) and not orphan.exists()
    assert kept(three_versions) == {V2, V3}


def test_a_version_from_before_serving_files_reads_its_one_file_as_internal(three_versions):
    version = three_versions.current()
    record = version.read_record()
    del record["internal"]
    os.chmod(version.record, 0o644)
    version.record.write_text(json.dumps(record), encoding="utf-8")
    assert version.internal_database() == version.database
