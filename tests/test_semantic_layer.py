"""MetricFlow semantic layer: the configs validate against a built warehouse, and a
metric queried through `mf query` equals the same number computed in SQL."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

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
    result = mf(built, env, "query", "--metrics", "sector_output_yuan,sector_output_growth,not_reported_output_share",
                "--group-by", "metric_time__year,area__name_en",
                "--where", "{{ Dimension('area__name_en') }} = 'Deyang'", "--csv", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {r["metric_time__year"][:4]: r for r in csv.DictReader(out.open(encoding="utf-8")) if r["sector_output_yuan"]}
    con = duckdb.connect(str(copy), read_only=True)
    try:
        totals = dict(con.execute("""
            select year, sum(output_value_yuan) from marts.fct_sector_output
            where area_code = '510600' group by year
        """).fetchall())
    finally:
        con.close()
    assert sorted(int(y) for y in rows) == sorted(totals)
    for year, total in totals.items():
        assert float(rows[str(year)]["sector_output_yuan"]) == pytest.approx(total, rel=1e-9)
        assert float(rows[str(year)]["not_reported_output_share"]) == pytest.approx(1.0)
    # Growth on the previous year, computed independently from the yearly totals.
    assert float(rows["2016"]["sector_output_growth"]) == pytest.approx(totals[2016] / totals[2015] - 1, rel=1e-9)
    assert rows["2015"]["sector_output_growth"] == ""
