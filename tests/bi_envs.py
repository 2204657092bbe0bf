"""The separate environments of BI clients (bi/setup_env.sh) and a warehouse laid out as
published versions behind a symlink, for the BI tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SETUP = REPO / "bi" / "setup_env.sh"


def bi_env(name: str, timeout: float = 900) -> Path:
    """The virtual environment of bi/<name>/requirements.lock, installed if missing.

    Skips the test (with the installer's last lines) only when it cannot be installed;
    .ci/run installs both environments beforehand, so CI never skips here.
    """
    try:
        result = subprocess.run(["bash", str(SETUP), name], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.skip(f"the {name} environment could not be installed within {timeout:.0f} s (bi/setup_env.sh {name})")
    if result.returncode != 0:
        pytest.skip(
            f"the {name} environment cannot be installed here (bi/setup_env.sh {name}): "
            + " | ".join(result.stderr.strip().splitlines()[-3:])
        )
    return Path(result.stdout.strip().splitlines()[-1])


def versioned_warehouse(source: Path, warehouse_dir: Path, build_id: str = "20260101T000000Z") -> Path:
    """warehouse/chengyu.duckdb as a symlink to an immutable version file, as publishing lays it
    out; returns the symlink, which is the path every recipe opens."""
    versions = warehouse_dir / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    target = versions / f"chengyu.{build_id}.duckdb"
    shutil.copy2(source, target)
    link = warehouse_dir / "chengyu.duckdb"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(Path("versions") / target.name)
    return link
