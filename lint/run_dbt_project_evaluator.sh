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
# 1 when a fct_ model of the evaluator has a row that no exception covers.
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
cp "$exceptions" "$copy/seeds/dbt_project_evaluator_exceptions.csv"

export DBT_PROFILES_DIR="$copy" CHENGYU_DBT_DATABASE="$copy/evaluator.duckdb"
cd "$copy"
"$dbt" deps --quiet
"$dbt" build --quiet --select package:dbt_project_evaluator dbt_project_evaluator_exceptions \
    --exclude-resource-type unit_test > "$copy/evaluator.log" 2>&1 || true
"$here/.venv/bin/python" - "$copy/evaluator.duckdb" <<'PY'
import sys
import duckdb

con = duckdb.connect(sys.argv[1], read_only=True)
tables = [t for (t,) in con.execute(
    "select table_name from duckdb_tables() where table_name like 'fct_%' and table_name not in "
    "('fct_documentation_coverage', 'fct_test_coverage') order by 1").fetchall()]
total = 0
for table in tables:
    rows = con.execute(f'select * from "{table}"').fetchall()
    total += len(rows)
    for row in rows:
        print(f"{table}: {row}")
for table, column in (("fct_documentation_coverage", "documentation_coverage_pct"),
                      ("fct_test_coverage", "test_coverage_pct")):
    pct = con.execute(f'select {column} from "{table}"').fetchone()[0]
    print(f"{table}: {column} = {pct}")
    if pct < 100:
        total += 1
print(f"findings not covered by an exception: {total}")
sys.exit(1 if total else 0)
PY
