"""Apache Superset 6.1 as a real client (its own environment, bi/superset/requirements.lock):
started on 127.0.0.1 with bi/superset/superset_config.py, the warehouse registered through the
REST API with the README's recipe, SQL Lab, a dataset and chart data, the refusals of
tests/test_bi_recipes.py through SQL Lab, the same against the PostgreSQL copy, and the
planners' dashboard imported from bi/superset/dashboard/ and rendered by headless Chromium."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import psycopg
import pytest
import requests

from bi_envs import REPO, bi_env, versioned_warehouse
from conftest import sha256
from postgres_server import postgres_server
from test_bi_recipes import SQLALCHEMY_URI, probes

sys.path.insert(0, str(REPO / "bi" / "superset"))
from superset_api import Superset, import_dashboard  # noqa: E402

ADMIN = "admin"
ARTIFACTS = Path(os.environ.get("CHENGYU_TEST_ARTIFACTS", REPO / "reports" / "test-artifacts"))
BUILD_ID = "20260101T000000Z"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(env_bin: Path, env: dict, *args: str, timeout: float) -> None:
    result = subprocess.run(
        [str(env_bin / "superset"), *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"superset {' '.join(args)}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


@pytest.fixture(scope="module")
def warehouse(built, tmp_path_factory):
    """The published warehouse (a symlink to a version file) and the build id inside it."""
    root = tmp_path_factory.mktemp("superset-site")
    link = versioned_warehouse(built.published, root / "warehouse", BUILD_ID)
    con = duckdb.connect(str(link), read_only=True)
    try:
        build_id = con.execute("select build_id from marts.build_info").fetchone()[0]
    finally:
        con.close()
    (root / "secret.csv").write_text("name,value\nsecret,42\n", encoding="utf-8")
    other = duckdb.connect(str(root / "other.duckdb"))
    other.execute("create table t as select 1 as x")
    other.close()
    return root, link, build_id


def metadata_template(env_bin: Path, env: dict) -> tuple[Path, str]:
    """Superset's metadata database after `db upgrade`, the test admin and `init`, and the
    admin's password (a throw-away server on 127.0.0.1; kept beside the database, owner-only).

    Made once per Superset environment (about 3 minutes of migrations) and kept beside
    it, like the environment itself; every test module starts from a copy. Built in a
    folder of its own and renamed into place, so a killed run never leaves half of it.
    """
    folder = env_bin.parent / "metadata-template"
    template, secret = folder / "superset.db", folder / "admin-password"
    if template.exists() and secret.exists():
        return template, secret.read_text(encoding="utf-8")
    password = "chengyu-test-" + secrets.token_hex(8)
    building = Path(tempfile.mkdtemp(prefix="metadata-", dir=env_bin.parent))
    setup_env = {**env, "SUPERSET_HOME": str(building)}
    if template.exists():  # made before the password was kept: give its admin a known one
        shutil.copyfile(template, building / "superset.db")
        _run(env_bin, setup_env, "fab", "reset-password", "--username", ADMIN, "--password", password, timeout=300)
    else:
        _run(env_bin, setup_env, "db", "upgrade", timeout=600)
        _run(
            env_bin,
            setup_env,
            "fab",
            "create-admin",
            "--username",
            ADMIN,
            "--firstname",
            "Test",
            "--lastname",
            "Admin",
            "--email",
            "admin@example.invalid",
            "--password",
            password,
            timeout=300,
        )
        _run(env_bin, setup_env, "init", timeout=600)
    (building / "admin-password").write_text(password, encoding="utf-8")
    (building / "admin-password").chmod(0o600)
    shutil.rmtree(folder, ignore_errors=True)
    try:
        building.rename(folder)
    except OSError:  # another run finished first: use its template
        shutil.rmtree(building, ignore_errors=True)
    return template, secret.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def superset(tmp_path_factory):
    """A Superset server on 127.0.0.1 with a fresh SQLite metadata database; stopped afterwards."""
    started = time.monotonic()
    env_bin = bi_env("superset") / "bin"
    home = tmp_path_factory.mktemp("superset-home")
    env = {
        **os.environ,
        "SUPERSET_HOME": str(home),
        "FLASK_APP": "superset",
        "SUPERSET_CONFIG_PATH": str(REPO / "bi" / "superset" / "superset_config.py"),
        "SUPERSET_SECRET_KEY": secrets.token_hex(24),
        "PYTHONWARNINGS": "ignore",
    }
    template, password = metadata_template(env_bin, env)
    shutil.copyfile(template, home / "superset.db")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(home / "server.log", "w")
    server = subprocess.Popen(
        [str(env_bin / "superset"), "run", "-h", "127.0.0.1", "-p", str(port), "--with-threads"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, (home / "server.log").read_text()[-3000:]
            try:
                if requests.get(url + "/health", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "Superset did not answer /health within 180 s"
            time.sleep(1)
        print(f"\nSuperset set up and started in {time.monotonic() - started:.0f} s at {url}")
        yield url, env_bin, home, password
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def api(superset):
    return Superset(superset[0], ADMIN, superset[3])


def sql_lab(api: Superset, database_id: int, sql: str) -> tuple[int, dict]:
    response = api.request(
        "POST",
        "/api/v1/sqllab/execute/",
        json={
            "database_id": database_id,
            "sql": sql,
            "runAsync": False,
            "schema": None,
            "tab": "test",
            "client_id": secrets.token_hex(5),
            "queryLimit": 1000,
        },
    )
    return response.status_code, response.json()


def error_text(body: dict) -> str:
    return " ".join(e.get("message", "") for e in body.get("errors", [])) or body.get("error", "") or json.dumps(body)


def register(api: Superset, name: str, uri: str, allow_dml: bool = False, extra: dict | None = None) -> int:
    body = {"database_name": name, "sqlalchemy_uri": uri, "expose_in_sqllab": True, "allow_dml": allow_dml}
    if extra is not None:
        body["extra"] = json.dumps(extra)
    return api.call("POST", "/api/v1/database/", json=body)["id"]


@pytest.fixture(scope="module")
def recipe_db(api, warehouse):
    root, link, _ = warehouse
    uri = SQLALCHEMY_URI.replace("/abs/path/warehouse/chengyu.duckdb", str(link))
    # The recipe as an analyst enters it (Superset's default: DML not allowed) ...
    safe = register(api, "chengyu (README recipe)", uri)
    # ... and the same connection with "Allow DML" ticked, to show that DuckDB itself refuses.
    dml = register(api, "chengyu (recipe, DML allowed)", uri, allow_dml=True)
    return safe, dml


def test_sql_lab_reads_through_the_recipe(api, recipe_db):
    status, body = sql_lab(api, recipe_db[0], "select count(*) as n from marts.dim_area")
    assert status == 200, body
    assert body["status"] == "success" and body["data"] == [{"n": 16}]
    schemas = api.call("GET", f"/api/v1/database/{recipe_db[0]}/schemas/")["result"]
    # duckdb_engine names schemas <catalog>.<schema>; the catalog is the file name opened: the
    # symlink's (chengyu), not the version file's, so saved queries and datasets survive a publish.
    assert "chengyu.marts" in schemas


@pytest.mark.parametrize("which", ["recipe", "recipe with DML allowed"])
def test_sql_lab_refuses_writes_and_file_access(api, recipe_db, warehouse, which):
    root, link, _ = warehouse
    before = sha256(link.resolve())
    database_id = recipe_db[0] if which == "recipe" else recipe_db[1]
    statements = probes(root)
    for name, statement in statements.items():
        if name == "read":
            continue
        status, body = sql_lab(api, database_id, statement)
        assert status != 200 or body.get("status") != "success", f"{which}: {name} was allowed: {body}"
        message = error_text(body)
        # superset_config.py's guard (sql_guard, as `chengyu sql`) refuses before DuckDB sees it;
        # with "Allow DML" off, Superset's own DML check may come first.
        if name in ("create", "delete"):
            expected = ("statements are not reads", "does not allow for DDL/DML")
        elif name in ("read_text", "read_csv"):
            expected = (f"cannot call {name}",)
        else:  # COPY ... TO, ATTACH, SET: not counted as DML by Superset, not reads for the guard
            expected = ("statements are not reads",)
        assert any(e in message for e in expected), (which, name, message)
    assert sha256(link.resolve()) == before
    assert not (root / "warehouse" / "leak.csv").exists()
    assert sorted(p.name for p in (root / "warehouse").iterdir()) == ["chengyu.duckdb", "versions"]


def test_dataset_and_chart_data(api, recipe_db):
    dataset = api.call(
        "POST",
        "/api/v1/dataset/",
        json={"database": recipe_db[0], "schema": "marts", "table_name": "fct_sector_output"},
    )["id"]
    columns = {c["column_name"] for c in api.call("GET", f"/api/v1/dataset/{dataset}")["result"]["columns"]}
    assert {"area_code", "sector_code", "year", "output_value_yuan", "basis"} <= columns
    metric = {"expressionType": "SQL", "sqlExpression": "sum(output_value_yuan)", "label": "output"}
    body = api.call(
        "POST",
        "/api/v1/chart/data",
        json={
            "datasource": {"id": dataset, "type": "table"},
            "queries": [{"columns": ["year"], "metrics": [metric], "orderby": [["year", True]], "row_limit": 100}],
            "result_format": "json",
            "result_type": "full",
        },
    )
    rows = body["result"][0]["data"]
    assert [r["year"] for r in rows] == list(range(2015, 2024))
    assert all(r["output"] > 0 for r in rows)


def test_planners_dashboard_imports_renders_and_every_chart_has_data(api, superset, warehouse):
    url, env_bin, home, password = superset
    root, link, build_id = warehouse
    import_dashboard(api, link)
    dashboard = api.call("GET", "/api/v1/dashboard/chengyu-planners")["result"]
    charts = api.call("GET", "/api/v1/dashboard/chengyu-planners/charts")["result"]
    names = {c["slice_name"] for c in charts}
    assert names == {
        "Who is specialised in what (LQ, latest year)",
        "Which areas duplicate each other (latest year)",
        "Gap to Jiangsu and Zhejiang (GDP ratio)",
        "Coordination of Sichuan and Chongqing over time",
        "Data as of",
        "LQ with its 90 % interval (latest year)",
    }
    expected = lq_cells(link)
    for chart in charts:
        data = api.call("GET", f"/api/v1/chart/{chart['id']}/data/")["result"][0]
        assert data["rowcount"] > 0, (chart["slice_name"], data)
        if chart["slice_name"] == "Data as of":
            row = data["data"][0]
            assert row["build_id"] == build_id
            assert row["built_at_utc"].endswith(" UTC") and row["data_period"] == "2015-2023", row
        if chart["slice_name"].startswith("Who is specialised"):
            # Only cells with an area-specific basis carry a colour; the others are grey (no value).
            shown = {
                (r["area"].split()[-1], r["division_zh"].split()[0]): r["Location quotient"]
                for r in data["data"]
                if r["Location quotient"] is not None
            }
            assert shown.keys() == {k for k, v in expected.items() if v[1] is not None}
            assert all(abs(shown[k] - expected[k][0]) < 1e-9 for k in shown)
        if chart["slice_name"].startswith("LQ with its 90 % interval"):
            assert len(data["data"]) == len(expected) == 8 * 9  # every member area x division
            for r in data["data"]:
                key = (r["area"].split()[-1], r["division"].split()[0])
                # A grey cell says why; a coloured one has its interval around the value.
                assert (r["no_value_reason"] is not None) == (expected[key][1] is None), r
                if r["location_quotient"] is not None and r["lq_p5"] is not None:
                    assert r["lq_p5"] <= r["lq_p95"], r
    # The dashboard's database entry is the README recipe, pointed at this warehouse.
    database = next(
        d
        for d in api.call("GET", "/api/v1/database/?q=(page_size:100)")["result"]
        if d["database_name"] == "Chengdu-Chongqing warehouse"
    )
    uri = api.call("GET", f"/api/v1/database/{database['id']}/connection")["result"]["sqlalchemy_uri"]
    assert uri == SQLALCHEMY_URI.replace("/abs/path/warehouse/chengyu.duckdb", str(link))

    assert shutil.which("chromium") and shutil.which("chromedriver"), (
        "headless rendering needs Debian's chromium and chromium-driver (.ci/run installs them)"
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    png = ARTIFACTS / "superset_planners_dashboard.png"
    png.unlink(missing_ok=True)
    out = subprocess.run(
        [
            str(env_bin / "python"),
            str(REPO / "tests" / "superset_screenshot.py"),
            url,
            ADMIN,
            password,
            f"/superset/dashboard/{dashboard['id']}/",
            str(png),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    shown = json.loads(out.stdout)
    rendered = shown["charts"]
    print(f"\nscreenshot of the dashboard: {png} (waited {shown['waited']} for the charts)")
    # The note on grey cells and C39 is a markdown holder; the six others are charts.
    notes = [c for c in rendered if c["text"].startswith("How to read this dashboard")]
    assert len(notes) == 1 and "C39" in notes[0]["text"], rendered
    rendered = [c for c in rendered if c not in notes]
    assert len(rendered) == 6, rendered
    for chart in rendered:
        assert not chart["error"] and not chart["loading"], chart
        assert chart["canvas"] or chart["table_rows"], chart  # ECharts draw on a canvas, tables have rows
    assert png.stat().st_size > 50_000


def lq_cells(link: Path) -> dict[tuple[str, str], tuple[float | None, bool | None]]:
    """(English area name's last word, division code) -> (LQ, is_specialised) in the latest year, read
    from the warehouse directly: what the dashboard's LQ charts must show."""
    con = duckdb.connect(str(link), read_only=True)
    try:
        rows = con.execute("""
            select a.name_en, s.sector_code, s.location_quotient, s.is_specialised
            from marts.fct_area_sector_specialization as s join marts.dim_area as a using (area_code)
            where s.reference = 'cluster8' and s.year = (select max(year) from marts.fct_area_sector_specialization)
        """).fetchall()
    finally:
        con.close()
    return {(name.split()[-1], sector): (lq, flag) for name, sector, lq, flag in rows}


def test_postgres_copy_through_superset(api, built):
    with postgres_server() as dsn:
        result = built.run("publish-postgres", "--dsn", dsn)
        assert result.returncode == 0, result.stdout + result.stderr
        with psycopg.connect(dsn, autocommit=True) as pg:
            pg.execute("create role superset_bi login")
            pg.execute("grant chengyu_reader to superset_bi")
        params = dict(part.split("=", 1) for part in dsn.split())
        uri = f"postgresql+psycopg2://superset_bi@{params['host']}:{params['port']}/{params['dbname']}"
        database_id = register(api, "chengyu (PostgreSQL copy)", uri, allow_dml=True)
        status, body = sql_lab(api, database_id, "select count(*) as n from chengyu.fct_sector_output")
        assert status == 200 and body["data"] == [{"n": 648}], body
        leak = Path("/tmp") / f"chengyu-leak-{secrets.token_hex(4)}.csv"
        refusals = {
            "delete from chengyu.dim_area": "permission denied",
            "create table chengyu.zz_probe (x int)": "permission denied",
            "select pg_read_file('/etc/hostname')": ("permission denied", "pg_read_file"),
            f"copy (select 1) to '{leak}'": ("permission denied", "must be superuser"),
            "create temp table t (line text); copy t from '/etc/hostname'": ("permission denied", "must be superuser"),
        }
        for statement, words in refusals.items():
            status, body = sql_lab(api, database_id, statement)
            assert status != 200 or body.get("status") != "success", f"{statement} was allowed: {body}"
            words = (words,) if isinstance(words, str) else words
            assert any(w in error_text(body) for w in words), (statement, error_text(body))
        assert not leak.exists()
        with psycopg.connect(dsn) as pg:
            assert pg.execute("select count(*) from chengyu.dim_area").fetchone()[0] == 16


# ---- issue 26 item 2: a Superset that SQL Lab cannot crash or make write -----------------------

# Each attack as a user types it into SQL Lab. Under the documented read-only settings the
# first two abort DuckDB at the next statement (C++ terminate), taking the server with them.
ATTACKS = {
    "call enable_logging": "CALL enable_logging('QueryLog', storage='file', storage_path='qlog')",
    "select enable_logging": "select * from enable_logging(storage='file', storage_path='qlog2')",
    "enable_logging in a subquery": "select * from marts.dim_area where 0 < (select count(*) from enable_logging())",
    "temp macro around it": "create temp macro m() as table select * from enable_logging(storage='file', "
    "storage_path='qlog3')",
    "checkpoint": "select * from checkpoint()",
    "sql from text": "select * from query('select 1')",
    "serialized sql": "select * from json_execute_serialized_sql(json_serialize_sql('select 1'))",
    "import_database": "pragma import_database('/etc')",
    "profiling": "pragma enable_profiling",
}


@pytest.fixture(scope="module")
def plain_path_db(api, warehouse):
    """The warehouse registered by its plain path, no settings, with "Allow DML" on: what an
    admin who skips the README does."""
    root, link, _ = warehouse
    return register(api, "chengyu (plain path, DML allowed)", f"duckdb:///{link}", allow_dml=True)


def _health(superset) -> int:
    return requests.get(superset[0] + "/health", timeout=30).status_code


@pytest.mark.parametrize("which", ["recipe", "recipe with DML allowed", "plain path with DML allowed"])
def test_sql_lab_cannot_crash_superset(api, superset, recipe_db, plain_path_db, warehouse, which):
    root, link, _ = warehouse
    before = sha256(link.resolve())
    database_id = {
        "recipe": recipe_db[0],
        "recipe with DML allowed": recipe_db[1],
        "plain path with DML allowed": plain_path_db,
    }[which]
    for name, statement in ATTACKS.items():
        status, body = sql_lab(api, database_id, statement)
        assert status != 200 or body.get("status") != "success", f"{which}: {name} was allowed: {body}"
        message = error_text(body)
        assert "refused" in message or "does not allow for DDL/DML" in message, (which, name, message)
        # The statement after an enable_logging is the one that aborted the process.
        status, body = sql_lab(api, database_id, "select count(*) as n from marts.dim_area")
        assert status == 200 and body["data"] == [{"n": 16}], (which, name, body)
        assert _health(superset) == 200, f"{which}: Superset stopped answering after {name}"
    assert sha256(link.resolve()) == before
    for folder in (Path.cwd(), Path(superset[2])):  # the server's working folder and its home
        assert not list(folder.glob("qlog*")), "enable_logging made its log folder"
    assert sorted(p.name for p in (root / "warehouse").iterdir()) == ["chengyu.duckdb", "versions"]


def test_a_warehouse_registered_by_plain_path_is_opened_read_only(api, plain_path_db, warehouse):
    """superset_config.py opens every DuckDB database as a reader, whatever URI was registered:
    read-only, external access off, configuration locked (issue 26, case 5)."""
    root, link, _ = warehouse
    before = sha256(link.resolve())
    status, body = sql_lab(
        api,
        plain_path_db,
        "select current_setting('access_mode') as mode, "
        "current_setting('enable_external_access') as ext, "
        "current_setting('lock_configuration') as locked",
    )
    assert status == 200 and body["data"] == [{"mode": "read_only", "ext": False, "locked": True}], body
    for name, statement in probes(root).items():
        if name == "read":
            continue
        status, body = sql_lab(api, plain_path_db, statement)
        assert status != 200 or body.get("status") != "success", f"plain path: {name} was allowed: {body}"
        assert "refused" in error_text(body), (name, error_text(body))
    assert sha256(link.resolve()) == before
    assert not (root / "warehouse" / "leak.csv").exists()
