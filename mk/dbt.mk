# mk/dbt.mk -- dbt-core with its DuckDB and PostgreSQL adapters, in a venv of its own
# (.venv-dbt): dbt pins its own dependencies (protobuf, jsonschema...), so it never shares sqlfeat's
# venv. tests/test_dbt_*.py run .venv-dbt/bin/dbt as a subprocess (with CI=true a missing dbt fails).
#
# Included from the main Makefile (`include mk/dbt.mk`), which also makes `install-test` depend on
# it; usable on its own:  make -f mk/dbt.mk dbt

# including this file must not change the includer's default goal (restored at the end)
_DBT_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)
DBT_MK := $(lastword $(MAKEFILE_LIST))
PYTHON ?= python3
DBT_VENV ?= .venv-dbt
DBT_PKGS ?= 'dbt-core~=1.11.0' 'dbt-duckdb~=1.11.0' 'dbt-postgres~=1.11.0'
DBT_PIP_FLAGS ?= --disable-pip-version-check --no-input -q

.PHONY: dbt dbt-clean
dbt: $(DBT_VENV)/.done

$(DBT_VENV)/.done: $(DBT_MK)
	rm -rf $(DBT_VENV)
	$(PYTHON) -m venv $(DBT_VENV)
	$(DBT_VENV)/bin/pip install $(DBT_PIP_FLAGS) $(DBT_PKGS)
	$(DBT_VENV)/bin/dbt --version >/dev/null
	touch $@

dbt-clean:
	rm -rf $(DBT_VENV)

install-test: dbt

.DEFAULT_GOAL := $(_DBT_SAVED_DEFAULT_GOAL)
