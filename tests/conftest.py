"""Shared fixtures: a copy of the repository and real builds of it.

Every build here is a real `chengyu build` (real dbt, real DuckDB file, real Great
Expectations) run in a child process, as a user would run it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# What a fresh clone holds: everything but local state.
IGNORED = shutil.ignore_patterns(".git", ".venv", "warehouse", "target", "logs", "reports",
                                 "__pycache__", "*.egg-info", ".pytest_cache", "dbt_packages")


# Output of every chengyu command the tests ran, for the no-traceback guard below.
COMMAND_OUTPUTS: list[tuple[tuple, str]] = []


@pytest.fixture
def no_tracebacks():
    """Fail the test if any chengyu command it ran printed a Python traceback."""
    COMMAND_OUTPUTS.clear()
    yield
    leaked = [args for args, output in COMMAND_OUTPUTS if "Traceback" in output]
    assert not leaked, f"commands that printed a traceback: {leaked}"


@dataclass
class Workspace:
    """A copy of the repository with its own warehouse and reports folders."""

    project: Path
    warehouse: Path

    @property
    def published(self) -> Path:
        return self.warehouse / "chengyu.duckdb"

    @property
    def internal(self) -> Path:
        """The live version's internal file: every schema of the build (the pointer names
        the serving file, which holds only the served ones)."""
        return self.warehouse / "versions" / f"chengyu.{self.current()}.internal.duckdb"

    def versions(self) -> list[str]:
        """Build ids of the complete versions, oldest first."""
        records = (self.warehouse / "versions").glob("chengyu.*.json")
        return sorted(p.name[len("chengyu."):-len(".json")] for p in records)

    def current(self) -> str:
        """Build id of the version the pointer names."""
        return os.readlink(self.published).split("chengyu.", 1)[1][:-len(".duckdb")]

    def state(self) -> dict[str, str]:
        """Every file of the warehouse folder with its sha256 (symlinks: their target).

        Equal states mean nothing was published, removed or changed; the build lock's
        content (the last holder's pid) is left out.
        """
        out = {}
        for path in sorted(self.warehouse.rglob("*")):
            name = str(path.relative_to(self.warehouse))
            if path.is_symlink():
                out[name] = "-> " + os.readlink(path)
            elif path.is_file() and not path.name.endswith(".build.lock"):
                out[name] = sha256(path)
        return out

    @property
    def reports(self) -> Path:
        return self.project / "reports"

    def env(self, **extra: str) -> dict:
        env = dict(os.environ)
        env.update(CHENGYU_WAREHOUSE=str(self.published), CHENGYU_REPORTS=str(self.reports),
                   DBT_PROFILES_DIR=str(self.project))
        env.update(extra)
        return env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "chengyu_cluster.cli", "--project-dir", str(self.project), *args]

    def run(self, *args: str, timeout: float = 900, **extra_env: str) -> subprocess.CompletedProcess:
        result = subprocess.run(self.command(*args), env=self.env(**extra_env), capture_output=True,
                                text=True, timeout=timeout)
        COMMAND_OUTPUTS.append((args, result.stdout + result.stderr))
        return result

    def start(self, *args: str, **extra_env: str) -> subprocess.Popen:
        # A session of its own, so a test can SIGKILL the build with its dbt child.
        return subprocess.Popen(self.command(*args), env=self.env(**extra_env), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)


def make_workspace(root: Path) -> Workspace:
    project = root / "repo"
    shutil.copytree(REPO, project, ignore=IGNORED)
    warehouse = root / "warehouse"
    warehouse.mkdir()
    return Workspace(project, warehouse)


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Workspace:
    """One successful build of a fresh copy of the repository, shared read-only."""
    ws = make_workspace(tmp_path_factory.mktemp("built"))
    result = ws.run("build")
    assert result.returncode == 0, result.stdout + result.stderr
    ws.build_output = result.stdout
    return ws


@pytest.fixture
def workspace(tmp_path) -> Workspace:
    """A fresh copy of the repository, nothing built."""
    return make_workspace(tmp_path)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def workspace_with_published(built: Workspace, root: Path) -> Workspace:
    """A fresh copy of the repository whose warehouse folder is a copy of a good build's."""
    workspace = make_workspace(root)
    shutil.copytree(built.warehouse, workspace.warehouse, symlinks=True, dirs_exist_ok=True)
    return workspace


def pytest_collection_modifyitems(items):
    """Fast unit tests (tests/unit, no build) run first; the order is otherwise kept."""
    items.sort(key=lambda item: "unit" not in Path(str(item.fspath)).parent.name)
