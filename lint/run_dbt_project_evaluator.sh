#!/usr/bin/env bash
# Run dbt-labs' dbt-project-evaluator against a throw-away copy of this project.
#
#   lint/run_dbt_project_evaluator.sh EVALUATOR_DIR DBT_UTILS_DIR [COPY_DIR]
#
# EVALUATOR_DIR and DBT_UTILS_DIR are local copies of dbt-labs/dbt-project-evaluator
# (v1.3.2) and dbt-labs/dbt-utils (1.4.1): the dbt package hub cannot be reached here,
# and neither package is committed. Neither they nor the project are changed: the copy gets
# the package (packages.yml, local), the evaluator's settings (lint/dbt_project_evaluator.yml
# merged into its dbt_project.yml) and the documented exceptions
# (lint/dbt_project_evaluator_exceptions.csv as its seed). Prints every finding and exits
# 1 when a fct_ model of the evaluator has a row that no exception covers, documentation or
# test coverage is below 100 %, or an exception covers no finding.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
evaluator="$(cd "$1" && pwd)"
utils="$(cd "$2" && pwd)"
copy="${3:-$(mktemp -d)/eval_copy}"
# The project to copy: this repository unless PROJECT_DIR names another checkout (to
# measure a base branch with the same settings); EXCEPTIONS may name another file.
project="$(cd "${PROJECT_DIR:-$here}" && pwd)"
exceptions="${EXCEPTIONS:-$here/lint/dbt_project_evaluator_exceptions.csv}"
dbt="${DBT:-$here/.venv/bin/dbt}"

rm -rf "$copy"
mkdir -p "$copy"
tar -C "$project" --exclude=.git --exclude=.venv --exclude=warehouse --exclude=target --exclude=logs \
    --exclude=reports --exclude=dbt_packages --exclude='*.egg-info' -cf - . | tar -C "$copy" -xf -
# The evaluator's own packages.yml names dbt_utils on the hub: a copy of it beside the project's
# copy points at the local dbt-utils instead (the local copies given are never changed).
rm -rf "$copy.evaluator"
cp -r "$evaluator" "$copy.evaluator"
printf 'packages:\n  - local: %s\n' "$utils" > "$copy.evaluator/packages.yml"
printf 'packages:\n  - local: %s\n  - local: %s\n' "$copy.evaluator" "$utils" > "$copy/packages.yml"
"$here/.venv/bin/python" - "$copy/dbt_project.yml" "$here/lint/dbt_project_evaluator.yml" <<'PY'
import sys
import yaml

def merge(into, extra):
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value

project_file, settings_file = sys.argv[1:]
with open(project_file, encoding="utf-8") as f:
    project = yaml.safe_load(f)
with open(settings_file, encoding="utf-8") as f:
    merge(project, yaml.safe_load(f))
with open(project_file, "w", encoding="utf-8") as f:
    yaml.safe_dump(project, f, allow_unicode=True, sort_keys=False)
PY
export DBT_PROFILES_DIR="$copy"
cd "$copy"
"$dbt" deps --quiet
# Run the evaluator twice: without exceptions (every raw finding, to find exceptions that no
# longer cover anything) and with the project's exceptions (what is left uncovered).
run_evaluator() {  # exceptions file, database file
    cp "$1" "$copy/seeds/dbt_project_evaluator_exceptions.csv"
    CHENGYU_DBT_DATABASE="$2" "$dbt" build --quiet --select package:dbt_project_evaluator \
        dbt_project_evaluator_exceptions --exclude-resource-type unit_test > "$2.log" 2>&1 || true
}
head -n 1 "$exceptions" > "$copy/no_exceptions.csv"
run_evaluator "$copy/no_exceptions.csv" "$copy/raw_findings.duckdb"
run_evaluator "$exceptions" "$copy/evaluator.duckdb"
"$here/.venv/bin/python" - "$copy/raw_findings.duckdb" "$copy/evaluator.duckdb" "$exceptions" <<'PY'
import csv
import sys

import duckdb

raw_file, filtered_file, exceptions_file = sys.argv[1:]
COVERAGE = {"fct_documentation_coverage": "documentation_coverage_pct", "fct_test_coverage": "test_coverage_pct"}


def findings(con):
    tables = [t for (t,) in con.execute(
        "select table_name from duckdb_tables() where table_name like 'fct_%' order by 1").fetchall()]
    return {t: con.execute(f'select * from "{t}"').fetchall() for t in tables if t not in COVERAGE}


raw = duckdb.connect(raw_file, read_only=True)
con = duckdb.connect(filtered_file, read_only=True)
raw_findings = findings(raw)
raw_count = sum(len(rows) for rows in raw_findings.values())
total = 0
# A rule whose model did not build with the exceptions (e.g. an exception naming a column the
# rule's table does not have) reports nothing: that is a failure, not a pass.
for table in sorted(set(raw_findings) - set(findings(con))):
    print(f"{table}: did not build with the exceptions (see {filtered_file}.log)")
    total += 1
for table, rows in findings(con).items():
    total += len(rows)
    for row in rows:
        print(f"{table}: {row}")
for table, column in COVERAGE.items():
    pct = con.execute(f'select {column} from "{table}"').fetchone()[0]
    print(f"{table}: {column} = {pct}")
    if pct < 100:
        total += 1
# An exception that matches no raw finding covers nothing: it goes (the evaluator compares with LIKE).
with open(exceptions_file, encoding="utf-8", newline="") as f:
    exceptions = list(csv.DictReader(f))
stale = [e for e in exceptions if not raw.execute(
    f'select count(*) from "{e["fct_name"]}" where "{e["column_name"]}" like ?', [e["id_to_exclude"]]).fetchone()[0]]
for e in stale:
    print(f"exception that covers no finding: {e['fct_name']}, {e['column_name']} like '{e['id_to_exclude']}'")
print(f"findings: {raw_count} without exceptions; {len(exceptions)} exceptions; "
      f"not covered by an exception: {total}; exceptions that cover nothing: {len(stale)}")
sys.exit(1 if total or stale else 0)
PY
