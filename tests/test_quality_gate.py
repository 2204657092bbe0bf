"""The Great Expectations gate compares a candidate with the published version."""

from __future__ import annotations

import json
import shutil

import duckdb
import psycopg

from chengyu_cluster.quality.gate import prepare_gate, run_quality_gate

from conftest import workspace_with_published
from postgres_server import add_publishing_logins, dsn_as, postgres_server


def candidate_copy(built, tmp_path, *statements: str):
    """A writable copy of the published warehouse, changed by `statements`."""
    candidate = tmp_path / "chengyu.duckdb"
    shutil.copyfile(built.published.resolve(), candidate)
    candidate.chmod(0o644)
    con = duckdb.connect(str(candidate))
    for sql in statements:
        con.execute(sql)
    con.close()
    return candidate


def test_an_unchanged_candidate_passes_every_shift_check(built, tmp_path):
    baseline = prepare_gate(built.project, built.published.resolve())
    gate = run_quality_gate(candidate_copy(built, tmp_path), baseline, tmp_path / "reports")
    assert gate.compared_with == built.current() and gate.passed
    assert gate.n_warned == 0 and gate.n_passed == len(gate.results) > 50
    # Rendered in Great Expectations' Data Docs and in the offline index.
    assert (tmp_path / "reports" / "data_docs" / "index.html").exists()
    assert "against the published version" in (tmp_path / "reports" / "index.html").read_text(encoding="utf-8")


def test_shifts_warn_or_block_by_size(built, tmp_path):
    baseline = prepare_gate(built.project, built.published.resolve())
    candidate = candidate_copy(
        built,
        tmp_path,
        # location quotients 20 % higher: above the 10 % warning, below the 50 % block
        "update marts.fct_area_sector_specialization set location_quotient = location_quotient * 1.2",
        # a mart loses most of its rows: a block
        "delete from marts.fct_benchmark_gap where year < 2023",
        # a public column disappears: a block (BI tools read it)
        "alter table marts.dim_area drop column name_en",
    )
    gate = run_quality_gate(candidate, baseline, tmp_path / "reports")
    failed = {(r.suite, r.expectation, r.severity) for r in gate.results if not r.success}
    assert ("shift_fct_area_sector_specialization", "expect_column_median_to_be_between", "warning") in failed
    assert not any(s == "shift_fct_area_sector_specialization" and sev == "critical" for s, _, sev in failed)
    assert ("shift_fct_benchmark_gap", "expect_table_row_count_to_be_between", "critical") in failed
    assert ("shift_dim_area", "expect_table_columns_to_match_set", "critical") in failed
    assert not gate.passed
    # Explained by the operator: the blocks become warnings, listed with the reason.
    accepted = run_quality_gate(candidate, baseline, tmp_path / "reports2", accept_shift="retired a column")
    assert accepted.passed and accepted.n_warned == len(failed)
    assert accepted.messages()[-1] == "Shifts accepted by the operator: retired a column"


def test_a_large_shift_blocks_the_build_until_explained(built, tmp_path, no_tracebacks):
    """Blocked, then published with --accept-shift; the accepted build also refreshes a
    PostgreSQL copy (`build --publish-postgres`, as the login a DBA sets up: no CREATEROLE,
    the reader role made beforehand), so one build checks both."""
    ws = workspace_with_published(built, tmp_path)
    before = ws.state()
    events = ws.project / "seeds" / "cooperation_events.csv"
    lines = events.read_text(encoding="utf-8").splitlines(keepends=True)
    events.write_text("".join(lines[:2]), encoding="utf-8")  # header + 1 of 3 events: -67 % rows
    blocked = ws.run("build")
    assert blocked.returncode == 5, blocked.stdout + blocked.stderr
    assert "CRITICAL shift in shift_fct_cooperation_events" in blocked.stderr
    assert "--accept-shift" in blocked.stderr
    assert ws.state() == before
    with postgres_server() as server:
        add_publishing_logins(server)
        with psycopg.connect(server, autocommit=True) as pg:
            pg.execute("create role chengyu_reader nologin")
        accepted = ws.run(
            "build",
            "--accept-shift",
            "two events withdrawn by their source",
            "--publish-postgres",
            dsn_as(server, "loader"),
        )
        assert accepted.returncode == 0, accepted.stdout + accepted.stderr
        assert f"PostgreSQL copy: {ws.n_public_marts()} marts into schema chengyu" in accepted.stdout
        with psycopg.connect(server) as pg:
            # The copy says which build it is: the one the DuckDB pointer now names.
            assert pg.execute("select build_id from chengyu.build_info").fetchone()[0] == ws.current()
            assert pg.execute("select count(*) from chengyu.fct_sector_output").fetchone()[0] == 648
    record = json.loads((ws.warehouse / "versions" / f"chengyu.{ws.current()}.json").read_text(encoding="utf-8"))
    assert record["accepted_shift"] == "two events withdrawn by their source"
    assert record["compared_with"] == built.current()
    # The gate report follows the live version. Rolled back to the version before (built in
    # another workspace: no gate page of it is kept here), reports/index.html says at its top
    # that it shows the withdrawn build; forward again (rollback --to), it is that build's page.
    withdrawn, index = ws.current(), ws.reports / "index.html"
    assert f"Quality gate of build {withdrawn}" in index.read_text(encoding="utf-8")
    rolled = ws.run("rollback")
    assert rolled.returncode == 0 and ws.current() == built.current(), rolled.stdout + rolled.stderr
    assert "not the live one" in rolled.stdout
    assert f"This report is of build {withdrawn}, not of the live version {built.current()}" in index.read_text(
        encoding="utf-8"
    )
    forward = ws.run("rollback", "--to", withdrawn)
    assert forward.returncode == 0 and f"build {withdrawn}, the live one" in forward.stdout, forward.stdout
    assert 'id="not-live"' not in index.read_text(encoding="utf-8")
