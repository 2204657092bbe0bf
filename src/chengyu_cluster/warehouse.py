"""Warehouse versions: immutable files, one atomic pointer, crash-safe publish and rollback.

Layout (for the default warehouse path warehouse/chengyu.duckdb):

    warehouse/chengyu.duckdb                 symlink: the pointer readers open
    warehouse/versions/chengyu.<id>.duckdb   one immutable file per published build
    warehouse/versions/chengyu.<id>.json     its record: build time, inputs, rows, sha256
    warehouse/versions/chengyu.candidate-build.duckdb   the build in progress
    warehouse/.chengyu.build.lock            held by the one build or rollback running

A build id is the UTC time of the build (YYYYMMDDTHHMMSSffffffZ), so ids sort in
publishing order. DuckDB names a database after its file name up to the first dot,
so every version file is the catalog "chengyu", the name the views were built with.

Publishing is: seal the candidate (checkpoint, fsync), rename it to its version name,
write its record (the commit point: a version exists when its record does), then
replace the pointer by renaming a new symlink over it. Each step is one file-system
call or the creation of a file nobody points at yet, so a kill at any instruction
leaves the pointer naming a complete, sealed version, and loses no version: what a
killed step leaves behind is an unreferenced file that the next build removes.
Rollback only moves the pointer to the version before the current one.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import hashlib
import json
import os
import re
import signal
import stat
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

# How many published versions are kept (the current one is always kept).
DEFAULT_KEEP_VERSIONS = 5
NAME = re.compile(r"[A-Za-z0-9_-]+")
BUILD_ID = re.compile(r"[0-9]{8}T[0-9]{12}Z")
DUCKDB_MAGIC_OFFSET, DUCKDB_MAGIC = 8, b"DUCK"


class WarehouseError(Exception):
    """A foreseeable failure with its own exit code (see cli.py)."""

    exit_code = 1


class BuildLocked(WarehouseError):
    """Another build or rollback holds the lock, or a writer holds the DuckDB file."""

    exit_code = 6


class NoSuchVersion(WarehouseError):
    """There is no version to roll back to (or the one asked for does not exist)."""

    exit_code = 7


class UnsafeWarehousePath(WarehouseError):
    """The warehouse path holds something this tool did not publish, or a reader's .wal."""

    exit_code = 9


class StorageError(WarehouseError):
    """The file system refused: read-only, no permission, or disk full."""

    exit_code = 10


class BadSetting(WarehouseError):
    """An environment variable the build reads holds a value it cannot use."""

    exit_code = 2


class OutOfMemory(WarehouseError):
    """DuckDB reached its memory limit (CHENGYU_MEMORY_LIMIT) even with its spill folder."""

    exit_code = 13


class CorruptVersion(WarehouseError):
    """A version's file does not match its record or does not open as a warehouse."""

    exit_code = 11


@dataclass(frozen=True)
class Version:
    build_id: str
    database: Path
    record: Path

    def read_record(self) -> dict:
        try:
            record = json.loads(self.record.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CorruptVersion(f"version {self.build_id}: its record {self.record.name} "
                                 f"cannot be read ({exc})") from None
        if not isinstance(record, dict):
            raise CorruptVersion(f"version {self.build_id}: its record {self.record.name} is not a JSON object")
        return record


@dataclass(frozen=True)
class WarehousePaths:
    published: Path

    @classmethod
    def from_env(cls, project_dir: Path) -> WarehousePaths:
        default = project_dir / "warehouse" / "chengyu.duckdb"
        path = Path(os.path.expanduser(os.environ.get("CHENGYU_WAREHOUSE") or default))
        # Resolve the folder, not the pointer itself: the pointer is a symlink.
        return cls(path.parent.resolve() / path.name)

    @property
    def name(self) -> str:
        """The catalog name: DuckDB names a database after its file name up to the first dot.

        Only `<name>.duckdb` with a plain name is accepted, so that the version files of
        two warehouses in one folder never share a prefix and no name is a glob pattern.
        """
        name, dot, rest = self.published.name.partition(".")
        if not NAME.fullmatch(name) or rest != "duckdb":
            raise UnsafeWarehousePath(f"the warehouse file must be named <name>.duckdb with letters, digits, '_' "
                                      f"or '-' in the name, not {self.published.name!r}")
        return name

    @property
    def directory(self) -> Path:
        return self.published.parent

    @property
    def versions_dir(self) -> Path:
        return self.directory / "versions"

    @property
    def lock(self) -> Path:
        return self.directory / f".{self.name}.build.lock"

    @property
    def wal(self) -> Path:
        return self.published.with_name(self.published.name + ".wal")

    def candidate(self) -> Path:
        """The one build in progress (builds hold the lock). A fixed path keeps dbt's
        profile the same from build to build, so dbt re-parses only what changed."""
        return self.versions_dir / f"{self.name}.candidate-build.duckdb"

    def version(self, build_id: str) -> Version:
        stem = f"{self.name}.{build_id}"
        return Version(build_id, self.versions_dir / f"{stem}.duckdb", self.versions_dir / f"{stem}.json")

    def build_id_of(self, file_name: str, suffix: str) -> str | None:
        """The build id in `<name>.<id><suffix>`, or None for any other file name."""
        prefix = f"{self.name}."
        if not (file_name.startswith(prefix) and file_name.endswith(suffix)):
            return None
        build_id = file_name[len(prefix):-len(suffix)]
        return build_id if BUILD_ID.fullmatch(build_id) else None

    def versions(self) -> list[Version]:
        """Complete versions (file and record), oldest first."""
        if not self.versions_dir.is_dir():
            return []
        found = []
        for path in self.versions_dir.iterdir():
            build_id = self.build_id_of(path.name, ".json")
            if build_id is not None and self.version(build_id).database.is_file():
                found.append(self.version(build_id))
        return sorted(found, key=lambda v: v.build_id)

    def pointer_target(self) -> Path | None:
        """Where the pointer points (not resolved further), or None if it is no symlink."""
        if not self.published.is_symlink():
            return None
        return Path(os.path.normpath(self.directory / os.readlink(self.published)))

    def current(self) -> Version | None:
        """The version the pointer names, or None when nothing is published yet."""
        if not os.path.lexists(self.published):
            return None
        if not self.published.is_symlink():
            if _is_legacy(self.published):
                raise UnsafeWarehousePath(f"{self.published} was published by an older chengyu, before versions "
                                          "existed; run `chengyu build` once to adopt it as the first version")
            raise UnsafeWarehousePath(
                f"{self.published} is not a pointer to a version published by chengyu "
                f"({describe_path(self.published)}); move it away or set CHENGYU_WAREHOUSE to another path")
        target = self.pointer_target()
        build_id = self.build_id_of(target.name, ".duckdb")
        if target.parent == self.versions_dir and build_id is not None:
            version = self.version(build_id)
            if version.database.is_file() and not version.database.is_symlink() and version.record.is_file():
                return version
        raise CorruptVersion(f"{self.published} points at {os.readlink(self.published)}, which is not a complete "
                             f"version in {self.versions_dir}; "
                             "run `chengyu rollback` to point it at the newest good one")


def describe_path(path: Path) -> str:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return "nothing there"
    if stat.S_ISLNK(mode):
        return f"a symlink to {os.readlink(path)}"
    if stat.S_ISDIR(mode):
        return "a directory"
    if not stat.S_ISREG(mode):
        return "a device, FIFO or socket"
    try:
        is_duckdb = _has_duckdb_header(path)
    except OSError as exc:
        return f"a file that cannot be read ({exc.strerror})"
    return ("a DuckDB file that no chengyu build published" if is_duckdb
            else "a regular file that is not a DuckDB database")


def _has_duckdb_header(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(DUCKDB_MAGIC_OFFSET + len(DUCKDB_MAGIC))[DUCKDB_MAGIC_OFFSET:] == DUCKDB_MAGIC


def build_id_at(seconds: float) -> str:
    """The build id of a moment: its UTC time to the microsecond, so ids sort by time."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")


def new_build_id() -> str:
    return build_id_at(time.time())


# ---- fault injection: the kill tests stop the process after any file-system step ----

_steps_done = 0


def fs_step(label: str) -> None:
    """Called after every file-system call of publish and rollback.

    CHENGYU_TEST_KILL_AFTER_STEP=N makes the process SIGKILL itself right after the
    N-th step, so a test can prove that no step leaves a broken state; unset in use.
    """
    global _steps_done
    _steps_done += 1
    if os.environ.get("CHENGYU_TEST_TRACE_STEPS"):
        print(f"[step {_steps_done}] {label}", flush=True)
    if os.environ.get("CHENGYU_TEST_KILL_AFTER_STEP") == str(_steps_done):
        os.kill(os.getpid(), signal.SIGKILL)


def pause_for_fault_test(stage: str) -> None:
    """CHENGYU_TEST_PAUSE_AT=<stage> makes the build announce the stage and sleep there."""
    if os.environ.get("CHENGYU_TEST_PAUSE_AT") == stage:
        print(f"[pause] {stage}", flush=True)
        time.sleep(float(os.environ.get("CHENGYU_TEST_PAUSE_SECONDS", "60")))


# ---- storage errors --------------------------------------------------------------

STORAGE_ERRNOS = {errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
                  errno.EPERM: "operation not permitted", errno.ENOSPC: "no space left on the device",
                  errno.EDQUOT: "disk quota exceeded"}


# With any_io (writing to a path the user gave): a path that cannot be written as asked.
PATH_ERRNOS = {errno.EEXIST: "it exists and is not a folder", errno.ENOTDIR: "a part of the path is a file",
               errno.EISDIR: "it is a folder", errno.ENAMETOOLONG: "the name is too long",
               errno.ENOENT: "a folder on the way does not exist"}


@contextmanager
def storage_errors(action: str, needed_bytes: int | None = None, any_io: bool = False):
    """Turn the file system's refusals into StorageError, and DuckDB's memory limit into
    OutOfMemory, with one line saying why."""
    try:
        yield
    except OSError as exc:
        reason = STORAGE_ERRNOS.get(exc.errno) or (PATH_ERRNOS.get(exc.errno) if any_io else None)
        if reason is None:
            raise
        raise StorageError(_storage_message(action, reason, exc.filename, needed_bytes)) from None
    except duckdb.OutOfMemoryException as exc:
        raise OutOfMemory(f"cannot {action}: DuckDB ran out of memory within its limit "
                          f"(CHENGYU_MEMORY_LIMIT, default 3GB; {str(exc).splitlines()[0]}): "
                          "allow more if the machine has it") from None
    except duckdb.IOException as exc:
        text = str(exc)
        reason = next((why for why in ("No space left", "Read-only file system", "Permission denied")
                       if why in text), None)
        if reason is None and not any_io:
            raise
        reason = reason.lower() if reason else text.splitlines()[0]
        raise StorageError(_storage_message(action, reason, None, needed_bytes)) from None


def _storage_message(action: str, reason: str, filename, needed_bytes: int | None) -> str:
    where = f" ({filename})" if filename else ""
    need = f"; a build needs about {needed_bytes / 2**20:.0f} MiB free there" if needed_bytes else ""
    return f"cannot {action}: {reason}{where}{need}"


# ---- the lock --------------------------------------------------------------------

@contextmanager
def build_lock(paths: WarehousePaths):
    """Hold the one build lock of this warehouse, or refuse at once.

    flock is released by the kernel when the holder dies, even by SIGKILL, so a killed
    build never leaves the warehouse locked.
    """
    with storage_errors(f"create the warehouse folder {paths.directory}"):
        paths.versions_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.EISDIR):
                raise
            raise UnsafeWarehousePath(f"{paths.lock} is {describe_path(paths.lock)}, not the build lock; "
                                      "remove it (chengyu creates it as a plain file)") from None
    with exclusive(fd, f"another build or rollback of {paths.published} is running"):
        yield


@contextmanager
def exclusive(fd: int, busy: str):
    """Hold the flock of an open lock file (closed at the end) and write this process's pid
    into it, or refuse at once: BuildLocked with `busy` and the holder's pid."""
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise BuildLocked(f"{busy} (pid {holder}); wait for it to finish and try again") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


# ---- checks before a build -------------------------------------------------------

def check_publishable(paths: WarehousePaths) -> None:
    """Refuse before creating anything if publishing could not succeed or would harm something."""
    # Read the property only for its check: it raises UnsafeWarehousePath for a file name
    # that is no plain `<name>.duckdb`.
    _ = paths.name
    if paths.wal.exists():
        raise UnsafeWarehousePath(
            f"{paths.wal} exists: a process opened the published warehouse read-write. Close it "
            "(readers must open it read-only), delete the .wal file if no process holds it, and build again")
    if os.path.lexists(paths.published) and not paths.published.is_symlink() and not _is_legacy(paths.published):
        raise UnsafeWarehousePath(
            f"refusing to publish over {paths.published}: it is {describe_path(paths.published)}, not a warehouse "
            "chengyu published; move it away or set CHENGYU_WAREHOUSE to another path")
    if paths.published.is_symlink():
        paths.current()  # raises unless the pointer names a complete version


def check_free_space(paths: WarehousePaths) -> int:
    """Refuse at once when the folder cannot hold another version; return the bytes needed."""
    current = paths.current() if paths.published.is_symlink() else None
    # A build writes one new file about the size of the current one, twice over while
    # DuckDB checkpoints; 64 MiB when there is nothing to compare with.
    needed = 2 * current.database.stat().st_size if current else 64 * 2**20
    info = os.statvfs(paths.versions_dir)
    free = info.f_bavail * info.f_frsize
    if free < needed:
        raise StorageError(_storage_message(f"build in {paths.versions_dir}",
                                            f"only {free / 2**20:.1f} MiB free", None, needed))
    return needed


def _is_legacy(path: Path) -> bool:
    """A plain DuckDB file holding this project's marts: what chengyu published before versions."""
    try:
        if path.is_symlink() or not path.is_file() or not _has_duckdb_header(path):
            return False
        con = duckdb.connect(str(path), read_only=True)
        try:
            return con.execute("select count(*) from duckdb_tables() where schema_name = 'marts' "
                               "and table_name = 'fct_sector_output'").fetchone()[0] == 1
        finally:
            con.close()
    except (duckdb.Error, OSError):
        return False


def adopt_legacy_file(paths: WarehousePaths) -> None:
    """A warehouse published by an older chengyu is a plain file: make it version 1.

    Only a DuckDB file holding this project's marts is adopted; anything else at the
    path is refused by current().
    """
    if paths.published.is_symlink() or not _is_legacy(paths.published):
        return
    # Its modification time as build id, but never later than now: ids order versions.
    build_id = build_id_at(min(paths.published.stat().st_mtime, time.time()))
    version = paths.version(build_id)
    with storage_errors("adopt the existing warehouse file as a version"):
        # An adoption killed half-way left the same link (same id from the same mtime): go on from there.
        if not (version.database.exists() and os.path.samefile(version.database, paths.published)):
            os.link(paths.published, version.database)
            fs_step("link the old file under its version name")
        os.chmod(version.database, 0o444)
        if not version.record.exists():
            write_record(version, {"build_id": build_id, "adopted_from": str(paths.published),
                                   "note": "published by an earlier chengyu, before versions existed"})
        point_at(paths, version)


# ---- publish, rollback, versions --------------------------------------------------

def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def seal(candidate: Path) -> None:
    """Fold the candidate's write-ahead log into the file and flush it to disk."""
    with storage_errors("write the candidate warehouse", candidate.stat().st_size * 2):
        con = duckdb.connect(str(candidate))
        try:
            con.execute("checkpoint")
        finally:
            con.close()
        wal = candidate.with_name(candidate.name + ".wal")
        if wal.exists():
            raise StorageError(f"{wal} still exists after a checkpoint; not publishing")
        _fsync(candidate)


def write_record(version: Version, record: dict) -> None:
    """Write the version's record beside its file: the step that makes it a version."""
    record = dict(record, sha256=file_sha256(version.database), size_bytes=version.database.stat().st_size)
    tmp = version.record.with_name(version.record.name + f".tmp-{os.getpid()}")
    tmp.write_text(json.dumps(record, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    fs_step("write record (temporary name)")
    _fsync(tmp)
    os.replace(tmp, version.record)
    fs_step("rename record")
    _fsync(version.record.parent)
    fs_step("fsync versions folder")


def point_at(paths: WarehousePaths, version: Version) -> None:
    """Atomically replace the pointer with a symlink to version (relative, so copies work)."""
    tmp = paths.directory / f".{paths.name}.pointer-{os.getpid()}"
    if os.path.lexists(tmp):
        tmp.unlink()
    os.symlink(os.path.relpath(version.database, paths.directory), tmp)
    fs_step("create new pointer (temporary name)")
    os.replace(tmp, paths.published)
    fs_step("rename pointer")
    _fsync(paths.directory)
    fs_step("fsync warehouse folder")


def verify_version(paths: WarehousePaths, version: Version) -> dict:
    """Check a version against its record and that it opens as this project's warehouse."""
    record = version.read_record()
    try:
        actual = file_sha256(version.database)
    except OSError as exc:
        raise CorruptVersion(f"version {version.build_id}: {version.database.name} cannot be read "
                             f"({exc.strerror})") from None
    if actual != record.get("sha256"):
        raise CorruptVersion(f"version {version.build_id}: {version.database.name} no longer matches the "
                             "checksum recorded when it was published (replaced or changed on disk)")
    try:
        con = duckdb.connect(str(version.database), read_only=True, config={"enable_external_access": False})
        try:
            found = con.execute("select build_id from marts.build_info").fetchall()
        finally:
            con.close()
    except duckdb.Error as exc:
        if "lock" in str(exc).lower():
            raise BuildLocked(f"version {version.build_id} is held open for writing by another process; "
                              "close it and try again") from None
        raise CorruptVersion(f"version {version.build_id} does not open as a warehouse: "
                             f"{str(exc).splitlines()[0]}") from None
    if "adopted_from" not in record and found != [(version.build_id,)]:
        raise CorruptVersion(f"version {version.build_id}: its marts.build_info names {found}, not this build")
    return record


def publish(paths: WarehousePaths, candidate: Path, build_id: str, record: dict,
            keep: int = DEFAULT_KEEP_VERSIONS) -> Version:
    """Make the sealed candidate a version and point the warehouse at it."""
    version = paths.version(build_id)
    with storage_errors("publish the new version", candidate.stat().st_size):
        os.chmod(candidate, 0o444)  # immutable from here on (readers open it read-only anyway)
        fs_step("make candidate read-only")
        os.replace(candidate, version.database)
        fs_step("rename candidate to its version name")
        write_record(version, record)
        point_at(paths, version)
    try:
        prune(paths, keep)
    except OSError as exc:  # published all the same; the next build prunes again
        print(f"WARNING could not remove old versions: {exc}", file=sys.stderr)
    return version


def rollback(paths: WarehousePaths, to: str | None = None) -> tuple[Version | None, Version]:
    """Point the warehouse at the version before the current one (or at build id `to`).

    When the pointer is broken (names no complete version), point it at the newest
    version that verifies: the repair that every other command's message names.
    """
    try:
        current = paths.current()
        broken = False
    except CorruptVersion:
        current, broken = None, True
    versions = paths.versions()
    if current is None and not broken:
        raise NoSuchVersion(f"nothing is published at {paths.published} yet")
    if to is not None:
        target = next((v for v in versions if v.build_id == to), None)
        if target is None:
            raise NoSuchVersion(f"there is no version {to!r} (see `chengyu versions`)")
        verify_version(paths, target)
    elif broken:
        target = _newest_good(paths, versions)
    else:
        older = [v for v in versions if v.build_id < current.build_id]
        if not older:
            raise NoSuchVersion(f"version {current.build_id} is the oldest kept; there is nothing to roll back to")
        target = older[-1]
        verify_version(paths, target)
    with storage_errors("move the warehouse pointer"):
        point_at(paths, target)
    return current, target


def _newest_good(paths: WarehousePaths, versions: list[Version]) -> Version:
    problems = []
    for version in reversed(versions):
        try:
            verify_version(paths, version)
            return version
        except CorruptVersion as exc:
            problems.append(str(exc))
    raise NoSuchVersion("no kept version verifies" + (": " + "; ".join(problems) if problems else ""))


def prune(paths: WarehousePaths, keep: int) -> list[Version]:
    """Delete the oldest versions beyond `keep` (never the current one)."""
    current = paths.current()
    versions = paths.versions()
    removed = []
    for version in versions[:max(0, len(versions) - keep)]:
        if current is not None and version.build_id == current.build_id:
            continue
        # Record first: from then on the file is an unreferenced leftover, never a half version.
        version.record.unlink()
        fs_step("remove old version's record")
        version.database.unlink()
        fs_step("remove old version's file")
        removed.append(version)
    return removed


def remove_leftovers(paths: WarehousePaths) -> list[Path]:
    """Delete what killed builds of this warehouse left: candidates, temporary names,
    version files that never got their record.

    Only this warehouse's own names are touched, never the file the pointer names.
    Call under the lock: then no other build of it is writing any of these.
    """
    if not paths.versions_dir.is_dir():
        return []
    prefix = f"{paths.name}."
    pointed = paths.pointer_target()
    leftovers = []
    for path in paths.versions_dir.iterdir():
        if not path.name.startswith(prefix) or path == pointed:
            continue
        build_id = paths.build_id_of(path.name, ".duckdb")
        if (".tmp-" in path.name or path.name.startswith(f"{prefix}candidate-")
                or build_id is not None and not paths.version(build_id).record.exists()):
            leftovers.append(path)
    leftovers += [p for p in paths.directory.iterdir() if p.name.startswith(f".{paths.name}.pointer-")]
    for path in leftovers:
        path.unlink(missing_ok=True)
    return sorted(leftovers)
