# `make demo` runs the main job on the embedded default (DuckDB + SQLite);
# `make test` installs everything the tests need (clients, emulator venvs) and runs them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP_FLAGS ?= --disable-pip-version-check --no-input -q

.PHONY: install install-test demo test bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_FLAGS) --upgrade pip
	$(BIN)/pip install $(PIP_FLAGS) -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install $(PIP_FLAGS) -e '.[all,test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test services

demo: install
	$(BIN)/sqlfeat quickstart

# CI=true makes a test whose server cannot start fail instead of skip.
# lint-imports checks the package's layers ([tool.importlinter] in pyproject.toml).
test: install-test
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q

bench: install-test
	$(BIN)/python benchmarks/pit.py --markdown

clean: services-clean dbt-clean
	rm -rf $(VENV) .pytest_cache benchmarks/.data

# Emulator servers in venvs of their own (fakesnow, local-bigquery): see docs/emulators.md.
include mk/services.mk
# Debian's chromium + chromedriver for the catalog's browser test: see mk/browser.mk.
include mk/browser.mk
# dbt-core and its DuckDB/PostgreSQL adapters for the dbt interop tests: see mk/dbt.mk.
include mk/dbt.mk
# A Java runtime for pyspark's local mode (the Spark warehouse's tests): see mk/spark.mk.
include mk/spark.mk
