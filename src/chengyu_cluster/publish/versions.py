"""Warehouse versions: immutable files, one atomic pointer, a publish log, crash-safe
publish and rollback.

Layout (for the default warehouse path warehouse/chengyu.duckdb):

    warehouse/chengyu.duckdb                 symlink: the pointer readers open
    warehouse/versions/chengyu.<id>.duckdb   the serving file of a published build: only the
                                             public marts and build_info (what BI tools,
                                             `chengyu sql`, export and copies read)
    warehouse/versions/chengyu.<id>.internal.duckdb   the whole build (raw, staging,
                                             intermediate, audit, microdata, marts): read only
                                             by the build itself (microdata increments), docs
    warehouse/versions/chengyu.<id>.json     its record: build time, inputs, rows, sha256 of both
    warehouse/versions/chengyu.publish-log.jsonl   the publish log: what was live when
    warehouse/versions/chengyu.candidate-build.duckdb   the build in progress
    warehouse/.chengyu.build.lock            held by the one build or rollback running

A build id is the UTC time of the build (YYYYMMDDTHHMMSSffffffZ), unique among the
kept versions and every id the log names (a collision is redrawn, and publish refuses
to overwrite). Nothing depends on ids sorting in time: a clock that jumps either way
changes no decision. DuckDB names a database after its file name up to the first dot,
so every version file (serving and internal) is the catalog "chengyu", the name the
views were built with.

A version is its two files and its record. dbt builds everything into the candidate; after
its tests and the quality gate, publish copies the served schemas (SERVED_SCHEMAS) into a
new serving file, table by table with the candidate's own DDL (types, constraints,
comments; views materialised), and the full candidate becomes the internal file. Both are
read-only (the serving file 0444, the internal file 0400: only the account that builds
reads it) and both are in the record, checked by verify, removed by prune and by the
leftovers clean-up together. The pointer names the serving file only, so no documented
connection opens anything else; the internal file follows by build id. A version adopted
from a chengyu before serving files has one file and no `internal` entry in its record.

The pointer is the truth for what is live now; the publish log (one JSON line per
publish, rollback, adoption or copy, appended and fsynced) for what was live before.
Publishing is: seal the candidate, write the serving file from it, link both to their
version names (never over an existing one), write the record, replace the pointer by
renaming a new symlink over it (the commit point), then append the log line. A kill
between the pointer's rename and the log line leaves the two disagreeing; the next
locked command (build, rollback) appends a `recovered` line naming the pointer's
version, and readers replay the log as if it were there. Replaying the log gives the
rollback stack: each version made live goes on top, unless it is on the stack already,
then everything above it is withdrawn. So a rollback returns to the version live before
the current one, and a withdrawn version comes back only when named (`rollback --to`).
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

from chengyu_cluster import exits
from chengyu_cluster.inputs.reader import quote_identifier, sql_text

# How many published versions are kept (the current one is always kept).
# What a serving file holds: every table (and view, materialised) of these schemas.
# marts: the public marts and build_info (access: public; what the exposures read, and what
# access/export.public_marts hands to export and the PostgreSQL copy). semantic: MetricFlow's time
# spine (calendar days only), which `chengyu metrics` needs. Nothing else leaves the build.
SERVED_SCHEMAS = ("marts", "semantic")
DEFAULT_KEEP_VERSIONS = 5
NAME = re.compile(r"[A-Za-z0-9_-]+")
BUILD_ID = re.compile(r"[0-9]{8}T[0-9]{12}Z")
DUCKDB_MAGIC_OFFSET, DUCKDB_MAGIC = 8, b"DUCK"
INTERNAL_SUFFIX = ".internal.duckdb"


class WarehouseError(Exception):
    """A foreseeable failure with its own exit code (exits.py)."""

    exit_code = exits.EXIT_BUG


class BuildLocked(WarehouseError):
    """Another build or rollback holds the lock, or a writer holds the DuckDB file."""

    exit_code = exits.EXIT_LOCKED


class NoSuchVersion(WarehouseError):
    """There is no version to roll back to (or the one asked for does not exist)."""

    exit_code = exits.EXIT_NO_VERSION


class UnsafeWarehousePath(WarehouseError):
    """The warehouse path holds something this tool did not publish, or a reader's .wal."""

    exit_code = exits.EXIT_IN_THE_WAY


class StorageError(WarehouseError):
    """The file system refused: read-only, no permission, or disk full."""

    exit_code = exits.EXIT_STORAGE


class BadSetting(WarehouseError):
    """An environment variable the build reads holds a value it cannot use."""

    exit_code = exits.EXIT_USAGE


class OutOfMemory(WarehouseError):
    """DuckDB reached its memory limit (CHENGYU_MEMORY_LIMIT) even with its spill folder."""

    exit_code = exits.EXIT_OUT_OF_MEMORY


class CorruptVersion(WarehouseError):
    """A version's file does not match its record or does not open as a warehouse."""

    exit_code = exits.EXIT_CORRUPT


class VersionExists(UnsafeWarehousePath):
    """A version with this build id exists already: publishing never overwrites one."""


@dataclass(frozen=True)
class Version:
    build_id: str
    database: Path  # the serving file, what the pointer names
    record: Path
    internal: Path  # the whole build; absent for a version from before serving files

    def internal_database(self) -> Path:
        """The file holding every schema of this build: the internal file, or for a
        version from before serving files (no `internal` in its record) its one file."""
        return self.internal if "internal" in self.read_record() else self.database

    def read_record(self) -> dict:
        try:
            record = json.loads(self.record.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CorruptVersion(
                f"version {self.build_id}: its record {self.record.name} cannot be read ({exc})"
            ) from None
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
            raise UnsafeWarehousePath(
                f"the warehouse file must be named <name>.duckdb with letters, digits, '_' "
                f"or '-' in the name, not {self.published.name!r}"
            )
        return name

    @property
    def directory(self) -> Path:
        return self.published.parent

    @property
    def versions_dir(self) -> Path:
        return self.directory / "versions"

    @property
    def publish_log(self) -> Path:
        return self.versions_dir / f"{self.name}.publish-log.jsonl"

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
        return Version(
            build_id,
            self.versions_dir / f"{stem}.duckdb",
            self.versions_dir / f"{stem}.json",
            self.versions_dir / f"{stem}{INTERNAL_SUFFIX}",
        )

    def serving_candidate(self) -> Path:
        """The serving file being written (a `candidate-` name: the leftovers clean-up knows it)."""
        return self.versions_dir / f"{self.name}.candidate-serving.duckdb"

    def build_id_of(self, file_name: str, suffix: str) -> str | None:
        """The build id in `<name>.<id><suffix>`, or None for any other file name."""
        prefix = f"{self.name}."
        if not (file_name.startswith(prefix) and file_name.endswith(suffix)):
            return None
        build_id = file_name[len(prefix) : -len(suffix)]
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

    def pointed_version(self) -> Version | None:
        """The complete version the pointer names, or None (no pointer, or a broken one)."""
        target = self.pointer_target()
        if target is None:
            return None
        build_id = self.build_id_of(target.name, ".duckdb")
        if target.parent == self.versions_dir and build_id is not None:
            version = self.version(build_id)
            if version.database.is_file() and not version.database.is_symlink() and version.record.is_file():
                return version
        return None

    def orphaned(self) -> bool:
        """The pointer is a symlink naming no complete version, and no version is kept at all:
        versions/ was deleted or emptied by hand, so there is nothing to roll back to."""
        return self.published.is_symlink() and self.pointed_version() is None and not self.versions()

    def current(self) -> Version | None:
        """The version the pointer names, or None when nothing is published yet."""
        if not os.path.lexists(self.published):
            return None
        if not self.published.is_symlink():
            if _is_legacy(self.published):
                raise UnsafeWarehousePath(
                    f"{self.published} was published by an older chengyu, before versions "
                    "existed; run `chengyu build` once to adopt it as the first version"
                )
            raise UnsafeWarehousePath(
                f"{self.published} is not a pointer to a version published by chengyu "
                f"({describe_path(self.published)}); move it away or set CHENGYU_WAREHOUSE to another path"
            )
        version = self.pointed_version()
        if version is not None:
            return version
        if self.orphaned():
            raise CorruptVersion(
                f"{self.published} points at {os.readlink(self.published)}, but {self.versions_dir} "
                "holds no version (deleted by hand?); `chengyu build` publishes a new one"
            )
        raise CorruptVersion(
            f"{self.published} points at {os.readlink(self.published)}, which is not a complete "
            f"version in {self.versions_dir}; "
            "run `chengyu rollback` to point it at the newest good one"
        )


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
    return (
        "a DuckDB file that no chengyu build published" if is_duckdb else "a regular file that is not a DuckDB database"
    )


def is_lock_conflict(exc: Exception) -> bool:
    """DuckDB refused because another process holds the file for writing (not "block ...")."""
    text = str(exc).lower()
    return "conflicting lock" in text or "could not set lock" in text


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

STORAGE_ERRNOS = {
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
}


# With any_io (writing to a path the user gave): a path that cannot be written as asked.
PATH_ERRNOS = {
    errno.EEXIST: "it exists and is not a folder",
    errno.ENOTDIR: "a part of the path is a file",
    errno.EISDIR: "it is a folder",
    errno.ENAMETOOLONG: "the name is too long",
    errno.ENOENT: "a folder on the way does not exist",
}


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
        raise OutOfMemory(
            f"cannot {action}: DuckDB ran out of memory within its limit "
            f"(CHENGYU_MEMORY_LIMIT, default 3GB; {str(exc).splitlines()[0]}): "
            "allow more if the machine has it"
        ) from None
    except duckdb.IOException as exc:
        text = str(exc)
        reason = next(
            (why for why in ("No space left", "Read-only file system", "Permission denied") if why in text), None
        )
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
            raise UnsafeWarehousePath(
                f"{paths.lock} is {describe_path(paths.lock)}, not the build lock; "
                "remove it (chengyu creates it as a plain file)"
            ) from None
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
            "(readers must open it read-only), delete the .wal file if no process holds it, and build again"
        )
    if os.path.lexists(paths.published) and not paths.published.is_symlink() and not _is_legacy(paths.published):
        raise UnsafeWarehousePath(
            f"refusing to publish over {paths.published}: it is {describe_path(paths.published)}, not a warehouse "
            "chengyu published; move it away or set CHENGYU_WAREHOUSE to another path"
        )
    if paths.published.is_symlink() and not paths.orphaned():
        paths.current()  # raises unless the pointer names a complete version


def check_free_space(paths: WarehousePaths, current: Version | None) -> int:
    """Refuse at once when the folder cannot hold another version; return the bytes needed."""
    # A build writes new files about the size of the current ones, twice over while
    # DuckDB checkpoints; 64 MiB when there is nothing to compare with.
    files = (current.database, current.internal) if current else ()
    needed = 2 * sum(f.stat().st_size for f in files if f.exists()) or 64 * 2**20
    info = os.statvfs(paths.versions_dir)
    free = info.f_bavail * info.f_frsize
    if free < needed:
        raise StorageError(
            _storage_message(f"build in {paths.versions_dir}", f"only {free / 2**20:.1f} MiB free", None, needed)
        )
    return needed


def _is_legacy(path: Path) -> bool:
    """A plain DuckDB file holding this project's marts: what chengyu published before versions."""
    try:
        if path.is_symlink() or not path.is_file() or not _has_duckdb_header(path):
            return False
        con = duckdb.connect(str(path), read_only=True)
        try:
            return (
                con.execute(
                    "select count(*) from duckdb_tables() where schema_name = 'marts' "
                    "and table_name = 'fct_sector_output'"
                ).fetchone()[0]
                == 1
            )
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
            write_record(
                version,
                {
                    "build_id": build_id,
                    "adopted_from": str(paths.published),
                    "note": "published by an earlier chengyu, before versions existed",
                },
            )
        point_at(paths, version)
        append_event(paths, "adopt", build_id, None, "build (adopted the file of an earlier chengyu)")


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


def write_serving(paths: WarehousePaths, candidate: Path) -> Path:
    """Copy the served schemas of the sealed candidate into a new serving file, sealed too.

    The candidate is opened read-only as catalog <name>, so its views resolve in it; the
    serving file is attached beside it. Tables are created from the candidate's own DDL
    (types, NOT NULL, keys, checks), views materialised with their output types, and the
    comments (the descriptions export and BI tools show) copied.
    """
    serving = paths.serving_candidate()
    names = (serving, serving.with_name(serving.name + ".wal"))
    for path in names:
        path.unlink(missing_ok=True)
    try:
        with storage_errors("write the serving file", candidate.stat().st_size):
            con = duckdb.connect(str(candidate), read_only=True)
            try:
                catalog = con.execute("select current_database()").fetchone()[0]
                con.execute(f"attach {sql_text(str(serving))} as serving_file (read_write)")
                con.execute("use serving_file")
                for schema in SERVED_SCHEMAS:
                    _copy_schema(con, catalog, schema)
                con.execute(f"use {quote_identifier(catalog)}")
                con.execute("detach serving_file")  # checkpoints it: no .wal is left
            finally:
                con.close()
            if names[1].exists():
                raise StorageError(f"{names[1]} still exists after the serving file was closed; not publishing")
            _fsync(serving)
    except BaseException:
        for path in names:
            path.unlink(missing_ok=True)
        raise
    fs_step("write the serving file")
    return serving


def _copy_schema(con: duckdb.DuckDBPyConnection, catalog: str, schema: str) -> None:
    """Copy one schema of catalog into the current database (the serving file)."""
    relations = con.execute(
        """
        select table_name, sql, comment, false from duckdb_tables() where database_name = ? and schema_name = ?
        union all
        select view_name, null, comment, true from duckdb_views() where database_name = ? and schema_name = ?
        order by 1""",
        [catalog, schema, catalog, schema],
    ).fetchall()
    if not relations:
        return
    con.execute(f"create schema {quote_identifier(schema)}")
    for name, ddl, comment, is_view in relations:
        target = f"{quote_identifier(schema)}.{quote_identifier(name)}"
        source = f"{quote_identifier(catalog)}.{target}"
        if is_view:
            con.execute(f"create table {target} as select * from {source}")
        else:
            con.execute(ddl)  # `CREATE TABLE <schema>.<name>(...)`: into the current database
            con.execute(f"insert into {target} select * from {source}")
        if comment:
            con.execute(f"comment on table {target} is {sql_text(comment)}")
        for column, text in con.execute(
            "select column_name, comment from duckdb_columns() where database_name = ? and schema_name = ? "
            "and table_name = ? and comment is not null",
            [catalog, schema, name],
        ).fetchall():
            con.execute(f"comment on column {target}.{quote_identifier(column)} is {sql_text(text)}")


def write_record(version: Version, record: dict) -> None:
    """Write the version's record beside its files: the step that makes it a version."""
    record = dict(record, sha256=file_sha256(version.database), size_bytes=version.database.stat().st_size)
    if version.internal.exists():
        record["internal"] = {
            "file": version.internal.name,
            "sha256": file_sha256(version.internal),
            "size_bytes": version.internal.stat().st_size,
        }
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


def verify_version(paths: WarehousePaths, version: Version, full: bool = True) -> dict:
    """Check a version against its record and that it opens as this project's warehouse.

    full: compare the sha256 (reads the whole file: for rollback, verify and the commands
    that copy it); otherwise only the size, which costs nothing (the reading commands).
    """
    record = version.read_record()
    files = [(version.database, record)]
    if "internal" in record:  # a version with serving and internal file: both must match
        internal = record["internal"]
        if not isinstance(internal, dict):
            raise CorruptVersion(f"version {version.build_id}: its record's `internal` entry is not an object")
        files.append((version.internal, internal))
    for path, entry in files:
        _check_file(version, path, entry, full)
        _check_build_info(version, path, record)
    return record


def _check_file(version: Version, path: Path, entry: dict, full: bool) -> None:
    full = full or not isinstance(entry.get("size_bytes"), int)  # a record without a size: the checksum
    try:
        if full:
            matches = file_sha256(path) == entry.get("sha256")
        else:
            matches = path.stat().st_size == entry.get("size_bytes")
    except OSError as exc:
        raise CorruptVersion(f"version {version.build_id}: {path.name} cannot be read ({exc.strerror})") from None
    if not matches:
        what = "checksum" if full else "size"
        raise CorruptVersion(
            f"version {version.build_id}: {path.name} no longer matches the "
            f"{what} recorded when it was published (replaced or changed on disk)"
        )


def _check_build_info(version: Version, path: Path, record: dict) -> None:
    try:
        con = duckdb.connect(str(path), read_only=True, config={"enable_external_access": False})
        try:
            found = con.execute("select build_id from marts.build_info").fetchall()
        finally:
            con.close()
    except duckdb.Error as exc:
        if is_lock_conflict(exc):
            raise BuildLocked(
                f"version {version.build_id} ({path.name}) is held open for writing by another "
                "process; close it and try again"
            ) from None
        raise CorruptVersion(
            f"version {version.build_id}: {path.name} does not open as a warehouse: {str(exc).splitlines()[0]}"
        ) from None
    if "adopted_from" not in record and found != [(version.build_id,)]:
        raise CorruptVersion(
            f"version {version.build_id}: the marts.build_info of {path.name} names {found}, not this build"
        )


# ---- the publish log -----------------------------------------------------------------

# Events that make a version live; "copy" records what a copy (PostgreSQL, export) holds.
LIVE_EVENTS = frozenset({"publish", "rollback", "adopt", "recovered"})
RECOVERED = (
    "the pointer named this version but the publish log did not (a publish or rollback stopped "
    "between moving the pointer and writing the log, or the log was deleted or edited)"
)


def utc_text(seconds: float | None = None) -> str:
    moment = dt.datetime.now(dt.UTC) if seconds is None else dt.datetime.fromtimestamp(seconds, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def append_event(paths: WarehousePaths, event: str, build_id: str, previous: str | None, command: str, **extra) -> None:
    """Append one line to the publish log and flush it to disk.

    A torn last line (a kill in the middle of a write) is first closed with a newline, so
    it stays one unreadable line that readers skip, and the log is never rewritten.
    """
    line = {
        "event": event,
        "build_id": build_id,
        "previous": previous,
        "at": extra.pop("at", None) or utc_text(),
        "command": command,
        **extra,
    }
    data = (json.dumps(line, ensure_ascii=False) + "\n").encode()
    created = not os.path.lexists(paths.publish_log)
    try:
        fd = os.open(paths.publish_log, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.EISDIR):
            raise
        raise UnsafeWarehousePath(
            f"{paths.publish_log} is {describe_path(paths.publish_log)}, not the publish "
            "log; move it away (chengyu creates it as a plain file)"
        ) from None
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data
        os.write(fd, data)
        fs_step(f"append '{event}' to the publish log")
        os.fsync(fd)
        fs_step("fsync the publish log")
    finally:
        os.close(fd)
    if created:
        _fsync(paths.versions_dir)
        fs_step("fsync versions folder (new publish log)")


def _valid_event(event) -> bool:
    if not isinstance(event, dict) or not isinstance(event.get("event"), str):
        return False
    fields_ok = (
        isinstance(event.get("build_id"), str)
        and BUILD_ID.fullmatch(event["build_id"])
        and isinstance(event.get("previous"), (str, type(None)))
        and isinstance(event.get("at"), str)
        and isinstance(event.get("command"), str)
    )
    if event["event"] == "copy":
        return bool(fields_ok) and isinstance(event.get("copy"), str) and isinstance(event.get("target"), str)
    return bool(fields_ok) or event["event"] not in LIVE_EVENTS  # an unknown event is kept and ignored


def read_log(paths: WarehousePaths) -> tuple[list[dict], int]:
    """The readable events of the publish log in order, and the number of lines skipped
    (torn by a kill, or not understood)."""
    try:
        fd = os.open(paths.publish_log, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        return [], 0
    except OSError as exc:
        raise UnsafeWarehousePath(
            f"{paths.publish_log} is {describe_path(paths.publish_log)}, not the publish "
            f"log ({exc.strerror}); move it away"
        ) from None
    try:
        with os.fdopen(fd, "rb", closefd=False) as f:
            raw = f.read()
    except OSError as exc:  # e.g. a directory
        raise UnsafeWarehousePath(
            f"{paths.publish_log} cannot be read as the publish log ({exc.strerror}); move it away"
        ) from None
    finally:
        os.close(fd)
    events, skipped = [], 0
    for text in raw.split(b"\n"):
        if not text.strip():
            continue
        try:
            event = json.loads(text)
        except ValueError:
            skipped += 1
            continue
        if _valid_event(event):
            events.append(event)
        else:
            skipped += 1
    return events, skipped


@dataclass
class History:
    """The publish log replayed: the rollback stack, when each version was last live, copies."""

    events: list[dict]
    skipped: int = 0
    pending: dict | None = None  # the `recovered` line the next locked command appends

    def __post_init__(self) -> None:
        self.stack: list[str] = []
        self.last_live: dict[str, int] = {}
        self.copies: dict[tuple[str, str], dict] = {}
        self.unknown = 0
        for index, event in enumerate(self.events):
            build_id = event.get("build_id")
            if event["event"] in LIVE_EVENTS:
                if build_id in self.stack:  # back to a version on the stack: withdraw those above it
                    del self.stack[self.stack.index(build_id) + 1 :]
                else:
                    self.stack.append(build_id)
                self.last_live[build_id] = index
            elif event["event"] == "copy":
                self.copies[(event["copy"], event["target"])] = event
            else:
                self.unknown += 1

    @property
    def live(self) -> str | None:
        return self.stack[-1] if self.stack else None

    @property
    def ids(self) -> set[str]:
        return {e["build_id"] for e in self.events if isinstance(e.get("build_id"), str)}

    def rollback_path(self) -> list[str]:
        """The versions a plain rollback returns to, nearest first."""
        return self.stack[-2::-1]

    def ranked(self, versions) -> list[Version]:
        """Most recently live first; versions the log never showed live last, by id."""
        return sorted(versions, key=lambda v: (self.last_live.get(v.build_id, -1), v.build_id), reverse=True)

    def made_live(self, build_id: str) -> tuple[dict | None, dict | None, dict | None]:
        """(first event that made it live, last one, the event that ended that last period)."""
        indexes = [i for i, e in enumerate(self.events) if e["event"] in LIVE_EVENTS and e["build_id"] == build_id]
        if not indexes:
            return None, None, None
        ended = next((e for e in self.events[indexes[-1] + 1 :] if e["event"] in LIVE_EVENTS), None)
        return self.events[indexes[0]], self.events[indexes[-1]], ended


def read_history(paths: WarehousePaths) -> History:
    """The log replayed, with the pointer as the truth for what is live now: when the log
    does not show the pointer's version live, a `recovered` event is added (in memory)."""
    events, skipped = read_log(paths)
    history = History(events, skipped)
    pointed = paths.pointed_version()
    if pointed is None or pointed.build_id == history.live:
        return history
    pending = {
        "event": "recovered",
        "build_id": pointed.build_id,
        "previous": history.live,
        "at": utc_text(os.lstat(paths.published).st_mtime),
        "command": RECOVERED,
    }
    return History(events + [pending], skipped, pending)


def reconcile(paths: WarehousePaths, command: str) -> History:
    """Under the lock: append the `recovered` line when the log and the pointer disagree."""
    history = read_history(paths)
    if history.pending is not None:
        event = dict(history.pending)
        with storage_errors("repair the publish log"):
            append_event(
                paths,
                event.pop("event"),
                event.pop("build_id"),
                event.pop("previous"),
                f"{event.pop('command')}; recorded by `chengyu {command}`",
                **event,
            )
        history.pending = None
    return history


def record_copy(paths: WarehousePaths, kind: str, target: str, build_id: str, command: str) -> None:
    """Note in the publish log which build a copy (PostgreSQL, a Parquet export) now holds."""
    try:
        with storage_errors("record the copy in the publish log"):
            append_event(paths, "copy", build_id, None, command, copy=kind, target=target)
    except (StorageError, UnsafeWarehousePath, OSError) as exc:  # the copy is made all the same
        print(f"WARNING the publish log does not record this copy: {exc}", file=sys.stderr)


def build_id_after(build_id: str) -> str:
    moment = dt.datetime.strptime(build_id, "%Y%m%dT%H%M%S%fZ")
    return (moment + dt.timedelta(microseconds=1)).strftime("%Y%m%dT%H%M%S%fZ")


def unique_build_id(paths: WarehousePaths) -> str:
    """A new build id no kept version, leftover file or log line uses (a clock set back
    could repeat one): redrawn one microsecond later until free."""
    taken = read_history(paths).ids
    if paths.versions_dir.is_dir():
        taken |= {
            b
            for p in paths.versions_dir.iterdir()
            for b in (
                paths.build_id_of(p.name, ".duckdb"),
                paths.build_id_of(p.name, ".json"),
                paths.build_id_of(p.name, INTERNAL_SUFFIX),
            )
            if b
        }
    build_id = new_build_id()
    while build_id in taken:
        build_id = build_id_after(build_id)
    return build_id


# ---- publish, rollback, prune ---------------------------------------------------------


def publish(
    paths: WarehousePaths,
    candidate: Path,
    build_id: str,
    record: dict,
    keep: int = DEFAULT_KEEP_VERSIONS,
    command: str = "build",
) -> Version:
    """Make the sealed candidate a version (its serving file derived from it, the candidate
    itself its internal file), point the warehouse at the serving file, log it, prune.

    Both files get their version names before the record is written: until the record
    exists they are leftovers the next locked command removes, never half a version."""
    version = paths.version(build_id)
    history = reconcile(paths, command)
    exists = VersionExists(
        f"version {build_id} exists already (or the publish log names it); "
        "a version is never overwritten: build again for a new id"
    )
    if build_id in history.ids or any(os.path.lexists(p) for p in (version.database, version.record, version.internal)):
        raise exists
    previous = paths.pointed_version()
    serving = write_serving(paths, candidate)
    with storage_errors("publish the new version", candidate.stat().st_size):
        # Immutable from here on; the internal file readable only by the account that builds
        # (a BI server under another account cannot open it even by its path).
        for source, name, label, mode in (
            (candidate, version.internal, "internal file", 0o400),
            (serving, version.database, "serving file", 0o444),
        ):
            os.chmod(source, mode)
            fs_step(f"make the {label} read-only")
            try:
                os.link(source, name)  # unlike a rename, never replaces an existing file
            except FileExistsError:
                raise exists from None
            fs_step(f"link the {label} to its version name")
            os.unlink(source)
            fs_step(f"remove the {label}'s build name")
        write_record(version, record)
        point_at(paths, version)  # the commit point
        append_event(paths, "publish", build_id, previous.build_id if previous else None, command)
    try:
        prune(paths, keep)
    except OSError as exc:  # published all the same; the next build prunes again
        print(f"WARNING could not remove old versions: {exc}", file=sys.stderr)
    return version


def rollback(paths: WarehousePaths, to: str | None = None, command: str = "rollback") -> tuple[Version | None, Version]:
    """Point the warehouse at the version live before the current one (per the publish
    log), or at build id `to`.

    When the pointer is broken (names no complete version), point it at the most recently
    live version that verifies: the repair that every other command's message names.
    """
    history = reconcile(paths, command)
    try:
        current = paths.current()
        broken = False
    except CorruptVersion:
        if paths.orphaned():
            raise NoSuchVersion(
                f"{paths.versions_dir} holds no version to roll back to (deleted by hand?); "
                "`chengyu build` publishes a new one"
            ) from None
        current, broken = None, True
    kept = {v.build_id: v for v in paths.versions()}
    if current is None and not broken:
        raise NoSuchVersion(f"nothing is published at {paths.published} yet")
    if to is not None:
        target = kept.get(to)
        if target is None:
            raise NoSuchVersion(f"there is no version {to!r} (see `chengyu versions`)")
        if current is not None and to == current.build_id:
            return current, current
        _verify_for_rollback(paths, history, target, current)
    elif broken:
        target = _newest_good(paths, history.ranked(kept.values()))
    else:
        path = [kept[b] for b in history.rollback_path() if b in kept]
        if not path:
            raise NoSuchVersion(
                f"the publish log records no kept version live before {current.build_id}; a withdrawn or older "
                "version comes back only when named: `chengyu rollback --to BUILD_ID` (`chengyu versions` lists them)"
            )
        target = path[0]
        _verify_for_rollback(paths, history, target, current)
    with storage_errors("move the warehouse pointer"):
        point_at(paths, target)  # the commit point
        append_event(paths, "rollback", target.build_id, current.build_id if current else None, command)
    return current, target


def _verify_for_rollback(paths: WarehousePaths, history: History, target: Version, current: Version | None) -> None:
    try:
        verify_version(paths, target)
    except CorruptVersion as exc:
        skip = {target.build_id} | ({current.build_id} if current else set())
        raise CorruptVersion(f"{exc}; not rolling back to it{recovery_hint(paths, history, skip)}") from None


def _newest_good(paths: WarehousePaths, ranked: list[Version]) -> Version:
    problems = []
    for version in ranked:
        try:
            verify_version(paths, version)
            return version
        except CorruptVersion as exc:
            problems.append(str(exc))
    raise NoSuchVersion("no kept version verifies" + (": " + "; ".join(problems) if problems else ""))


def last_verifying(paths: WarehousePaths, history: History, skip: set[str]) -> Version | None:
    """The most recently live kept version (not in skip) that verifies in full."""
    for version in history.ranked(paths.versions()):
        if version.build_id in skip:
            continue
        try:
            verify_version(paths, version)
            return version
        except (CorruptVersion, BuildLocked):
            continue
    return None


def recovery_hint(paths: WarehousePaths, history: History, skip: set[str]) -> str:
    good = last_verifying(paths, history, skip)
    if good is not None:
        return f"; `chengyu rollback --to {good.build_id}` returns to the last version that verifies"
    return "; no other kept version verifies: `chengyu build --accept-shift REASON` publishes a new one"


def prune(paths: WarehousePaths, keep: int) -> list[Version]:
    """Delete the versions beyond the `keep` most recently live (per the publish log;
    the live one is always kept, versions never shown live go first)."""
    current = paths.current()
    ranked = read_history(paths).ranked(paths.versions())
    removed = []
    for version in ranked[keep:]:
        if current is not None and version.build_id == current.build_id:
            continue
        # Record first: from then on the file is an unreferenced leftover, never a half version.
        version.record.unlink()
        fs_step("remove old version's record")
        version.database.unlink()
        fs_step("remove old version's serving file")
        if version.internal.exists():
            version.internal.unlink()
            fs_step("remove old version's internal file")
        removed.append(version)
    return removed


# ---- what commands that open the published file check ----------------------------------


def check_published(paths: WarehousePaths, full: bool = False) -> Version | None:
    """The live version, checked before a command opens it (size, or the whole checksum for
    the commands that copy it): a damaged file is named with its recovery. None: nothing published."""
    current = paths.current()  # a broken pointer: CorruptVersion naming its repair
    if current is None:
        return None
    try:
        verify_version(paths, current, full=full)
    except CorruptVersion as exc:
        hint = recovery_hint(paths, read_history(paths), {current.build_id})
        raise CorruptVersion(f"the published version is damaged: {exc}{hint}") from None
    return current


def live_for_build(paths: WarehousePaths, accept_shift: str | None) -> tuple[Version | None, str | None]:
    """Under the lock, before a build: repair the log, then the version the gate compares
    with, checked in full, and why there is none. Fails closed: a damaged or locked live
    version stops the build unless the user accepts publishing without a comparison."""
    reconcile(paths, "build")
    if paths.orphaned():
        print(
            f"{paths.published} points at {os.readlink(paths.published)}, but {paths.versions_dir} holds no "
            "version (deleted by hand?): building as if nothing were published; publishing replaces the pointer",
            flush=True,
        )
        return None, "nothing is published (the versions folder held no version)"
    try:
        return check_published(paths, full=True), None
    except (CorruptVersion, BuildLocked) as exc:
        if accept_shift is None:
            raise type(exc)(
                f"{exc}; the quality gate cannot compare with it: fix that, or build with "
                "--accept-shift REASON to publish without a comparison"
            ) from None
        print(f"WARNING {exc}; publishing without a comparison (--accept-shift: {accept_shift})", flush=True)
        return None, f"the published version could not be compared with ({exc})"


def remove_leftovers(paths: WarehousePaths) -> list[Path]:
    """Delete what killed builds of this warehouse left: candidates (the build's and the
    serving file's), temporary names, version files (serving or internal) that never got
    their record.

    Only this warehouse's own names are touched, never the files of the version the pointer names.
    Call under the lock: then no other build of it is writing any of these.
    """
    if not paths.versions_dir.is_dir():
        return []
    prefix = f"{paths.name}."
    pointed = paths.pointer_target()
    pointed_id = paths.build_id_of(pointed.name, ".duckdb") if pointed is not None else None
    leftovers = []
    for path in paths.versions_dir.iterdir():
        if not path.name.startswith(prefix) or path == pointed:
            continue
        build_id = paths.build_id_of(path.name, ".duckdb") or paths.build_id_of(path.name, INTERNAL_SUFFIX)
        if build_id is not None and build_id == pointed_id:  # the pointer's internal file follows it
            continue
        if (
            ".tmp-" in path.name
            or path.name.startswith(f"{prefix}candidate-")
            or build_id is not None
            and not paths.version(build_id).record.exists()
        ):
            leftovers.append(path)
    leftovers += [p for p in paths.directory.iterdir() if p.name.startswith(f".{paths.name}.pointer-")]
    for path in leftovers:
        path.unlink(missing_ok=True)
    return sorted(leftovers)
