# The two commands a newcomer needs: `make build` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export DBT_PROFILES_DIR := $(CURDIR)

.PHONY: build test rollback clean bench

$(BIN)/.installed: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev]"
	touch $@

build: $(BIN)/.installed
	$(BIN)/chengyu build

test: $(BIN)/.installed
	$(BIN)/python -m pytest

rollback: $(BIN)/.installed
	$(BIN)/chengyu rollback

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/bench_build.py

clean:
	rm -rf target logs warehouse/*.duckdb warehouse/versions reports
