# `make demo` runs the main job on the embedded default (DuckDB + SQLite);
# `make test` installs everything the tests need and runs them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/sqlfeat quickstart

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/pit.py --markdown

clean:
	rm -rf $(VENV) .pytest_cache benchmarks/.data
