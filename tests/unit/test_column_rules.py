"""The generic test column_rules (macros/generic_tests.sql) fails on the rows each one-column
or grain test it stands for fails on: unique_combination (the grain), unique, not_null,
accepted_values, within_range, non_negative, expression_is_true and relationships. A scratch dbt
project with the repository's macro and one model of known rows, built by real dbt into a scratch
DuckDB file; the test's failing rows are read from its stored failures."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[2]

# Six rows; each rule is broken by the rows named in EXPECTED, and NULLs pass every rule
# except not_null and the grain (as in dbt's accepted_values, relationships and unique and in
# expression_is_true, where a NULL comparison is not false; a grain counts NULL as a value).
# Row 6 repeats row 3's NULLs.
ROWS = """
select * from (values
    (1, 'a',  0.5,  2,    'x'),
    (2, 'b',  1.5,  -1,   'y'),
    (3, null, null, null, null),
    (4, 'z',  -0.1, 3,    'x'),
    (5, 'a',  0.0,  -2,   'w'),
    (6, null, null, null, null)
) as t (row_id, code, share, amount, parent_code)
"""

PARENT = "select 'x' as parent_code union all select 'y'"

SCHEMA = """
version: 2
models:
  - name: parent
    description: Parent keys.
    columns: [{name: parent_code, description: Key.}]
  - name: checked
    description: Rows with known breaks.
    data_tests:
      - column_rules:
          name: column_rules_checked
          arguments:
            grain: [code, parent_code]
            unique: [code, row_id]
            not_null: [code, row_id]
            accepted_values:
              code: [a, b]
              amount: [2, 3, -1]
            within_range:
              share: {min_value: 0, max_value: 1}
              amount: {min_value: -1}
            non_negative: [amount]
            relationships:
              parent_code: {to: ref('parent'), field: parent_code}
            expressions:
              - "share <= 1 or amount > 0"
          config: {store_failures: true}
    columns:
      - {name: row_id, description: Id.}
      - {name: code, description: Code.}
      - {name: share, description: Share.}
      - {name: amount, description: Amount.}
      - {name: parent_code, description: Parent.}
"""

EXPECTED = {
    ("unique_combination(code, parent_code)", "NULL, NULL", 2),  # rows 3 and 6
    ("unique(code)", "a", 2),  # rows 1 and 5 (the NULLs of rows 3 and 6 are not compared)
    ("not_null(code)", None, 2),  # rows 3 and 6
    ("accepted_values(code)", "z", 1),  # row 4 (the NULLs of rows 3 and 6 pass)
    ("accepted_values(amount)", "-2", 1),  # row 5, numbers compared as numbers (NULLs pass)
    ("within_range(share)", "1.5", 1),  # row 2: above 1
    ("within_range(share)", "-0.1", 1),  # row 4: below 0
    ("within_range(amount)", "-2", 1),  # row 5: below -1 (row 2's -1 is the bound itself)
    ("non_negative(amount)", "-1", 1),  # row 2
    ("non_negative(amount)", "-2", 1),  # row 5
    ("relationships(parent_code -> parent.parent_code)", "w", 1),  # row 5 (the NULLs of rows 3 and 6 pass)
    # Row 2: 1.5 <= 1 is false and -1 > 0 is false; rows 3 and 6: NULL or NULL is NULL, which passes.
    ("expression_is_true: share <= 1 or amount > 0", None, 1),
}


def build(project: Path, rows: str):
    """The scratch project (the repository's generic tests, the two models) built by dbt."""
    from dbt.cli.main import dbtRunner

    (project / "macros").mkdir()
    shutil.copy(REPO / "macros" / "generic_tests.sql", project / "macros")
    (project / "models").mkdir()
    (project / "models" / "checked.sql").write_text(rows)
    (project / "models" / "parent.sql").write_text(PARENT)
    (project / "models" / "schema.yml").write_text(SCHEMA)
    (project / "dbt_project.yml").write_text(
        "name: column_rules_check\nversion: '1.0'\nprofile: scratch\nmodels: {+materialized: table}\n"
    )
    (project / "profiles.yml").write_text(
        "scratch:\n  target: dev\n  outputs:\n"
        f"    dev: {{type: duckdb, path: '{project / 'scratch.duckdb'}', threads: 1}}\n"
    )
    return dbtRunner().invoke(["build", "--quiet", "--project-dir", str(project), "--profiles-dir", str(project)])


@pytest.fixture(scope="module")
def failures(tmp_path_factory) -> set[tuple]:
    project = tmp_path_factory.mktemp("column_rules")
    result = build(project, ROWS)
    # The build fails on the test: what a broken rule does to `chengyu build` (exit 4).
    assert not result.success
    statuses = {r.node.resource_type: r.status for r in result.result.results if r.node.resource_type == "test"}
    assert statuses == {"test": "fail"}
    (failed,) = [r for r in result.result.results if r.node.resource_type == "test"]
    assert failed.node.name == "column_rules_checked" and failed.failures == len(EXPECTED)
    # dbt-duckdb keeps the file open in this process: a second connection must not differ in mode.
    con = duckdb.connect(str(project / "scratch.duckdb"))
    try:
        (table,) = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_name like 'column_rules%'"
        ).fetchone()
        return set(con.execute(f"select failed_check, failing_value, n_rows from {table}").fetchall())
    finally:
        con.close()


def test_each_rule_fails_on_its_rows(failures):
    assert failures == EXPECTED


def test_rows_that_break_no_rule_pass(tmp_path):
    result = build(tmp_path, "select 1 as row_id, 'a' as code, 0.5 as share, 2 as amount, 'x' as parent_code")
    assert result.success
