"""Access paths for analysts and BI tools, each with its real client: DuckDB through
`chengyu sql`, SQLAlchemy + duckdb_engine, Parquet files, a real PostgreSQL server. None
of them can write to the warehouse or keep a build from publishing (that a build publishes while
SQLAlchemy and `chengyu sql` hold the file: tests/test_faults.py, in its build beside a reader)."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pandas as pd
import psycopg
import pytest
import sqlalchemy

from conftest import sha256
from postgres_server import postgres_server

EXIT_QUERY = 8


def test_sql_reads_in_three_formats(built):
    table = built.run("sql", "select area_code, name_en from marts.dim_area where area_code = '510600'")
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[2].split(" | ")[1].strip() == "Deyang"
    assert table.stdout.rstrip().endswith("(1 row)")
    csv_out = built.run("sql", "select count(*) as n from marts.fct_sector_output", "--format", "csv")
    assert csv_out.stdout == "n\n648\n"
    json_out = built.run(
        "sql",
        "select figure_id, value_base from marts.fct_reported_figures where figure_id = 'F0039'",
        "--format",
        "json",
    )
    assert json.loads(json_out.stdout) == [{"figure_id": "F0039", "value_base": 732780000000.0}]


@pytest.mark.parametrize(
    "statement,words",
    [
        ("delete from marts.dim_area", "DELETE statements are not reads"),
        ("create table marts.x as select 1", "CREATE statements are not reads"),
        ("copy marts.dim_area to '/tmp/chengyu-leak.csv'", "COPY statements are not reads"),
        ("attach '/tmp/other.duckdb' as other", "ATTACH statements are not reads"),
        ("pragma profiling_output='/tmp/chengyu-profile'", "SET statements are not reads"),
        ("call enable_logging(storage='file', storage_path='/tmp/chengyu-log')", "CALL statements are not reads"),
        ("call enable_logging('QueryLog', storage='file', storage_path='qlog')", "CALL statements are not reads"),
        # SELECT statements that call table functions with side effects or SQL from text:
        ("select * from enable_logging(storage='file', storage_path='/tmp/chengyu-log')", "cannot call enable_logging"),
        ("select * from query('select 1')", "cannot call query"),
        (
            "select * from marts.dim_area where 0 < (select count(*) from enable_logging())",
            "cannot call enable_logging",
        ),
        ("select * from json_execute_serialized_sql(json_serialize_sql('select 1'))", "cannot call json_execute"),
        ("select sleep_ms(600000)", "cannot call sleep_ms"),
        ("select * from read_text('/etc/hostname')", "cannot call read_text"),
        ("select * from marts.dim_area, read_csv('/etc/passwd')", "cannot call read_csv"),
        ("select 1; delete from marts.dim_area", "DELETE statements are not reads"),
    ],
)
def test_sql_refuses_everything_but_reads(built, statement, words):
    before = built.state()
    result = built.run("sql", statement)
    assert result.returncode == EXIT_QUERY, result.stdout + result.stderr
    assert "refused" in result.stderr and words in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""  # nothing ran, not even 'select 1'
    assert built.state() == before


def test_sql_reads_no_file_and_tells_no_file_apart(built, tmp_path):
    # Issue 22, case 6: DuckDB's statement splitter runs PRAGMA import_database; on a connection
    # with external access on it read schema.sql and echoed its first token.
    (tmp_path / "schema.sql").write_text("SECRETTOKEN x;\n", encoding="utf-8")
    (tmp_path / "load.sql").write_text("LOADSECRET y;\n", encoding="utf-8")
    errors = []
    for folder in (tmp_path, tmp_path / "missing"):
        result = built.run("sql", f"pragma import_database('{folder}')")
        assert result.returncode == EXIT_QUERY and result.stdout == "", result.stderr
        errors.append(result.stderr.replace(str(folder), "D"))
    assert "SECRET" not in errors[0] and errors[0] == errors[1] and errors[0].count("\n") == 1


def test_sql_prints_values_as_duckdb_does_and_stops_at_its_memory_limit(built):
    # Issue 22, cases 11 and 12.
    query = (
        "select age(date '2024-03-01', date '2023-01-01') as iv, 'infinity'::date as d, "
        "map([date '2024-01-01'], [1.5::decimal(4, 2)]) as m, map(['nan'::double], ['x']) as n"
    )
    table = built.run("sql", query)
    assert [c.strip() for c in table.stdout.splitlines()[2].split(" | ")] == [
        "1 year 2 months",
        "infinity",
        "{2024-01-01=1.50}",
        "{nan=x}",
    ], table.stderr
    as_json = built.run("sql", query, "--format", "json")
    assert json.loads(as_json.stdout) == [
        {"iv": "1 year 2 months", "d": "infinity", "m": {"2024-01-01": 1.5}, "n": {"nan": "x"}}
    ], as_json.stderr
    hungry = built.run(
        "sql",
        "--memory-limit",
        "64MB",
        "--format",
        "csv",
        "select count(distinct range::varchar || 'x') from range(30000000)",
    )
    assert hungry.returncode == 13 and hungry.stdout == "", hungry.stdout + hungry.stderr
    assert hungry.stderr.count("\n") == 1 and "out of memory" in hungry.stderr and "Traceback" not in hungry.stderr
    assert built.run("sql", "--memory-limit", "lots", "select 1").returncode == 2


def test_sql_resolves_unqualified_names_in_marts_and_limits_table_rows(built):
    result = built.run("sql", "select count(*) as n from dim_area", "--format", "csv")
    assert result.stdout == "n\n16\n", result.stderr
    many = built.run("sql", "select * from range(2500)")
    lines = many.stdout.splitlines()
    # Header, rule, the first 1000 rows (0 .. 999), then the count of all of them.
    assert len(lines) == 1003 and lines[-2].strip() == "999"
    assert lines[-1].startswith("(first 1000 of 2500 rows")
    streamed = built.run("sql", "select * from range(2500)", "--format", "csv")
    assert streamed.stdout.splitlines()[-1] == "2499" and len(streamed.stdout.splitlines()) == 2501


def test_ctrl_c_interrupts_a_running_query(built):
    proc = subprocess.Popen(
        built.command("sql", "select sum(a.range * b.range) from range(200000) a, range(200000) b"),
        env=built.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(8)  # start-up takes about a second; the cross join of 4e10 rows runs for minutes
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "query interrupted" in err and "Traceback" not in err


def test_a_piped_session_with_a_refused_statement_exits_8(built):
    proc = subprocess.run(
        built.command("sql", "--format", "csv"),
        env=built.env(),
        text=True,
        capture_output=True,
        input="select 1 as a;\ndelete from marts.dim_area;\nselect 2 as b;\n",
    )
    assert proc.returncode == EXIT_QUERY
    # Piped input is one script, checked whole before any statement runs.
    assert proc.stdout == ""
    assert "DELETE statements are not reads" in proc.stderr
    # A blank line or a ';' inside a string does not end the script early.
    proc = subprocess.run(
        built.command("sql", "--format", "csv"),
        env=built.env(),
        text=True,
        capture_output=True,
        input="select 'x;\ny' as s;\n\nselect 2 as b\n",
    )
    assert proc.returncode == 0 and proc.stdout == 's\n"x;\ny"\nb\n2\n', proc.stderr


def test_export_to_a_path_with_quotes_and_spaces_runs_no_sql_from_it(built, tmp_path):
    # Pasted into COPY ... TO '...', this path would have run a second COPY.
    out = tmp_path / "O'Brien's exports é') to '/tmp/chengyu-injected.csv' (format csv); --"
    result = built.run("export", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert (out / "manifest.json").exists() and (out / "dim_area.parquet").exists()
    assert not Path("/tmp/chengyu-injected.csv").exists()


def test_sql_interactive_mode(built):
    proc = subprocess.run(
        built.command("sql", "--format", "csv"),
        env=built.env(),
        text=True,
        capture_output=True,
        input="select 1 as a;\nselect year\n from marts.dim_year where year = 2020;\n",
    )
    assert proc.returncode == 0
    assert proc.stdout == "a\n1\nyear\n2020\n"


def sqlalchemy_url(path) -> str:
    return f"duckdb:///{path}"


def test_sqlalchemy_reflects_and_reads_the_marts(built):
    engine = sqlalchemy.create_engine(sqlalchemy_url(built.published), connect_args={"read_only": True})
    try:
        inspector = sqlalchemy.inspect(engine)
        tables = set(inspector.get_table_names(schema="marts"))
        assert {"fct_sector_output", "dim_area", "fct_area_sector_specialization"} <= tables
        reflected = sqlalchemy.Table("fct_sector_output", sqlalchemy.MetaData(), schema="marts", autoload_with=engine)
        assert {"area_code", "output_value_yuan", "basis"} <= set(reflected.columns.keys())
        frame = pd.read_sql("select area_code, count(*) as n from marts.fct_sector_output group by area_code", engine)
        assert len(frame) == 8 and set(frame.n) == {81}
    finally:
        engine.dispose()


def test_parquet_export_with_manifest(built, tmp_path):
    result = built.run("export", "--format", "parquet", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    by_name = {t["name"]: t for t in manifest["tables"]}
    assert len(by_name) == built.n_public_marts()  # every mart of the serving file, build_info included
    sector = by_name["fct_sector_output"]
    assert sector["grain"].startswith("One row per member area")
    assert sector["row_count"] == 648
    con = duckdb.connect()
    assert con.execute(f"select count(*) from read_parquet('{tmp_path / sector['file']}')").fetchone()[0] == 648
    assert sha256(tmp_path / sector["file"]) == sector["sha256"]
    assert {c["name"] for c in sector["columns"]} >= {"area_code", "basis", "output_value_yuan"}


def test_export_never_follows_a_link_planted_in_its_folder(built, tmp_path):
    # Issue 22 case 7: a manifest.json link in the export folder, pointing at a version
    # record, was followed and the record overwritten. Now the folder must be new or empty.
    record = tmp_path / "chengyu.20260101T000000000000Z.json"
    record.write_text('{"build_id": "20260101T000000000000Z"}', encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").symlink_to(record)
    result = built.run("export", "--out", str(out))
    assert result.returncode == 9, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{out} is not empty" in lines[0], result.stderr
    assert record.read_text(encoding="utf-8") == '{"build_id": "20260101T000000000000Z"}'
    assert [p.name for p in out.iterdir()] == ["manifest.json"] and (out / "manifest.json").is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == [record.name, "out"]  # no temporary folder left


def test_export_with_an_empty_out_writes_nothing(built, tmp_path):
    # It used to write every mart into the current folder.
    result = subprocess.run(
        built.command("export", "--out", ""), env=built.env(), cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 2 and "the path is empty" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and list(tmp_path.iterdir()) == []


def test_publish_to_a_real_postgres_server(built):
    with postgres_server() as dsn:
        for _ in range(2):  # the second run replaces the first publication
            result = built.run("publish-postgres", "--dsn", dsn)
            assert result.returncode == 0, result.stdout + result.stderr
            assert f"published {built.n_public_marts()} marts" in result.stdout
        with psycopg.connect(dsn) as pg:
            schemas = {r[0] for r in pg.execute("select nspname from pg_namespace where nspname like 'chengyu%'")}
            assert schemas == {"chengyu"}
            assert pg.execute("select count(*) from chengyu.fct_sector_output").fetchone()[0] == 648
            pk = pg.execute("""
                select array_agg(a.attname order by a.attname) from pg_index i
                join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
                where i.indrelid = 'chengyu.fct_sector_output'::regclass and i.indisprimary
            """).fetchone()[0]
            assert pk == ["area_code", "sector_code", "year"]
            assert (
                pg.execute(
                    "select format_type(atttypid, atttypmod) from pg_attribute where attrelid = "
                    "'chengyu.fct_sector_output'::regclass and attname = 'output_value_yuan'"
                ).fetchone()[0]
                == "double precision"
            )
            comment = pg.execute("select col_description('chengyu.fct_sector_output'::regclass, 4)").fetchone()[0]
            assert comment and "yuan" in comment
            table_comment = pg.execute("select obj_description('chengyu.fct_sector_output'::regclass)").fetchone()[0]
            assert "estimated" in table_comment
            assert pg.execute(
                "select has_table_privilege('chengyu_reader', 'chengyu.fct_sector_output', 'select'), "
                "has_table_privilege('chengyu_reader', 'chengyu.fct_sector_output', 'insert')"
            ).fetchone() == (True, False)
        psql = shutil.which("psql")
        if psql:  # the command-line client BI people use to check a connection
            out = subprocess.run(
                [psql, dsn, "-At", "-c", "select count(*) from chengyu.dim_area"], capture_output=True, text=True
            )
            assert out.stdout.strip() == "16", out.stderr
