"""Fast tests of `chengyu sql`'s statement check and printer on an in-memory database."""

from __future__ import annotations

import io

import duckdb
import pytest

from chengyu_cluster.access import Printer, QueryRefused, check_read_only


@pytest.fixture
def con():
    connection = duckdb.connect(config={"enable_external_access": False})
    connection.execute("create table t as select 1 as a")
    yield connection
    connection.close()


@pytest.mark.parametrize("sql", ["select * from t", "from t", "describe t", "show tables", "summarize t",
                                 "pragma table_info('t')", "with x as (select 1) select * from x",
                                 "select * from range(3)", "select 1; select 2"])
def test_reads_pass(con, sql):
    assert check_read_only(con, sql)


@pytest.mark.parametrize("sql,words", [
    ("insert into t values (2)", "INSERT statements"), ("set threads = 1", "SET statements"),
    ("checkpoint", "CALL statements"), ("load httpfs", "LOAD statements"), ("begin", "TRANSACTION statements"),
    ("select * from checkpoint()", "cannot call checkpoint"),
    ("select * from t where a in (select * from query('select 1'))", "cannot call query"),
    ("with x as (select * from glob('/etc/*')) select * from x", "cannot call glob"),
    ("select 1; drop table t", "DROP statements"),
])
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


@pytest.mark.parametrize("args,words", [
    (["validate", "--max-input-mb", "nan"], "must be a positive number"),
    (["validate", "--max-input-mb", "-1"], "must be a positive number"),
    (["validate", "--sector-output", ""], "the path is empty"),
    (["build", "--keep-versions", "0"], "must be at least 1"),
    (["sql", "--max-rows", "-1", "select 1"], "must be at least 0"),
    (["publish-postgres", "--dsn", "x", "--schema", "Bad"], "not a plain lower-case PostgreSQL name"),
    (["publish-postgres", "--dsn", "x", "--lock-timeout", "nan"], "must be 0 (wait without limit)"),
    (["build", "--pg-lock-timeout", "-1"], "must be 0 (wait without limit)"),
])
def test_bad_option_values_are_usage_errors(args, words, capsys):
    from chengyu_cluster.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2 and words in capsys.readouterr().err
