"""The whole build from a temporary copy of the repository, and what it publishes."""

from __future__ import annotations

import duckdb
import pytest


@pytest.fixture(scope="module")
def con(built):
    connection = duckdb.connect(str(built.internal), read_only=True)
    yield connection
    connection.close()


def test_build_publishes_and_prints_a_summary(built, con):
    assert built.published.exists()
    out = built.build_output
    assert "Published" in out
    assert "figures rejected: 0" in out
    # The summary's count is the published table's (no count of the shipped seeds hard-coded here).
    n_fact = con.execute("select count(*) from marts.fct_reported_figures").fetchone()[0]
    assert f"fct_reported_figures: {n_fact} rows" in out
    assert "data tests passed" in out and "Great Expectations shift checks" in out
    # dbt's unit tests run in `make dbt-unit`, not in every build (dbt_build.py).
    assert "unit tests passed" not in out
    # No candidate file is left behind after a successful build.
    assert not list(built.warehouse.glob("versions/chengyu.candidate-*"))


def test_the_reader_and_dbt_seed_load_the_shipped_seeds_identically(built, tmp_path):
    # `chengyu build` loads the seeds with its own reader; a developer's plain `dbt seed`
    # uses dbt's CSV loader. For the shipped files both must give the same typed tables.
    import subprocess
    import sys

    dev = tmp_path / "dev.duckdb"
    code = (
        "import sys; from dbt.cli.main import dbtRunner; sys.exit(0 if dbtRunner().invoke(sys.argv[1:]).success else 1)"
    )
    # Its own target path: the shared workspace's target/ (semantic manifest) stays as the build left it.
    seeded = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "seed",
            "--quiet",
            "--project-dir",
            str(built.project),
            "--target-path",
            str(tmp_path / "target"),
        ],
        env=built.env(CHENGYU_DBT_DATABASE=str(dev)),
        capture_output=True,
        text=True,
    )
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    con = duckdb.connect(str(dev), read_only=True)
    try:
        con.execute(f"attach '{built.internal}' as published (read_only)")
        seeds = [
            t
            for (t,) in con.execute(
                "select table_name from duckdb_tables() where database_name = 'dev' "
                "and schema_name = 'raw' and table_name not in "
                "('user_sector_output', 'load_audit', 'build_context') "
                "order by 1"
            ).fetchall()
        ]
        assert seeds == sorted(p.stem for p in (built.project / "seeds").glob("*.csv"))
        for table in seeds:
            for a, b in (("dev", "published"), ("published", "dev")):
                extra = con.execute(
                    f"select count(*) from (select * from {a}.raw.{table} except all select * from {b}.raw.{table})"
                ).fetchone()[0]
                assert extra == 0, (table, a)
            types = con.execute(
                f"select database_name, list(data_type order by column_index) from duckdb_columns() "
                f"where schema_name = 'raw' and table_name = '{table}' group by 1"
            ).fetchall()
            assert len({str(t) for _, t in types}) == 1, types
    finally:
        con.close()


def test_every_kept_figure_names_its_reliability(con):
    # Kept or rejected, never both nor neither: the dbt test assert_every_figure_accounted_for;
    # source_id: a not_null constraint of the contract. reliability has accepted values only
    # (which let NULL pass), so its presence is checked here.
    assert con.execute("select count(*) from marts.fct_reported_figures where reliability is null").fetchone()[0] == 0


def test_known_conflicts_are_listed_with_both_sources(con):
    rows = con.execute("""
        select area_code, metric_code, year, figure_id_a, figure_id_b
        from marts.audit_figure_conflicts order by area_code
    """).fetchall()
    # Chongqing 2016 GDP: 17558.76 (F0062) vs 17741 (F0135), 1.0 % apart;
    # Zhejiang 2020 GDP: 65000 rounded (F0107) vs 64613 (F0109), 0.6 % apart.
    assert ("500000", "gdp", 2016, "F0062", "F0135") in rows
    assert ("330000", "gdp", 2020, "F0107", "F0109") in rows
    # Chengdu 2017 GDP appears twice with the same value: a duplicate, not a conflict.
    assert not [r for r in rows if r[0] == "510100"]


def test_best_value_takes_an_exact_figure_a_more_reliable_rounded_one_confirms(con):
    # Zhejiang 2020 GDP: F0107 (medium, "6.5万亿", rounded to the thousand: 64500-65500) and
    # F0109 (low, exact 64613). 64613 lies within F0107's rounding, so F0107 confirms it and
    # the exact figure is chosen with F0107's reliability.
    chosen, n = con.execute("""
        select chosen_figure_id, n_competing_figures from marts.fct_area_indicators
        where area_code = '330000' and metric_code = 'gdp' and year = 2020
    """).fetchone()
    assert (chosen, n) == ("F0109", 2)


def test_original_value_and_unit_kept_beside_the_normalised_one(con):
    row = con.execute("""
        select value_original, unit_original, value_base, base_unit, value_qualifier
        from marts.fct_reported_figures where figure_id = 'F0217'
    """).fetchone()
    # "will exceed 1.4 trillion yuan": 1.4 万亿元 = 1.4 x 10^12 yuan, a lower bound.
    assert row == (1.4, "万亿元 (stated 'will exceed 1.4 trillion yuan')", 1.4e12, "yuan", "lower_bound")


def test_staging_views_work_in_the_internal_file(con):
    # Views name their catalog; the internal file must keep the name they were built with.
    assert (
        con.execute("select count(*) from staging.stg_reported__figures").fetchone()[0]
        == con.execute("select count(*) from raw.reported_figures").fetchone()[0]
        > 0
    )


def test_descriptions_are_persisted_as_comments(con):
    table_comment = con.execute(
        "select comment from duckdb_tables() where schema_name = 'marts' and table_name = 'fct_sector_output'"
    ).fetchone()[0]
    assert table_comment and "estimated" in table_comment
    missing = con.execute("""
        select table_name, column_name from duckdb_columns()
        where schema_name = 'marts' and (comment is null or comment = '')
    """).fetchall()
    assert missing == []


def test_no_estimated_value_is_labelled_reported(con):
    # A cell is reported only when a user supplied it; the shipped build supplies none.
    assert con.execute("select count(*) from marts.fct_sector_output where basis = 'reported'").fetchone()[0] == 0
    for table in (
        "fct_area_sector_specialization",
        "fct_area_pair_structure",
        "fct_sector_concentration",
        "fct_area_shift_share",
        "fct_cluster_coupling",
    ):
        bad = con.execute(
            f"select count(*) from marts.{table} where estimated_input_share > 0 and basis <> 'estimated'"
        ).fetchone()[0]
        assert bad == 0, table


def test_panel_reconciles_to_reported_totals(con):
    # Each exact total within its tolerance and each lower bound held as a bound: the dbt test
    # assert_panel_reconciles. Here: which reported totals the audit covers.
    rows = con.execute("select figure_id, value_qualifier from marts.audit_sector_output_reconciliation").fetchall()
    # F0224: Sichuan 2021 '1.2 万亿元', a target: listed, not fitted (audit_panel_constraints).
    # F0038's scope is unstated (automobiles may be excluded): not a total the panel reproduces.
    assert {r[0] for r in rows} == {"F0039", "F0217", "F0224"}
    # The lower bound ('exceed') is audited as a bound, not as a point.
    assert {r[0] for r in rows if r[1] == "lower_bound"} == {"F0217"}


def test_every_figure_bearing_on_the_panel_is_a_constraint_with_its_residual(con):
    rows = con.execute("""
        select constraint_id, is_hard, status, is_met, residual, sense
        from marts.audit_panel_constraints
    """).fetchall()
    by_id = {r[0]: r for r in rows}
    # The figures: ex-automobile revenue (F0043-F0045), the narrow and automobile
    # 2022 totals (F0071, F0073), the 2020 growth (F0218), the two lower bounds.
    for fid in ("F0038", "F0039", "F0043", "F0044", "F0045", "F0071", "F0073", "F0217", "F0218"):
        assert by_id[fid][2] == "fitted" and by_id[fid][4] is not None, fid
    assert by_id["F0038"][5] == ">=" and by_id["F0217"][5] == ">="
    # Above-scale enterprises without motorcycles: a hard lower bound of the narrow divisions.
    assert by_id["F0067"][5] == ">=" and by_id["F0067"][1] is True
    # As an equality F0067 held the narrow output down and F0044 (4,626 亿) missed its 15 %.
    assert by_id["F0044"][3] is True
    # Every hard constraint met: the dbt test assert_hard_panel_constraints_met.
    # Electronics figures cannot be fitted (C39 is NULL).
    assert by_id["F0072"][2].startswith("not evaluable")
    assert by_id["F0078"][2].startswith("not fitted")  # a target
    assert by_id["F0224"][2].startswith("not fitted: a target")
    # Figures that bound the panel only loosely are fitted as soft upper bounds, not left out.
    for fid in ("F0031", "F0075", "F0076", "F0077", "F0169"):
        assert by_id[fid][2] == "fitted" and by_id[fid][5] == "<=", fid


def test_cells_without_a_defensible_prior_are_null_with_a_reason(con):
    rows = con.execute("""
        select sector_code, count(*), count(output_value_yuan), count(null_reason)
        from marts.fct_sector_output group by sector_code
    """).fetchall()
    for sector, n, n_values, n_reasons in rows:
        if sector == "C39":
            assert n_values == 0 and n_reasons == n
        else:
            assert n_values == n and n_reasons == 0


def test_every_estimated_cell_and_lq_has_an_interval(con):
    assert (
        con.execute("""
        select count(*) from marts.fct_sector_output
        where output_value_yuan is not null
            and not (output_p5_yuan <= output_p50_yuan and output_p50_yuan <= output_p95_yuan)
    """).fetchone()[0]
        == 0
    )
    assert (
        con.execute("""
        select count(*) from marts.fct_area_sector_specialization
        where location_quotient is not null and (lq_p5 is null or lq_p95 < lq_p5)
    """).fetchone()[0]
        == 0
    )
    # Only robust strong clusters are findings: fewer of them than cells flagged on the fit.
    robust, flagged = con.execute("""
        select count(*) filter (where is_robust_strong_cluster), count(*) filter (where is_strong_cluster)
        from marts.fct_area_sector_specialization where reference = 'cluster8' and year = 2023
    """).fetchone()
    assert robust <= flagged


def test_the_first_build_has_nothing_to_compare_with(built):
    # The comparison itself is tested in test_quality_gate.py, against this build.
    page = (built.reports / "index.html").read_text(encoding="utf-8")
    assert "Quality gate" in page and "No comparison: nothing is published yet." in page
    assert "Quality gate: nothing is published yet; no comparison with a published version." in built.build_output
