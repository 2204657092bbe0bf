"""Each BI recipe of docs/access.md, used exactly as written, against a published warehouse laid
out as a symlink to a version file: it reads the marts, and it refuses writes, reading other
files (read_text, read_csv), COPY ... TO and ATTACH. A recipe that leaves any of them open
fails here (the files it would read or attach exist; the file it would write is checked).
The DuckDB CLI recipe (safe mode) is also tried with every dot command that left the locked
session before (.open, .shell, .output, ...)."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from bi_envs import REPO, bi_env, versioned_warehouse
from conftest import sha256

# The recipes, character for character as docs/access.md gives them.
DUCKDB_CLI = "bi/duckdb/duckdb-safe warehouse/chengyu.duckdb"
HARLEQUIN = "harlequin -r --init-path bi/duckdb/read_only.sql warehouse/chengyu.duckdb"
HSQL = "hsql -r --init-path bi/duckdb/read_only.sql warehouse/chengyu.duckdb"
URI_SETTINGS = "?access_mode=read_only&enable_external_access=false&lock_configuration=true"
SQLALCHEMY_URI = "duckdb:////abs/path/warehouse/chengyu.duckdb" + URI_SETTINGS
ENGINE_PARAMS = {"connect_args": {"read_only": True, "config": {"enable_external_access": False}}}
ENGINE_PARAMS_README = '{"connect_args": {"read_only": true, "config": {"enable_external_access": false}}}'
PYTHON_DUCKDB = 'duckdb.connect("warehouse/chengyu.duckdb", read_only=True, config={"enable_external_access": False})'

DISABLED = "file system operations are disabled by configuration"


@pytest.fixture(scope="module")
def site(built, tmp_path_factory):
    """A folder laid out like the repository for a BI user: bi/duckdb/read_only.sql and
    warehouse/chengyu.duckdb -> versions/chengyu.<build>.duckdb, plus files a query must not reach."""
    root = tmp_path_factory.mktemp("bi-site")
    (root / "bi" / "duckdb").mkdir(parents=True)
    for name in ("read_only.sql", "duckdb-safe"):
        shutil.copy2(REPO / "bi" / "duckdb" / name, root / "bi" / "duckdb" / name)
    link = versioned_warehouse(built.published, root / "warehouse")
    (root / "secret.csv").write_text("name,value\nsecret,42\n", encoding="utf-8")
    other = duckdb.connect(str(root / "other.duckdb"))
    other.execute("create table t as select 1 as x")
    other.close()
    return root, link


def probes(root: Path) -> dict[str, str]:
    return {
        "read": "select count(*) as n from marts.dim_area",
        "create": "create table marts.zz_probe as select 1 as x",
        "delete": "delete from marts.dim_area",
        "read_text": f"select content from read_text('{root / 'secret.csv'}')",
        "read_csv": f"select * from read_csv('{root / 'secret.csv'}')",
        "copy_to": f"copy (select 1 as x) to '{root / 'warehouse' / 'leak.csv'}' (format csv)",
        "attach": f"attach '{root / 'other.duckdb'}' as other",
        "reenable": "set enable_external_access = true",
    }


EXPECTED_REFUSAL = {
    "create": "read-only mode",
    "delete": "read-only mode",
    "read_text": DISABLED,
    "read_csv": DISABLED,
    "copy_to": DISABLED,
    "attach": DISABLED,
    # Either message: external access cannot be re-enabled, or the whole configuration is locked.
    "reenable": (
        "Cannot enable external access",
        'option "enable_external_access" - the configuration has been locked',
    ),
}


def refused(words, message: str) -> bool:
    return any(w in message for w in ((words,) if isinstance(words, str) else words))


def assert_untouched(root: Path, link: Path, before: str) -> None:
    assert link.is_symlink(), "the recipe replaced the symlink"
    assert sha256(link.resolve()) == before, "the published version changed"
    assert not (root / "warehouse" / "leak.csv").exists(), "COPY ... TO wrote a file"
    assert sorted(p.name for p in (root / "warehouse").iterdir()) == ["chengyu.duckdb", "versions"]


def check_python_recipe(python: Path | str, recipe: str, target: str, site) -> dict:
    root, link = site
    before = sha256(link.resolve())
    out = subprocess.run(
        [str(python), str(REPO / "tests" / "bi_probe.py"), recipe, target, json.dumps(probes(root))],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
    )
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)
    assert results["read"] == {"rows": [["16"]]}, results["read"]
    for name, words in EXPECTED_REFUSAL.items():
        assert "error" in results[name], f"{recipe}: {name} was allowed: {results[name]}"
        assert refused(words, results[name]["error"]), (name, results[name]["error"])
    assert_untouched(root, link, before)
    return results["_versions"]


def test_docs_give_these_recipes():
    access = (REPO / "docs" / "access.md").read_text(encoding="utf-8")
    for recipe in (DUCKDB_CLI, HARLEQUIN, HSQL, SQLALCHEMY_URI, ENGINE_PARAMS_README, PYTHON_DUCKDB):
        assert recipe in access, f"docs/access.md no longer gives: {recipe}"
    assert json.loads(ENGINE_PARAMS_README) == ENGINE_PARAMS


def test_python_duckdb_recipe(site):
    root, link = site
    spec = {"database": "warehouse/chengyu.duckdb", "read_only": True, "config": {"enable_external_access": False}}
    check_python_recipe(sys.executable, "duckdb", json.dumps(spec), site)


def test_pandas_sqlalchemy2_recipe(site):
    root, link = site
    uri = SQLALCHEMY_URI.replace("/abs/path/warehouse/chengyu.duckdb", str(link))
    versions = check_python_recipe(sys.executable, "sqlalchemy-uri", uri, site)
    assert versions["sqlalchemy"].startswith("2.")


@pytest.mark.parametrize("form", ["uri", "engine-params"])
def test_superset_recipe_on_sqlalchemy_14(site, form):
    """What Superset does with the recipe: duckdb_engine on SQLAlchemy 1.4, in Superset's own
    environment. (tests/test_superset.py does it through Superset itself.)"""
    root, link = site
    python = bi_env("superset") / "bin" / "python"
    if form == "uri":
        versions = check_python_recipe(
            python, "sqlalchemy-uri", SQLALCHEMY_URI.replace("/abs/path/warehouse/chengyu.duckdb", str(link)), site
        )
    else:
        spec = {"uri": f"duckdb:///{link}", "engine_params": ENGINE_PARAMS}
        versions = check_python_recipe(python, "sqlalchemy-engine-params", json.dumps(spec), site)
    assert versions["sqlalchemy"] == "1.4.54" and versions["duckdb"] == duckdb.__version__


def cli_env(root: Path) -> dict:
    # The CLI of the project's .venv (duckdb-cli 1.5.5, installed by make), as docs/access.md uses it.
    return {"PATH": "/usr/bin:/bin", "HOME": str(root), "NO_COLOR": "1", "DUCKDB_CLI_PYTHON": sys.executable}


def run_cli(root: Path, script: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        shlex.split(DUCKDB_CLI),
        input=script + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=root,
        env=cli_env(root),
    )


def test_duckdb_cli_recipe(site):
    root, link = site
    before = sha256(link.resolve())
    statements = probes(root)
    assert "16" in run_cli(root, statements["read"] + ";").stdout
    for name, words in EXPECTED_REFUSAL.items():
        out = run_cli(root, statements[name] + ";")
        assert refused(words, out.stdout + out.stderr), (name, out.stdout + out.stderr)
    assert_untouched(root, link, before)


def test_duckdb_cli_recipe_has_no_way_out(site):
    """Issue 22, case 8: without safe mode, `.open :memory:` started a session with external
    access on, `.open warehouse/chengyu.duckdb` reopened the version read-write, `.shell` ran
    commands and `.output` wrote files. In safe mode each is refused and nothing after it runs
    in another session."""
    root, link = site
    before = sha256(link.resolve())
    marker = root / "escaped"
    escapes = {
        ".open :memory:": f"select content from read_text('{root / 'secret.csv'}');",
        ".open warehouse/chengyu.duckdb": "create table marts.zz_escape as select 1 as x;",
        f".shell touch {marker}": "",
        f".system touch {marker}": "",
        f".output {marker}": "select 1;",
        f".once {marker}": "select 1;",
        f".log {marker}": "select 1;",
        f".read {root / 'secret.csv'}": "",
        f".import {root / 'secret.csv'} zz_import": "",
        ".cd /": "",
    }
    for command, then in escapes.items():
        out = run_cli(root, f"{command}\n{then}")
        assert "cannot be used in -safe mode" in out.stderr, (command, out.stdout + out.stderr)
        assert "secret,42" not in out.stdout and not marker.exists(), command
    assert_untouched(root, link, before)


def test_the_duckdb_cli_launcher_cannot_start_in_safe_mode(site):
    """Why the recipe runs duckdb-cli's binary through bi/duckdb/duckdb-safe: the `duckdb`
    launcher sets extension_directories after -safe has locked the configuration. If this fails,
    a newer duckdb-cli starts in safe mode and the recipe may call `duckdb -safe` directly."""
    root, _ = site
    launcher = Path(sys.executable).parent / "duckdb"
    out = subprocess.run(
        [str(launcher), "-safe", "-readonly", "warehouse/chengyu.duckdb", "-c", "select 1"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=root,
        env=cli_env(root),
    )
    assert out.returncode != 0 and "the configuration has been locked" in out.stdout + out.stderr


def test_harlequin_recipe_headless(site):
    """Harlequin's TUI needs a terminal; hsql is Harlequin's own headless runner and opens the
    database through the same DuckDB adapter with the same options (-r, --init-path)."""
    root, link = site
    before = sha256(link.resolve())
    env = bi_env("clients")
    command = shlex.split(HSQL)
    command[0] = str(env / "bin" / "hsql")
    spec = json.loads(
        subprocess.run(
            [str(env / "bin" / "hsql"), "--spec", "-a", "duckdb"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=root,
            env={"HOME": str(root)},
        ).stdout
        or "{}"
    )
    assert "init-path" in json.dumps(spec), "harlequin's duckdb adapter no longer takes --init-path"
    statements = probes(root)
    for name, statement in statements.items():
        out = subprocess.run(
            command + ["--no-write-history", "--csv", "-c", statement],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=root,
            env={"HOME": str(root), "PATH": "/usr/bin:/bin"},
        )
        if name == "read":
            assert out.returncode == 0 and out.stdout.splitlines()[-1] == "16", out.stdout + out.stderr
        else:
            assert out.returncode != 0 and refused(EXPECTED_REFUSAL[name], out.stderr), (name, out.stdout + out.stderr)
    assert_untouched(root, link, before)
