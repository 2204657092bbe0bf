"""Fast tests of `chengyu sql`'s statement check (sql_guard, shared with Superset) and printer on an
in-memory database opened as a reader's connection."""

from __future__ import annotations

import io

import duckdb
import pytest

from chengyu_cluster.access.query import Printer, run_script
from chengyu_cluster.access.sql_guard import Refused as QueryRefused
from chengyu_cluster.access.sql_guard import checked_statements as check_read_only
from chengyu_cluster.access.sql_guard import connect_reader


@pytest.fixture
def con():
    # A reader's connection as `chengyu sql` opens it (external access off, a memory limit,
    # configuration locked); ':memory:' cannot be read-only, so the test can make a table.
    connection = connect_reader(":memory:", memory_limit="500MB")
    connection.execute("create table t as select 1 as a")
    yield connection
    connection.close()


@pytest.mark.parametrize(
    "sql",
    [
        "select * from t",
        "from t",
        "describe t",
        "show tables",
        "summarize t",
        "pragma table_info('t')",
        "with x as (select 1) select * from x",
        "select * from range(3)",
        "select 1; select 2",
    ],
)
def test_reads_pass(con, sql):
    assert check_read_only(con, sql)


@pytest.mark.parametrize(
    "sql,words",
    [
        ("insert into t values (2)", "INSERT statements"),
        ("set threads = 1", "SET statements"),
        ("checkpoint", "CALL statements"),
        ("load httpfs", "LOAD statements"),
        ("begin", "TRANSACTION statements"),
        ("select * from checkpoint()", "cannot call checkpoint"),
        ("select * from t where a in (select * from query('select 1'))", "cannot call query"),
        ("with x as (select * from glob('/etc/*')) select * from x", "cannot call glob"),
        ("select 1; drop table t", "DROP statements"),
    ],
)
def test_everything_else_is_refused_before_anything_runs(con, sql, words):
    with pytest.raises(QueryRefused, match=words):
        check_read_only(con, sql)
    assert con.execute("select count(*) from t").fetchone()[0] == 1


def test_table_printer_shows_the_first_rows_and_counts_all():
    out = io.StringIO()
    printer = Printer(["n"], "table", 2, out)
    printer.add([(1,), (2,), (3,)])
    printer.add([(4,)])
    printer.finish()
    assert out.getvalue() == "n\n-\n1\n2\n(first 2 of 4 rows; --max-rows 0 prints all, --format csv streams them)\n"


def test_json_printer_streams_valid_json():
    out = io.StringIO()
    printer = Printer(["a", "b"], "json", 0, out)
    printer.add([(1, None)])
    printer.add([(2, "x")])
    printer.finish()
    import json

    assert json.loads(out.getvalue()) == [{"a": 1, "b": None}, {"a": 2, "b": "x"}]


def test_json_has_unique_keys_and_no_nan():
    import json

    out = io.StringIO()
    # a, a, a_2: the second a cannot become a_2, which is taken, so it is a_3.
    printer = Printer(["a", "a", "a_2", "n", "l"], "json", 0, out)
    printer.add([(1, 2, 3, float("nan"), [1.0, float("inf")])])
    printer.finish()
    assert json.loads(out.getvalue()) == [{"a": 1, "a_3": 2, "a_2": 3, "n": None, "l": [1.0, None]}]


@pytest.mark.parametrize(
    "args,words",
    [
        (["validate", "--max-input-mb", "nan"], "must be a positive number"),
        (["validate", "--max-input-mb", "-1"], "must be a positive number"),
        (["validate", "--sector-output", ""], "the path is empty"),
        (["build", "--keep-versions", "0"], "must be at least 1"),
        (["sql", "--max-rows", "-1", "select 1"], "must be at least 0"),
        (["publish-postgres", "--dsn", "x", "--schema", "Bad"], "not a plain lower-case PostgreSQL name"),
        (["publish-postgres", "--dsn", "x", "--lock-timeout", "nan"], "must be 0 (wait without limit)"),
        (["build", "--pg-lock-timeout", "-1"], "must be 0 (wait without limit)"),
    ],
)
def test_bad_option_values_are_usage_errors(args, words, capsys):
    from chengyu_cluster.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2 and words in capsys.readouterr().err


# ---- issue 22, cases 6, 9, 11, 12 ----------------------------------------------------------------


def test_import_database_reads_nothing_and_says_the_same_for_any_folder(con, tmp_path):
    # Case 6: on a connection with external access on, DuckDB's splitter itself runs the pragma,
    # reads schema.sql/load.sql and echoes their first token in its error message.
    (tmp_path / "schema.sql").write_text("SECRETTOKEN x;\n", encoding="utf-8")
    (tmp_path / "load.sql").write_text("LOADSECRET y;\n", encoding="utf-8")
    messages = []
    for folder in (tmp_path, tmp_path / "does-not-exist"):
        with pytest.raises(QueryRefused) as refused:
            check_read_only(con, f"pragma import_database('{folder}')")
        messages.append(str(refused.value).replace(str(folder), "<folder>"))
    assert "SECRET" not in messages[0] and "file system operations are disabled" in messages[0]
    assert messages[0] == messages[1]  # an existing and a missing folder cannot be told apart


@pytest.mark.parametrize(
    "sql",
    [
        # Case 9 and its kin: functions that change logging, profiling, checkpoints or secrets, or run
        # SQL given as text, called as table functions, with any spelling or qualification.
        "select * from enable_logging(storage='file', storage_path='x')",
        "select * from system.main.ENABLE_LOGGING()",
        "select * from t, (select * from disable_logging())",
        "select * from truncate_duckdb_logs()",
        "select * from enable_profiling()",
        "select * from force_checkpoint()",
        "select * from duckdb_secrets()",
        "select * from which_secret('s3://b/x', 's3')",
        "select * from query_table('t')",
        "select * from json_execute_serialized_sql(json_serialize_sql('select 1'))",
        "select * from read_duckdb('x.duckdb')",
        # Scalar functions DuckDB marks as having side effects, unless known harmless:
        "select sleep_ms(100000)",
        "select write_log('x')",
        "select setseed(0.5)",
    ],
)
def test_calls_that_write_abort_or_run_text_are_refused(con, sql):
    with pytest.raises(QueryRefused, match="cannot call"):
        check_read_only(con, sql)


@pytest.mark.parametrize(
    "sql",
    [
        "call enable_logging(storage='file', storage_path='x')",
        "pragma enable_profiling",
        "set variable x = 1",
        "create temp macro m() as table select * from enable_logging()",
        "attach ':memory:' as m",
        "explain select 1",
        "export database 'x'",
        "install httpfs",
        "pragma enable_checkpoint_on_shutdown",
    ],
)
def test_every_statement_but_select_is_refused(con, sql):
    with pytest.raises(QueryRefused, match="statements are not reads"):
        check_read_only(con, sql)


def test_harmless_side_effect_functions_and_rewritten_pragmas_pass(con):
    assert check_read_only(con, "select random(), uuid(), current_query(); pragma table_info('t'); pragma version")


def test_a_query_nested_900_calls_deep_is_checked_without_recursion(con, capsys):
    # The parse tree of 900 nested calls is JSON too deep for Python's parser (RecursionError
    # before); DuckDB finds the function names in it. (Running it takes DuckDB tens of seconds.)
    assert check_read_only(con, "select " + "abs(" * 900 + "-1" + ")" * 900 + " as x")
    with pytest.raises(QueryRefused, match="cannot call enable_logging"):
        check_read_only(con, "select " + "abs(" * 900 + "-1" + ")" * 900 + ", * from enable_logging()")
    # Deeper than DuckDB's parser allows (1000): one line, exit 8.
    assert run_script(con, "select " + "abs(" * 1001 + "1" + ")" * 1001, "csv", 0) == 8
    assert "Max expression depth" in capsys.readouterr().err
    # A value nested 900 lists deep cannot go through Python's JSON parser: one line, no output.
    assert run_script(con, "select json(repeat('[', 900) || repeat(']', 900)) as x", "json", 0) == 8
    out = capsys.readouterr()
    assert out.out == "" and out.err.strip() == "chengyu: query failed: its result nests too deeply to print"
    assert run_script(con, "select json(repeat('[', 900) || repeat(']', 900)) as x", "csv", 0) == 0


RENDERED = """select age(date '2024-03-01', date '2023-01-01') as iv, 'infinity'::date as d,
    '-infinity'::timestamp as ts, map([date '2024-01-01'], [1]) as md, map([1.5::decimal(4, 2)], ['x']) as mdec,
    map(['00000000-0000-0000-0000-000000000001'::uuid], [2]) as mu, map(['nan'::double], [3]) as mn,
    {'a': [interval 1 day]} as s, 'nan'::double as n"""


def test_values_print_as_duckdb_renders_them(con, capsys):
    # age(2024-03-01, 2023-01-01) is 1 year 2 months (DuckDB), not 425 days; infinite dates stay
    # infinite; MAP keys of any type print; NaN in a key is text, as a value it is nan / null.
    assert run_script(con, RENDERED, "table", 10) == 0
    row = [cell.strip() for cell in capsys.readouterr().out.splitlines()[2].split(" | ")]
    assert row == [
        "1 year 2 months",
        "infinity",
        "-infinity",
        "{2024-01-01=1}",
        "{1.50=x}",
        "{00000000-0000-0000-0000-000000000001=2}",
        "{nan=3}",
        "{'a': [1 day]}",
        "nan",
    ]
    assert run_script(con, RENDERED, "csv", 0) == 0
    assert capsys.readouterr().out.splitlines()[1] == (
        "1 year 2 months,infinity,-infinity,{2024-01-01=1},{1.50=x},{00000000-0000-0000-0000-000000000001=2},"
        "{nan=3},{'a': [1 day]},nan"
    )
    assert run_script(con, RENDERED, "json", 0) == 0
    import json

    assert json.loads(capsys.readouterr().out) == [
        {
            "iv": "1 year 2 months",
            "d": "infinity",
            "ts": "-infinity",
            "md": {"2024-01-01": 1},
            "mdec": {"1.50": "x"},
            "mu": {"00000000-0000-0000-0000-000000000001": 2},
            "mn": {"nan": 3},
            "s": {"a": ["1 day"]},
            "n": None,
        }
    ]


def test_out_of_memory_is_the_cli_s_exit_13():
    # 30 million distinct 9-byte strings need far more than 64 MB.
    connection = connect_reader(":memory:", memory_limit="64MB")
    try:
        from chengyu_cluster.publish.versions import OutOfMemory

        with pytest.raises(OutOfMemory, match="--memory-limit"):
            run_script(connection, "select count(distinct range::varchar || 'x') from range(30000000)", "csv", 0)
    finally:
        connection.close()


def test_memory_limit_must_be_a_size(capsys):
    from chengyu_cluster.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["sql", "--memory-limit", "lots", "select 1"])
    assert exit_info.value.code == 2 and "is not a size such as 2GB" in capsys.readouterr().err


def test_duckdb_itself_aborts_after_enable_logging_to_a_file():
    """Why enable_logging is refused and not left to DuckDB (issue 22, case 9): under the readers'
    settings DuckDB 1.5.5 accepts it, then the next statement ends the process (C++ terminate,
    SIGABRT). If this starts to fail, DuckDB has fixed it; the refusal stays harmless."""
    import subprocess
    import sys

    script = (
        "import duckdb\n"
        "con = duckdb.connect(config={'enable_external_access': False, 'lock_configuration': True})\n"
        "con.execute(\"select * from enable_logging(storage='file', storage_path='x')\")\n"
        "con.execute('select 1')\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode in (-6, 134) and "terminate called" in out.stderr


def test_readers_of_one_file_in_one_process_share_its_lock(tmp_path):
    # DuckDB shares one database instance (and its locked configuration) among a process's
    # connections to a file: the second reader, or one opened concurrently in a Superset
    # server, finds the configuration locked already and must still open.
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    readers = [connect_reader(str(path)) for _ in range(3)]
    try:
        assert [r.execute("select current_setting('lock_configuration')").fetchone()[0] for r in readers] == [True] * 3
    finally:
        for reader in readers:
            reader.close()
