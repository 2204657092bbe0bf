"""Where the warehouse files live, and how a candidate replaces the published file.

Write-audit-publish: a build writes a new candidate file beside the published one,
the checks run against the candidate, and only then does one rename make it the
published file. Readers that hold the old file open keep reading the old inode
until they reconnect; a build never opens the published file, so a reader never
blocks it.
"""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb


class BuildLocked(Exception):
    """Another build or rollback holds the lock."""


class NothingToRollBack(Exception):
    """There is no previous version to restore."""


@dataclass(frozen=True)
class WarehousePaths:
    published: Path

    @classmethod
    def from_env(cls, project_dir: Path) -> "WarehousePaths":
        default = project_dir / "warehouse" / "chengyu.duckdb"
        return cls(Path(os.environ.get("CHENGYU_WAREHOUSE", default)).resolve())

    @property
    def directory(self) -> Path:
        return self.published.parent

    @property
    def previous(self) -> Path:
        return self.directory / f"{self.published.stem}.previous.duckdb"

    @property
    def lock(self) -> Path:
        return self.directory / f".{self.published.stem}.build.lock"

    @property
    def previous_staging(self) -> Path:
        return self.previous.with_name(self.previous.name + ".tmp")

    def candidate(self) -> Path:
        return self.directory / f".{self.published.stem}.candidate-{os.getpid()}.duckdb"

    def stale_candidates(self) -> list[Path]:
        leftovers = list(self.directory.glob(f".{self.published.stem}.candidate-*.duckdb*"))
        if self.previous_staging.exists():
            leftovers.append(self.previous_staging)
        return sorted(leftovers)


@contextmanager
def build_lock(paths: WarehousePaths):
    """Hold the one build lock of this warehouse, or refuse at once.

    flock is released by the kernel when the holder dies, even by SIGKILL, so a
    killed build never leaves the warehouse locked.
    """
    paths.directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise BuildLocked(
                f"another build or rollback of {paths.published} is running (pid {holder}); "
                "wait for it to finish and try again"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


def remove_stale_candidates(paths: WarehousePaths) -> list[Path]:
    """Delete what killed or failed builds left behind (call under the lock)."""
    removed = []
    for path in paths.stale_candidates():
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def seal(candidate: Path) -> None:
    """Fold the candidate's write-ahead log into the file and flush it to disk."""
    con = duckdb.connect(str(candidate))
    try:
        con.execute("checkpoint")
    finally:
        con.close()
    wal = candidate.with_name(candidate.name + ".wal")
    if wal.exists():
        raise RuntimeError(f"{wal} still exists after a checkpoint; not publishing")
    _fsync(candidate)


def pause_for_fault_test(stage: str) -> None:
    """Fault-injection point for the kill tests: sleep here when asked to.

    CHENGYU_TEST_PAUSE_AT=<stage> makes the build announce the stage and sleep, so a
    test can SIGKILL it at exactly that point. Unset in normal use.
    """
    if os.environ.get("CHENGYU_TEST_PAUSE_AT") == stage:
        print(f"[pause] {stage}", flush=True)
        time.sleep(float(os.environ.get("CHENGYU_TEST_PAUSE_SECONDS", "60")))


def publish(paths: WarehousePaths, candidate: Path) -> None:
    """Make the sealed candidate the published warehouse; keep the old one as previous.

    The old file first gets a second name (a hard link), then the candidate is renamed
    over the published path, then the second name becomes `previous`. At every instant
    the published path names a complete warehouse; a build killed in between leaves at
    most a stale `.tmp` link, which the next build removes.
    """
    published_wal = paths.published.with_name(paths.published.name + ".wal")
    if published_wal.exists():
        raise RuntimeError(
            f"{published_wal} exists: a process has opened the published warehouse read-write. "
            "Close it (open the warehouse read-only) and build again."
        )
    old_version = paths.previous_staging
    old_version.unlink(missing_ok=True)
    if paths.published.exists():
        os.link(paths.published, old_version)
    pause_for_fault_test("rename")
    os.replace(candidate, paths.published)
    if old_version.exists():
        os.replace(old_version, paths.previous)
    _fsync(paths.directory)


def rollback(paths: WarehousePaths) -> None:
    """Swap the published and previous versions (a second rollback undoes the first)."""
    if not paths.previous.exists():
        raise NothingToRollBack(f"there is no previous version at {paths.previous}")
    current = paths.previous_staging
    current.unlink(missing_ok=True)
    if paths.published.exists():
        os.link(paths.published, current)
    os.replace(paths.previous, paths.published)
    if current.exists():
        os.replace(current, paths.previous)
    _fsync(paths.directory)
