# The two commands a newcomer needs: `make build` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export DBT_PROFILES_DIR := $(CURDIR)

.PHONY: build test lint rollback clean bench bench-spark

$(BIN)/.installed: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev,spark]"
	touch $@

build: $(BIN)/.installed
	$(BIN)/chengyu build

# Fast unit tests first (no build; stop at the first failure), then lint, then the
# end-to-end tests on both cores (one test file per worker: a file's builds share fixtures).
test: $(BIN)/.installed
	$(BIN)/python -m pytest tests/unit -x -q
	$(MAKE) --no-print-directory lint
	$(BIN)/python -m pytest -n 2 --dist loadfile --ignore=tests/unit

# dbt-bouncer goes into the project's venv beside the locked packages (it changes none of them).
$(BIN)/.bouncer-installed: requirements-bouncer.txt $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -c requirements.lock -r requirements-bouncer.txt
	touch $@

# dbt-score parses the project first, so dbt-bouncer reads a fresh target/manifest.json
# (dbt-bouncer.yml: dbt-project-evaluator's rules and their reasoned exceptions).
lint: $(BIN)/.installed $(BIN)/.bouncer-installed
	$(BIN)/ruff check src tests benchmarks bi
	$(BIN)/sqlfluff lint --processes 2 models analyses tests/dbt
	$(BIN)/dbt-score lint --run-dbt-parse
	$(BIN)/dbt-bouncer run --config-file dbt-bouncer.yml

rollback: $(BIN)/.installed
	$(BIN)/chengyu rollback

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/bench_build.py

# The microdata layer at 10M invoices on DuckDB and on Spark local[2] (about 45 min; README).
bench-spark: $(BIN)/.installed
	$(BIN)/python benchmarks/bench_spark.py --size 10M --layer full --driver-memory 3g

clean:
	rm -rf target logs warehouse/*.duckdb warehouse/versions warehouse/spark reports
