"""Every analysis compiles with dbt and runs against a built warehouse."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys

import duckdb
import pytest

from chengyu_cluster.access.analyses import AnalysisError, find_analysis, relation_schemas, render

from conftest import sha256

ANALYSES = [
    "q1_area_leading_sectors",
    "q2_duplicated_area_pairs",
    "q3_vehicle_chain_coordination",
    "q4_gap_to_jiangsu_zhejiang",
    "q5_coupling_coordination_trend",
]


@pytest.fixture(scope="module")
def compiled(built, tmp_path_factory):
    # Compile against an empty database of the same name (refs compile to "chengyu".marts.x),
    # so that the published file is never opened for writing.
    scratch = tmp_path_factory.mktemp("compile") / "chengyu.duckdb"
    target = tmp_path_factory.mktemp("target")
    env = dict(os.environ, CHENGYU_DBT_DATABASE=str(scratch), DBT_PROFILES_DIR=str(built.project))
    code = (
        "import sys; from dbt.cli.main import dbtRunner; "
        "r = dbtRunner().invoke(sys.argv[1:]); sys.exit(0 if r.success else 1)"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "compile",
            "--project-dir",
            str(built.project),
            "--select",
            "analyses/*",
            "--target-path",
            str(target),
            "--quiet",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return target / "compiled" / "chengyu_cluster" / "analyses"


@pytest.mark.parametrize("name", ANALYSES)
def test_analysis_compiles_and_runs(built, compiled, name):
    sql = (compiled / f"{name}.sql").read_text(encoding="utf-8")
    source = (built.project / "analyses" / f"{name}.sql").read_text(encoding="utf-8")
    assert source.startswith("-- Question"), "each analysis opens with the question it answers"
    assert "How to read it" in source
    con = duckdb.connect(str(built.published), read_only=True)
    try:
        frame = con.execute(sql).df()
    finally:
        con.close()
    assert len(frame) > 0


def test_claims_verdicts_cover_every_claim(built, compiled):
    con = duckdb.connect(str(built.published), read_only=True)
    try:
        frame = con.execute((compiled / "q1_area_leading_sectors.sql").read_text(encoding="utf-8")).df()
    finally:
        con.close()
    assert len(frame) == 20  # the report names 20 product lines (seeds/area_specialties.csv)
    assert set(frame.verdict) <= {"supported", "contradicted", "undetermined"}
    assert frame.rests_on_estimates.all()


# --- chengyu analyses: the same questions, run read-only against the published file ---


def dbt_without_catalog(sql: str) -> str:
    """dbt's "catalog"."schema"."name" written as schema.name, as chengyu analyses renders it."""
    return re.sub(r'"[^"]+"\."([^"]+)"\."([^"]+)"', r"\1.\2", sql)


@pytest.mark.parametrize("name", ANALYSES)
def test_rendering_equals_dbt_compile_without_catalog(built, compiled, name):
    analysis = find_analysis(built.project, name)
    con = duckdb.connect(str(built.published), read_only=True)
    try:
        ours = render(analysis, relation_schemas(con))
    finally:
        con.close()
    dbt_sql = (compiled / f"{name}.sql").read_text(encoding="utf-8")
    assert '"chengyu"."marts".' in dbt_sql  # dbt bakes the catalog in; the comparison must remove it
    assert "chengyu." not in ours and "{{" not in ours
    assert ours.strip() == dbt_without_catalog(dbt_sql).strip()


def test_list_names_every_question(built):
    result = built.run("analyses")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line[:1] == "q"]
    assert [line.split()[0] for line in lines] == ["q1", "q2", "q3", "q4", "q5"]
    # The question of q1 spans two comment lines in the file; the list shows it on one.
    assert (
        "which divisions does each area lead, and which of the news report's claims does the data "
        "support or contradict?" in lines[0]
    )
    assert "does Chongqing assemble vehicles while Sichuan supplies the parts?" in lines[2]


def test_run_reads_the_published_file_only(built):
    before = sha256(built.published)
    # A reader holds the published file: a process that opened it for writing would fail
    # on DuckDB's file lock, so a run that succeeds here opened it read-only.
    holder = duckdb.connect(str(built.published), read_only=True)
    try:
        writer = subprocess.run(
            [sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1])", str(built.published)],
            capture_output=True,
            text=True,
        )
        assert writer.returncode != 0 and "lock" in writer.stderr.lower(), "the lock premise must hold"
        result = built.run("analyses", "q3", "--format", "csv")
        coupling = built.run("analyses", "q5_coupling_coordination_trend", "--format", "json")
        expected_d = dict(
            holder.execute(
                "select year, round(coordination_degree_classic, 3) from marts.fct_cluster_coupling"
            ).fetchall()
        )
    finally:
        holder.close()
    assert sha256(built.published) == before
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    # Two provinces x the nine panel years 2015..2023 = 18 rows.
    assert len(rows) == 18
    assert {r["province"] for r in rows} == {"Sichuan", "Chongqing"}
    for row in rows:
        # components_per_assembly is components / assembly rounded to 0.01, e.g. Chongqing
        # 2015: 1439.0 / 745.4 = 1.9305 -> 1.93; the printed inputs are rounded to 0.1,
        # which moves the quotient by far less than 0.01.
        ratio = float(row["components_100m_yuan"]) / float(row["assembly_100m_yuan"])
        assert abs(float(row["components_per_assembly"]) - ratio) < 0.01
    assert coupling.returncode == 0, coupling.stderr
    years = json.loads(coupling.stdout)
    assert [y["year"] for y in years] == list(range(2015, 2024))
    assert {y["year"]: y["d_classic"] for y in years} == expected_d


def test_unknown_analysis_is_refused_with_the_list(built):
    result = built.run("analyses", "q9")
    assert result.returncode == 8
    assert "no analysis 'q9'" in result.stderr and "q1, q2, q3, q4, q5" in result.stderr


def test_an_analysis_beyond_ref_fails_loudly(tmp_path):
    (tmp_path / "analyses").mkdir()
    path = tmp_path / "analyses" / "q9_uses_var.sql"
    path.write_text(
        "-- Question 9: what if?\nselect {{ var('panel_end_year') }} from {{ ref('dim_year') }}\n", encoding="utf-8"
    )
    analysis = find_analysis(tmp_path, "q9")
    assert analysis.question == "what if?"
    with pytest.raises(AnalysisError, match="other than ref"):
        render(analysis, {"dim_year": ["marts"]})
    path.write_text("select * from {{ ref('dim_nowhere') }}\n", encoding="utf-8")
    with pytest.raises(AnalysisError, match="in no schema"):
        render(analysis, {"dim_year": ["marts"]})


def test_listing_needs_no_warehouse_and_running_says_to_build(workspace):
    listing = workspace.run("analyses")
    assert listing.returncode == 0 and "q5" in listing.stdout
    result = workspace.run("analyses", "q3")
    assert result.returncode == 8
    assert "no published warehouse" in result.stderr and "make build" in result.stderr
    metrics = workspace.run("metrics", "query", "--metrics", "sector_output_yuan")
    assert metrics.returncode == 8 and "make build" in metrics.stderr
