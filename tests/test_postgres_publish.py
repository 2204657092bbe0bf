"""`chengyu publish-postgres` as a BI user's DBA sets it up, against a real PostgreSQL server:
a publishing login without CREATEROLE, a reader role the DBA made (or did not), and BI
readers holding transactions open while a new publication replaces the old one."""

from __future__ import annotations

import time

import psycopg
import pytest

from postgres_server import add_publishing_logins, dsn_as, postgres_server

EXIT_POSTGRES_REFUSED = 12


@pytest.fixture
def server():
    """A fresh server with a login `loader` that may create schemas but not roles, as a DBA would
    set up the account that publishes, and a login `analyst` for a BI tool."""
    with postgres_server() as dsn:
        add_publishing_logins(dsn)
        yield dsn


def assert_one_line_refusal(result, *words):
    assert result.returncode == EXIT_POSTGRES_REFUSED, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chengyu: PostgreSQL refused: "), result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


def test_without_createrole_a_missing_reader_role_is_refused(built, server):
    result = built.run("publish-postgres", "--dsn", dsn_as(server, "loader"))
    assert_one_line_refusal(
        result,
        "role chengyu_reader does not exist",
        "user loader may not create roles",
        "CREATE ROLE chengyu_reader NOLOGIN;",
    )
    with psycopg.connect(server) as pg:  # refused before anything was copied
        assert pg.execute("select count(*) from pg_namespace where nspname like 'chengyu%'").fetchone()[0] == 0
        assert pg.execute("select count(*) from pg_roles where rolname = 'chengyu_reader'").fetchone()[0] == 0


def test_without_createrole_an_existing_reader_role_is_used(built, server):
    with psycopg.connect(server, autocommit=True) as pg:
        pg.execute("create role chengyu_reader nologin")
        pg.execute("grant chengyu_reader to analyst")
    result = built.run("publish-postgres", "--dsn", dsn_as(server, "loader"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"published {built.n_public_marts()} marts" in result.stdout
    with psycopg.connect(dsn_as(server, "analyst")) as bi:
        assert bi.execute("select count(*) from chengyu.fct_sector_output").fetchone()[0] == 648
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            bi.execute("delete from chengyu.dim_area")


def test_without_create_on_the_database_is_refused(built, server):
    with psycopg.connect(server, autocommit=True) as pg:
        pg.execute("revoke create on database postgres from loader")
    result = built.run("publish-postgres", "--dsn", dsn_as(server, "loader"), "--reader-role", "")
    assert_one_line_refusal(
        result, "user loader may not create schemas", "GRANT CREATE ON DATABASE postgres TO loader;"
    )


def test_a_reader_holding_a_transaction_makes_it_give_up_and_name_the_reader(built, server):
    with psycopg.connect(server, autocommit=True) as pg:
        pg.execute("create role chengyu_reader nologin")
        pg.execute("grant chengyu_reader to analyst")
        pg.execute("grant pg_read_all_stats to loader")  # the README's grant: lets it see the readers' state
    assert built.run("publish-postgres", "--dsn", dsn_as(server, "loader")).returncode == 0
    reader = psycopg.connect(dsn_as(server, "analyst") + " application_name=planning-dashboard")
    try:
        # A BI session that read the publication and left its transaction open.
        assert reader.execute("select count(*) from chengyu.dim_area").fetchone()[0] == 16
        reader_pid = reader.info.backend_pid
        started = time.monotonic()
        result = built.run("publish-postgres", "--dsn", dsn_as(server, "loader"), "--lock-timeout", "2", timeout=120)
        waited = time.monotonic() - started
        assert_one_line_refusal(
            result,
            "gave up after waiting 2 s",
            f"pid {reader_pid}",
            "user analyst",
            "application 'planning-dashboard'",
            "idle in transaction",
            "nothing was changed",
        )
        assert waited < 60, f"took {waited:.0f} s"
        # The reader still sees the complete publication; no half-published schema is left.
        assert reader.execute("select count(*) from chengyu.fct_sector_output").fetchone()[0] == 648
        reader.commit()
        with psycopg.connect(server) as pg:
            schemas = {r[0] for r in pg.execute("select nspname from pg_namespace where nspname like 'chengyu%'")}
            assert schemas == {"chengyu"}
        # Once the reader's transaction ends, publishing goes through.
        again = built.run("publish-postgres", "--dsn", dsn_as(server, "loader"), "--lock-timeout", "10")
        assert again.returncode == 0, again.stdout + again.stderr
    finally:
        reader.close()


def test_no_server_is_a_one_line_refusal(built):
    import socket

    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = built.run("publish-postgres", "--dsn", f"host=127.0.0.1 port={port} user=loader dbname=bi")
    assert_one_line_refusal(result, "cannot connect")


def test_a_negative_lock_timeout_is_a_usage_error(built):
    result = built.run("publish-postgres", "--dsn", "host=127.0.0.1", "--lock-timeout", "-1")
    assert result.returncode == 2 and "--lock-timeout" in result.stderr


# `build --publish-postgres` refreshing the copy is checked on the accepted build of
# tests/test_quality_gate.py::test_a_large_shift_blocks_the_build_until_explained (one build for both).


EXIT_NOT_OURS = 9


def assert_one_line_not_ours(result, *words):
    assert result.returncode == EXIT_NOT_OURS, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "nothing was changed" in lines[0], lines[0]
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.mark.parametrize("schema", ["public", "planning_app"])
def test_a_schema_chengyu_did_not_create_is_never_replaced(built, server, schema):
    # Issue 22 case 5: `--schema public` ran DROP SCHEMA ... CASCADE and another
    # application's 1,000-row table was gone, exit 0.
    with psycopg.connect(server, autocommit=True) as pg:
        pg.execute(f"create schema if not exists {schema}")
        pg.execute(f"create table {schema}.other_app (id int)")
        pg.execute(f"insert into {schema}.other_app select generate_series(1, 1000)")
    result = built.run("publish-postgres", "--dsn", server, "--schema", schema)
    assert_one_line_not_ours(result, f"schema {schema} exists and was not created by chengyu", "--schema")
    with psycopg.connect(server) as pg:
        assert pg.execute(f"select count(*) from {schema}.other_app").fetchone()[0] == 1000
        assert pg.execute(f"select count(*) from pg_tables where schemaname = '{schema}'").fetchone()[0] == 1
        incoming = pg.execute("select count(*) from pg_namespace where nspname = %s", [f"{schema}__incoming"])
        assert incoming.fetchone()[0] == 0


def test_only_chengyus_own_tables_are_dropped_and_the_copy_says_which_build_it_holds(built, server):
    from chengyu_cluster.publish.postgres import copy_build_id

    assert copy_build_id(server, "chengyu") is None  # nothing published yet
    assert built.run("publish-postgres", "--dsn", server).returncode == 0
    assert copy_build_id(server, "chengyu") == built.current()
    assert copy_build_id(server, "public") is None  # not a chengyu copy
    with psycopg.connect(server, autocommit=True) as pg:
        pg.execute("create table chengyu.analyst_notes (note text)")  # someone's table in chengyu's schema
    assert_one_line_not_ours(
        built.run("publish-postgres", "--dsn", server),
        "schema chengyu holds 1 relation(s) chengyu did not publish (analyst_notes)",
    )
    with psycopg.connect(server, autocommit=True) as pg:
        pg.execute("drop table chengyu.analyst_notes")
        pg.execute("create schema bi")
        pg.execute("create view bi.areas as select area_code from chengyu.dim_area")  # a view on chengyu's table
    result = built.run("publish-postgres", "--dsn", server)
    assert_one_line_not_ours(result, "view bi.areas depends on table chengyu.dim_area")
    with psycopg.connect(server) as pg:
        assert pg.execute("select count(*) from bi.areas").fetchone()[0] == 16  # the view and its table kept
        schemas = {r[0] for r in pg.execute("select nspname from pg_namespace where nspname like 'chengyu%'")}
        assert schemas == {"chengyu"}
    with psycopg.connect(server, autocommit=True) as pg:
        pg.execute("drop view bi.areas")
    assert built.run("publish-postgres", "--dsn", server).returncode == 0  # its own schema: replaced
    assert copy_build_id(server, "chengyu") == built.current()
