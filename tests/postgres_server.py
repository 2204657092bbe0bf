"""Start a real, throw-away PostgreSQL server on 127.0.0.1 for a test (Debian's package)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_server():
    """Yield a DSN of a fresh server; stop and delete it afterwards."""
    bindir = _binaries()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries not found: apt-get install -y postgresql (.ci/run does)")
    # Directly under /tmp: pytest's own temporary folders are private to their owner, and
    # initdb refuses to run as root, so as root the server runs as the postgres user.
    root = Path(tempfile.mkdtemp(prefix="chengyu-pg-"))
    data = root / "pgdata"
    data.mkdir()
    port = _free_port()
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(root, "postgres")
        shutil.chown(data, "postgres")
    subprocess.run(
        as_user + [str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {data} -c fsync=off"
    subprocess.run(
        as_user + [str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(data / "log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
    finally:
        subprocess.run(
            as_user + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)


def add_publishing_logins(dsn: str) -> None:
    """Logins as a DBA sets them up: `loader`, which publishes and may create schemas but not
    roles, and `analyst` for a BI tool."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as pg:
        pg.execute("create role loader login nocreaterole")
        pg.execute("grant create on database postgres to loader")
        pg.execute("create role analyst login")


def dsn_as(dsn: str, user: str) -> str:
    return dsn.replace("user=postgres", f"user={user}")
