"""Writing where the user said, and nowhere else.

- A file (`report --out`, each file of `docs --out`, `metrics query --csv`) is written to a
  temporary file beside it and renamed over it: nothing is ever written *through* a path,
  so a symbolic link, FIFO or device there is never followed, and only a regular file is
  replaced.
- A folder (`export --out`) must be new or empty. It is written as a fresh temporary folder
  beside it and renamed into place at the end: a link or file planted in it is never
  followed or overwritten, and a failed export leaves nothing behind.

Anything else at the path is refused before anything is written (OutputInTheWay, exit 9);
the file system's own refusals (read-only, /proc, a name too long) become exit 10 through
warehouse.storage_errors.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path

from chengyu_cluster.exits import EXIT_IN_THE_WAY
from chengyu_cluster.publish.versions import StorageError, WarehouseError

# Short, so that a temporary name beside a long (but valid) name stays within NAME_MAX.
TEMP_PREFIX, TEMP_SUFFIX = ".chengyu-", ".partial"


class OutputInTheWay(WarehouseError):
    """The output path holds something chengyu will not overwrite or write through."""

    exit_code = EXIT_IN_THE_WAY


def output_path(text: str) -> Path:
    """An output path as given on the command line, absolute; `~` expanded, `..` kept for the OS."""
    return Path(os.path.expanduser(text)).absolute()


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
    ):
        if test(mode):
            return name
    return "a file"


def _existing_mode(path: Path) -> int | None:
    """lstat's mode of path (links not followed), None if nothing is there."""
    try:
        return os.lstat(path).st_mode
    except FileNotFoundError:
        return None


def _temp_beside(path: Path, make) -> str:
    """make(dir=, prefix=, suffix=) of a temporary file or folder in path's folder (created
    with the folders on the way if missing)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return make(dir=path.parent, prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX)
    except FileNotFoundError:
        # With the folders on the way created, only a folder that takes no new files is left:
        # /proc, /sys and the like.
        raise StorageError(
            f"cannot write {path}: its folder {path.parent} takes no new files (a special file system such as /proc?)"
        ) from None


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


def check_file_target(path: Path) -> None:
    """Refuse a path that holds anything but a regular file (a link, folder, FIFO, device)."""
    mode = _existing_mode(path)
    if mode is not None and not stat.S_ISREG(mode):
        raise OutputInTheWay(
            f"{path} is {_kind(mode)}: chengyu writes a new file there or replaces a regular "
            "file, nothing else; give another path"
        )


def write_file(path: Path, data: str | bytes) -> Path:
    """Write data as the file at path (new, or replacing a regular file), never through a link."""
    check_file_target(path)
    fd, temp = _temp_beside(path, tempfile.mkstemp)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(temp, 0o666 & ~_umask())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def check_folder_target(path: Path) -> None:
    """Refuse a path that holds anything but an empty folder (a link to one included)."""
    mode = _existing_mode(path)
    if mode is None:
        return
    if not stat.S_ISDIR(mode):
        raise OutputInTheWay(f"{path} is {_kind(mode)}: give a new or empty folder")
    if any(os.scandir(path)):
        raise OutputInTheWay(
            f"{path} is not empty: chengyu writes only into a new or empty folder, so "
            "nothing there is overwritten; give another folder or empty this one"
        )


def check_docs_folder(path: Path) -> None:
    """A folder whose files are replaced one by one (`docs --out`): new or a real folder, not a link."""
    mode = _existing_mode(path)
    if mode is not None and not stat.S_ISDIR(mode):
        raise OutputInTheWay(f"{path} is {_kind(mode)}: give a folder (a link is not followed)")


@contextmanager
def new_folder(path: Path):
    """Yield a fresh temporary folder beside path; when the block ends without error, it
    becomes path (replacing an empty folder), otherwise it is removed."""
    check_folder_target(path)
    temp = Path(_temp_beside(path, tempfile.mkdtemp))
    try:
        yield temp
        os.chmod(temp, 0o777 & ~_umask())
        try:
            os.rename(temp, path)  # replaces an empty folder; never goes through a link
        except OSError as exc:
            if exc.errno == errno.EBUSY:
                raise OutputInTheWay(f"{path} is a mount point: give a new folder inside it") from None
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                raise OutputInTheWay(
                    f"{path} was changed by someone else while chengyu wrote it "
                    "(it is no longer a new or empty folder); nothing was written"
                ) from None
            raise
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
