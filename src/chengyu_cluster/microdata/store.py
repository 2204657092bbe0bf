"""The content-addressed store: taking files in, keeping checked copies as immutable objects,
removing what interrupted loads left and what no kept version uses (layout: package docstring)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from chengyu_cluster.inputs.reader import Findings, sql_text
from chengyu_cluster.microdata.listing import MicrodataFile, add_issue
from chengyu_cluster.microdata.rules import typed_select


@dataclass
class Store:
    root: Path

    @classmethod
    def of(cls, paths) -> Store:
        return cls(paths.directory / f"{paths.name}.microdata")

    @property
    def objects(self) -> Path:
        return self.root / "objects"

    @property
    def manifests(self) -> Path:
        return self.root / "manifests"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    def object_dir(self, table: str, sha: str) -> Path:
        return self.objects / table / sha

    def relative(self, path: Path) -> str:
        """How the warehouse records a store file: relative to the store (the same in every
        warehouse built from the same data, and valid when the store moves)."""
        return str(path.relative_to(self.root))

    def resolve(self, recorded: str) -> Path:
        """The store file a recorded path names: objects/<table>/<sha256>/<file>, relative to the
        store or (as versions before recorded it) absolute, possibly where the store used to be."""
        return self.root.joinpath(*Path(recorded).parts[-4:])


def _sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _copy_hashing(source: Path, target: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(source, "rb") as src, open(target, "wb") as dst:
        for chunk in iter(lambda: src.read(1 << 22), b""):
            digest.update(chunk)
            dst.write(chunk)
            size += len(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    return digest.hexdigest(), size


def take_in(files: list[MicrodataFile], store: Store | None, findings: Findings) -> None:
    """Hash every file; copy the new ones into the store's incoming folder (a build) or check
    them where they are (validate only). A file with the bytes of an earlier one is marked
    `same_as` it and neither copied nor checked again (_same_content judges it)."""
    first_of: dict[tuple[str, str], MicrodataFile] = {}
    for number, f in enumerate(files):
        try:
            f.sha256, f.size_bytes = _sha256(f.path)
        except OSError as exc:
            add_issue(findings, f.display, None, None, "readable", f"the file cannot be read: {exc.strerror}")
            continue
        f.same_as = first_of.setdefault((f.table, f.sha256), f)
        if f.same_as is f:
            f.same_as = None
        else:
            continue
        if store is not None:
            f.store_dir = store.object_dir(f.table, f.sha256)
            meta = f.store_dir / "meta.json"
            if meta.is_file():
                info = json.loads(meta.read_text(encoding="utf-8"))
                f.reused, f.store_file = True, f.store_dir / info["store_file"]
                f.months, f.rows = info["months"], info["rows"]
                if f.store_file.is_file():
                    continue
                f.reused = False  # a half-removed object: take the file in again
            store.tmp.mkdir(parents=True, exist_ok=True)
            copy = store.tmp / f"incoming-{os.getpid()}-{number}.{f.fmt}"
            sha, size = _copy_hashing(f.path, copy)
            if sha != f.sha256:
                add_issue(
                    findings,
                    f.display,
                    None,
                    None,
                    "stable_file",
                    "the file changed while it was being read; build again when it is complete",
                )
                continue
            f.checked_path = copy
        else:
            f.checked_path = f.path


def keep_checked(con, files: list[MicrodataFile], columns: dict[str, dict[str, str]], store: Store) -> None:
    """Make each new checked copy an immutable store object (atomic: a rename of its folder).

    Each object is written from its own checked copy alone, never through a view over several
    files: a copy already moved into the store by this loop is gone from the incoming folder."""
    for f in files:
        if f.reused or f.same_as is not None:
            continue
        wanted = columns[f.table]
        staging = store.tmp / f"object-{os.getpid()}-{f.sha256}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        target = staging / f.base_name
        exact = f.fmt == "parquet" and f.present == wanted  # the layout's names and types, in any order
        if exact:
            os.replace(f.checked_path, target)  # the checked bytes themselves
        else:
            cols = ", ".join(f'"{c}"' for c in wanted)
            con.execute(
                f"copy (select {cols} from ({typed_select(f, wanted, f.present)}) order by _row) "
                f"to {sql_text(str(target))} (format parquet, compression zstd)"
            )
        os.chmod(target, 0o444)
        (staging / "meta.json").write_text(
            json.dumps(
                {
                    "input_file": f.display,
                    "table": f.table,
                    "sha256": f.sha256,
                    "size_bytes": f.size_bytes,
                    "store_file": target.name,
                    "rows": f.rows,
                    "months": f.months,
                    "kept_bytes": exact,
                    "stored_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                },
                indent=1,
            ),
            encoding="utf-8",
        )
        f.store_dir.parent.mkdir(parents=True, exist_ok=True)
        if f.store_dir.exists():  # half removed by a killed garbage collection (whole ones are reused)
            _remove_object(f.store_dir)
        os.rename(staging, f.store_dir)
        f.store_file = f.store_dir / target.name
    for f in files:
        if f.same_as is not None:
            f.store_file = f.same_as.store_file


# What a load keeps in the store's tmp folder while it runs, named by its process id.
TMP_NAME = re.compile(r"(?:incoming|object|spill|dbt-spill)-(?P<pid>[0-9]+)(?:[-.].*)?")


def remove_leftovers(store: Store, own_only: bool = False) -> list[Path]:
    """Remove the incoming copies, unfinished objects and spill folders that loads left in the
    store's tmp folder: this process's own (`own_only`), or also those of processes that no
    longer run (a load killed before its end). Other names, and a running load's, are left alone."""
    if not store.tmp.is_dir():
        return []
    removed = []
    for path in sorted(store.tmp.iterdir()):
        match = TMP_NAME.fullmatch(path.name)
        if match is None:
            continue
        pid = int(match["pid"])
        if pid != os.getpid() and (own_only or _running(pid)):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def collect_garbage(store: Store, keep_build_ids: set[str]) -> list[Path]:
    """Remove manifests of builds that are no kept version, and store objects no kept manifest names."""
    if not store.manifests.is_dir():
        return []
    referenced: set[str] = set()
    for manifest in store.manifests.glob("*.json"):
        build_id = manifest.stem
        if build_id not in keep_build_ids:
            manifest.unlink(missing_ok=True)
            continue
        try:
            referenced |= {
                str(store.resolve(p).parent) for p in json.loads(manifest.read_text(encoding="utf-8"))["store_files"]
            }
        except (OSError, ValueError, KeyError):
            return []  # an unreadable manifest: keep everything
    removed = []
    if store.objects.is_dir():
        for table_dir in store.objects.iterdir():
            for obj in table_dir.iterdir():
                if str(obj) not in referenced:
                    _remove_object(obj)
                    removed.append(obj)
    return removed


def _remove_object(obj: Path) -> None:
    for child in obj.iterdir():
        os.chmod(child, 0o644)
    shutil.rmtree(obj)


# ---- the CLI's use of it ---------------------------------------------------------------------
