"""Shared fixtures: a copy of the repository and real builds of it.

Every build here is a real `chengyu build` (real dbt, real DuckDB file, real Great
Expectations) run in a child process, as a user would run it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from chengyu_cluster.pipeline.dbt_runner import database_for_dbt, dbt_command
from chengyu_cluster.publish.versions import WarehousePaths

REPO = Path(__file__).resolve().parents[1]
# What a fresh clone holds: everything but local state.
IGNORED = shutil.ignore_patterns(
    ".git",
    ".venv",
    "warehouse",
    "target",
    "logs",
    "reports",
    "__pycache__",
    "*.egg-info",
    ".pytest_cache",
    "dbt_packages",
)


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

    def n_public_marts(self) -> int:
        """Tables of the published serving file's marts schema: what every copy must hold."""
        import duckdb

        con = duckdb.connect(str(self.published), read_only=True)
        try:
            return con.execute("select count(*) from duckdb_tables() where schema_name = 'marts'").fetchone()[0]
        finally:
            con.close()

    def versions(self) -> list[str]:
        """Build ids of the complete versions, oldest first."""
        records = (self.warehouse / "versions").glob("chengyu.*.json")
        return sorted(p.name[len("chengyu.") : -len(".json")] for p in records)

    def current(self) -> str:
        """Build id of the version the pointer names."""
        return os.readlink(self.published).split("chengyu.", 1)[1][: -len(".duckdb")]

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
        env.update(
            CHENGYU_WAREHOUSE=str(self.published), CHENGYU_REPORTS=str(self.reports), DBT_PROFILES_DIR=str(self.project)
        )
        env.update(extra)
        return env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "chengyu_cluster.cli", "--project-dir", str(self.project), *args]

    def run(self, *args: str, timeout: float = 900, **extra_env: str) -> subprocess.CompletedProcess:
        result = subprocess.run(
            self.command(*args), env=self.env(**extra_env), capture_output=True, text=True, timeout=timeout
        )
        COMMAND_OUTPUTS.append((args, result.stdout + result.stderr))
        return result

    def start(self, *args: str, **extra_env: str) -> subprocess.Popen:
        # A session of its own, so a test can SIGKILL the build with its dbt child.
        return subprocess.Popen(
            self.command(*args),
            env=self.env(**extra_env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )


# What every `chengyu build` reads after dbt, whatever else it builds: marts.build_info (the
# version check) and marts.audit_rejected_figures (the summary).
READ_BY_EVERY_BUILD = ("build_info", "audit_rejected_figures")


def build_only(ws: Workspace, *models: str, paths: tuple[str, ...] = ()) -> None:
    """Make the copy's `chengyu build` build only `models` and `paths` (folders of models),
    their ancestors, READ_BY_EVERY_BUILD and the data tests whose models are all built.

    For tests whose checks read only that part: it appends a selector with `default: true`
    to the copy's selectors.yml, which dbt builds when given no selection, as `chengyu
    build` gives none. The product's own build is untouched (the selector is the copy's).
    """
    lines = [
        f"        - {{method: {method}, value: {value}, parents: true, indirect_selection: cautious}}"
        for method, value in [*(("path", p) for p in paths), *(("fqn", m) for m in (*models, *READ_BY_EVERY_BUILD))]
    ]
    selectors = ws.project / "selectors.yml"
    text = selectors.read_text(encoding="utf-8")
    assert text.startswith("selectors:\n") and "default: true" not in text
    selector = [
        "  - name: only_what_the_test_reads",
        "    description: written by tests/conftest.py build_only into a test's copy",
        "    default: true",
        "    definition:",
        "      union:",
        *lines,
    ]
    selectors.write_text(text.rstrip("\n") + "\n" + "\n".join(selector) + "\n", encoding="utf-8")


def make_workspace(root: Path, parse_state: bool = True) -> Workspace:
    """A copy of the repository (as a fresh clone holds it) and an empty warehouse folder beside
    it, with dbt's saved parse state of the shipped project (dbt_parse_state, which makes that
    state in a copy of its own: parse_state=False)."""
    project = root / "repo"
    shutil.copytree(REPO, project, ignore=IGNORED)
    warehouse = root / "warehouse"
    warehouse.mkdir()
    state = dbt_parse_state() if parse_state else None
    if state is not None:
        (project / "target").mkdir()
        shutil.copy(state, project / "target" / state.name)
    return Workspace(project, warehouse)


# The folder every xdist worker of this session shares (shared_root), once a test has started.
SESSION: dict[str, Path] = {}


@pytest.fixture(scope="session", autouse=True)
def session_root(tmp_path_factory) -> None:
    SESSION["root"] = shared_root(tmp_path_factory)


def dbt_parse_state() -> Path | None:
    """dbt's saved parse state (target/partial_parse.msgpack) of the shipped project for
    `chengyu build`, made once per test session for all workers: a workspace's first build then
    parses only the files its test changed (a full parse is 6-7 s of a build, 8-9 CPU s more
    than a partial one). dbt keeps a state for the same profile, target and vars; `chengyu
    build` passes no vars and names the candidate relative to the project (database_for_dbt),
    which is the same in every workspace. None if dbt could not parse (its output is in
    shared-parse/parse.log): each build then parses in full and fails on its own."""
    root = SESSION["root"] / "shared-parse"
    root.mkdir(exist_ok=True)
    with (root / "parse.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        done = root / "returncode"
        if not done.exists():
            outcome = "error"
            try:
                ws = make_workspace(root, parse_state=False)
                # As chengyu names them: both folders resolved (cli.py, WarehousePaths.from_env).
                project = ws.project.resolve()
                candidate = WarehousePaths(ws.published.parent.resolve() / ws.published.name).candidate()
                result = subprocess.run(
                    dbt_command(project, "parse", "--target", "dev", "--quiet"),
                    cwd=project,
                    env=ws.env(CHENGYU_DBT_DATABASE=database_for_dbt(project, candidate)),
                    capture_output=True,
                    text=True,
                    timeout=600,
                )
                (root / "parse.log").write_text(result.stdout + result.stderr, encoding="utf-8")
                outcome = str(result.returncode)
            finally:
                done.write_text(outcome, encoding="utf-8")  # a failure too: no worker tries again
        state = root / "repo" / "target" / "partial_parse.msgpack"
        return state if done.read_text(encoding="utf-8") == "0" and state.exists() else None


def shared_root(tmp_path_factory) -> Path:
    """A folder shared by every xdist worker of this test session (and only of this one).

    Under xdist each worker's base temp is <session>/popen-gwN, so their parent is the
    session's own folder; without xdist the base temp is that folder.
    """
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def shared_build(tmp_path_factory, name: str, *args: str, setup=None) -> Workspace:
    """`chengyu build *args` of a fresh copy of the repository, made ONCE per test session for
    all xdist workers and then shared read-only: the first worker to ask builds under a file
    lock, the others wait for it and reuse its workspace (a failed build too: its output is
    kept and every user sees the same failure instead of building again).

    One name per scenario (inputs); `setup(workspace)` prepares the inputs before the build.
    """
    root = shared_root(tmp_path_factory) / f"shared-{name}"
    root.mkdir(exist_ok=True)
    with (root / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        record = root / "result.json"
        if not record.exists():
            ws = make_workspace(root)
            if setup is not None:
                setup(ws)
            result = ws.run(*args)
            record.write_text(
                json.dumps({"returncode": result.returncode, "stdout": result.stdout, "stderr": result.stderr}),
                encoding="utf-8",
            )
    ws = Workspace(root / "repo", root / "warehouse")
    saved = json.loads(record.read_text(encoding="utf-8"))
    ws.build_result = subprocess.CompletedProcess(
        ["chengyu", *args], saved["returncode"], saved["stdout"], saved["stderr"]
    )
    ws.build_output = saved["stdout"]
    return ws


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Workspace:
    """One successful build of a fresh copy of the repository, made once per session for
    all workers and shared read-only (copy it with workspace_with_published to change it)."""
    ws = shared_build(tmp_path_factory, "built", "build")
    result = ws.build_result
    assert result.returncode == 0, result.stdout + result.stderr
    return ws


# Two reported figures the warehouse cannot place, in one build shared by
# tests/test_rejected_figures.py and tests/test_bad_inputs.py: the build publishes with a
# warning naming each, and marts.audit_rejected_figures lists both.
# An added figure in 亿美元 (100 million US dollars), a unit seeds/unit_conversions.csv does not
# convert; everything else about it is valid: a known area, metric, year and source.
UNCONVERTIBLE_FIGURE_ID = "F9999"
UNCONVERTIBLE_FIGURE = (
    f"{UNCONVERTIBLE_FIGURE_ID},四川省,510000,gdp,2020,7000,亿美元,"
    "http://www.tjcn.org/tjgb/23sc/36783.html (Sichuan 2020 statistical bulletin),"
    "test row: a unit the warehouse cannot convert,high\n"
)
# F0158 (line 159 of seeds/reported_figures.csv) moved to an area code that does not exist.
UNKNOWN_AREA = ("F0158,德阳市,510600,", "F0158,德阳市,510699,")


def add_unplaceable_figures(ws: Workspace) -> None:
    figures = ws.project / "seeds" / "reported_figures.csv"
    text = figures.read_text(encoding="utf-8")
    assert UNCONVERTIBLE_FIGURE_ID not in text and UNKNOWN_AREA[0] in text
    figures.write_text(text.replace(*UNKNOWN_AREA) + UNCONVERTIBLE_FIGURE, encoding="utf-8")


@pytest.fixture(scope="session")
def rejected_figures_built(tmp_path_factory) -> Workspace:
    """A build of a copy whose reported figures hold two that cannot be placed (above); it
    publishes (the tests check build_result)."""
    return shared_build(tmp_path_factory, "rejected-figures", "build", setup=add_unplaceable_figures)


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


# The end-to-end files longest first (longest processing time first: the schedule that keeps
# the two workers' ends close). `make test` runs xdist's loadfile with --no-loadscope-reorder,
# which hands the files out in this order to whichever worker is free (each worker takes two to
# start). The order follows the step times CI prints (--durations); files not listed (each under
# about a minute) come after, in the usual order.
LONGEST_FIRST = (
    "test_spark.py",
    "test_spark_publish.py",
    "test_microdata.py",
    "test_superset.py",
    "test_readme.py",
    "test_microdata_panel.py",
    "test_bad_inputs.py",
    "test_quality_gate.py",
    "test_faults.py",
    "test_user_figures.py",
)
# The files that run Spark JVMs are one unit of xdist's schedule: one worker runs them one after
# the other while the other runs the DuckDB files. Two JVMs at once on two cores slowed each
# other far more than twice (2026-12-07, quiet machine: the Spark publish builds 65 s alone,
# 219 s beside the whole-project Spark build).
ONE_JVM_AT_A_TIME = {"test_spark.py": "spark", "test_spark_publish.py": "spark"}


def pytest_xdist_make_scheduler(config, log):
    """xdist's loadfile, with the Spark files as one unit (ONE_JVM_AT_A_TIME)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SparkFilesTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            scope = super()._split_scope(nodeid)
            return ONE_JVM_AT_A_TIME.get(Path(scope).name, scope)

    return SparkFilesTogether(config, log)


def pytest_collection_modifyitems(items):
    """Fast unit tests (tests/unit, no build) run first, then the longest end-to-end files;
    the order is otherwise kept."""

    def rank(item) -> tuple[int, int]:
        path = Path(str(item.fspath))
        if path.parent.name == "unit":
            return (0, 0)
        return (1, LONGEST_FIRST.index(path.name)) if path.name in LONGEST_FIRST else (2, 0)

    items.sort(key=rank)
