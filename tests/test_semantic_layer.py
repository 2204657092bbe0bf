"""MetricFlow semantic layer: the configs validate against a built warehouse, and a
metric queried through `mf query` equals the same number computed in SQL."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from conftest import sha256, workspace_with_published

MF = str(Path(sys.executable).parent / "mf")


@pytest.fixture(scope="module")
def semantic_env(built, tmp_path_factory):
    # mf opens the database read-write: give it a copy with the published file's name.
    copy = tmp_path_factory.mktemp("mf") / built.published.name
    shutil.copy2(built.published, copy)
    return built.env(CHENGYU_DBT_DATABASE=str(copy)), copy


def mf(built, env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([MF, *args], cwd=built.project, env=env, capture_output=True, text=True, timeout=600)


def test_semantic_configs_validate(built, semantic_env):
    env, _ = semantic_env
    result = mf(built, env, "validate-configs")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Successfully validated metrics against data warehouse" in result.stdout


def test_metric_query_matches_sql(built, semantic_env, tmp_path):
    env, copy = semantic_env
    out = tmp_path / "deyang.csv"
    result = mf(
        built,
        env,
        "query",
        "--metrics",
        "sector_output_yuan,sector_output_growth,not_reported_output_share",
        "--group-by",
        "metric_time__year,area__name_en",
        "--where",
        "{{ Dimension('area__name_en') }} = 'Deyang'",
        "--csv",
        str(out),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {
        r["metric_time__year"][:4]: r for r in csv.DictReader(out.open(encoding="utf-8")) if r["sector_output_yuan"]
    }
    con = duckdb.connect(str(copy), read_only=True)
    try:
        totals = dict(
            con.execute("""
            select year, sum(output_value_yuan) from marts.fct_sector_output
            where area_code = '510600' group by year
        """).fetchall()
        )
    finally:
        con.close()
    assert sorted(int(y) for y in rows) == sorted(totals)
    for year, total in totals.items():
        assert float(rows[str(year)]["sector_output_yuan"]) == pytest.approx(total, rel=1e-9)
        assert float(rows[str(year)]["not_reported_output_share"]) == pytest.approx(1.0)
    # Growth on the previous year, computed independently from the yearly totals.
    assert float(rows["2016"]["sector_output_growth"]) == pytest.approx(totals[2016] / totals[2015] - 1, rel=1e-9)
    assert rows["2015"]["sector_output_growth"] == ""


def test_metrics_read_the_published_file_read_only(built, tmp_path):
    # A fresh copy with a copy of the published file and no target/ yet: `chengyu metrics`
    # must parse the project for the published target itself, then query it.
    ws = workspace_with_published(built, tmp_path)
    before = sha256(ws.published)
    out = tmp_path / "chengdu.csv"
    # A reader holds the file for the whole run: a MetricFlow that opened it for writing
    # would fail on DuckDB's file lock.
    holder = duckdb.connect(str(ws.published), read_only=True)
    try:
        writer = subprocess.run(
            [sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1])", str(ws.published)],
            capture_output=True,
            text=True,
        )
        assert writer.returncode != 0 and "lock" in writer.stderr.lower(), "the lock premise must hold"
        result = ws.run(
            "metrics",
            "query",
            "--metrics",
            "sector_output_yuan",
            "--group-by",
            "metric_time__year,area__name_en",
            "--where",
            "{{ Dimension('area__name_en') }} = 'Chengdu'",
            "--csv",
            str(out),
            timeout=600,
        )
        totals = dict(
            holder.execute("""
            select year, sum(output_value_yuan) from marts.fct_sector_output
            where area_code = '510100' group by year
        """).fetchall()
        )
    finally:
        holder.close()
    assert result.returncode == 0, result.stdout + result.stderr
    assert sha256(ws.published) == before
    assert not (ws.warehouse / "dev.duckdb").exists() and not (ws.project / "warehouse" / "dev.duckdb").exists()
    rows = {
        r["metric_time__year"][:4]: float(r["sector_output_yuan"])
        for r in csv.DictReader(out.open(encoding="utf-8"))
        if r["sector_output_yuan"]
    }
    # Nine panel years, 2015..2023, each the sum of Chengdu's nine divisions.
    assert sorted(rows) == [str(y) for y in range(2015, 2024)] == sorted(str(y) for y in totals)
    for year, total in totals.items():
        assert rows[str(year)] == pytest.approx(total, rel=1e-9)
    manifest = json.loads((ws.project / "target" / "semantic_manifest.json").read_text(encoding="utf-8"))
    assert {m["node_relation"]["database"] for m in manifest["semantic_models"]} == {"chengyu"}


def test_published_target_refuses_writes(built, tmp_path):
    # The profile's `published` target is what MetricFlow and `dbt compile` use on the
    # published file: a dbt command that writes must fail there, and leave the file as it was.
    ws = workspace_with_published(built, tmp_path)
    before = sha256(ws.published)
    code = (
        "import sys; from dbt.cli.main import dbtRunner; sys.exit(0 if dbtRunner().invoke(sys.argv[1:]).success else 1)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, "run", "--select", "dim_year", "--project-dir", str(ws.project)],
        cwd=ws.project,
        env=ws.env(DBT_TARGET="published"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode != 0
    assert "read-only" in (result.stdout + result.stderr)
    assert sha256(ws.published) == before


def test_metrics_query_prints_years_and_plain_decimals(built):
    # Issue 26 item 7: years printed as 2015-01-01T00:00:00, values as 3.86254e+11, a spinner
    # in a pipe, and 8 empty 2024 rows (growth's one-year offset joined through a time
    # spine running to 2030).
    result = built.run(
        "metrics",
        "query",
        "--metrics",
        "sector_output_yuan,sector_output_growth",
        "--group-by",
        "metric_time__year",
        "--order",
        "metric_time__year",
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    header, _rule, *rows, count = result.stdout.splitlines()
    assert [c.strip() for c in header.split(" | ")] == [
        "metric_time__year",
        "sector_output_yuan",
        "sector_output_growth",
    ]
    cells = [[c.strip() for c in row.split(" | ")] for row in rows]
    # The nine panel years and nothing after them.
    assert [c[0] for c in cells] == [str(y) for y in range(2015, 2024)] and count == "(9 rows)"
    assert "e+" not in result.stdout and "\r" not in result.stdout + result.stderr
    assert cells[0][2] == "NULL"  # 2015 has no year before it in the panel
    con = duckdb.connect(str(built.published), read_only=True)
    try:
        totals = dict(
            con.execute("select year, sum(output_value_yuan) from marts.fct_sector_output group by year").fetchall()
        )
    finally:
        con.close()
    for year, output, _growth in cells:
        assert float(output) == pytest.approx(totals[int(year)], rel=1e-12)
    # growth 2016 = total 2016 / total 2015 - 1
    assert float(cells[1][2]) == pytest.approx(totals[2016] / totals[2015] - 1, rel=1e-9)


def test_an_unknown_metric_is_one_line_and_exit_8(built):
    result = built.run("metrics", "query", "--metrics", "nosuch", "--group-by", "metric_time__year")
    assert result.returncode == 8, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no metric named nosuch" in lines[0] and "sector_output_yuan" in lines[0], lines
