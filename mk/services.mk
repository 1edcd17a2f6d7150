# mk/services.mk -- local stand-ins for cloud warehouses used by the service tests.
#
# Meant to be included from the main Makefile (`include mk/services.mk`), but also
# usable on its own:  make -f mk/services.mk services
#
# Every variable is `?=` so the including Makefile can override it.
#
#   PYTHON            interpreter used to create .venv-fakesnow (any Python >= 3.10)
#   VENV              the project's main venv (used by `services-clients`)
#   FAKESNOW_VENV     venv holding the fakesnow server (pins its own duckdb/sqlglot)
#   BIGQUERY_VENV     venv holding local-bigquery (needs Python >= 3.13)
#   BIGQUERY_PYTHON   Python >= 3.13; found at run time (pyenv, then PATH) if unset
#   (the clients the main venv needs are pyproject's `all` and `test` extras)

# this file's own path (rebuild the venvs when their recipe changes)
SERVICES_MK := $(lastword $(MAKEFILE_LIST))
# including this file must not change the includer's default goal (restored at the end)
_SERVICES_SAVED_DEFAULT_GOAL := $(or $(.DEFAULT_GOAL),$(if $(filter 1,$(words $(MAKEFILE_LIST))),services))

PYTHON ?= python3
VENV ?= .venv
FAKESNOW_VENV ?= .venv-fakesnow
BIGQUERY_VENV ?= .venv-bigquery
SERVICES_PIP_FLAGS ?= --disable-pip-version-check --no-input -q

# fakesnow 0.12 does not declare it, but it breaks on snowflake-connector-python 5.x
# (ModuleNotFoundError: snowflake.connector.converter): pin the server's connector too.
FAKESNOW_PKGS ?= 'fakesnow[server]' 'snowflake-connector-python<5'
LOCAL_BIGQUERY_PKGS ?= local-bigquery
# local-bigquery cannot download DuckDB extensions offline: install them from wheels.
# (spatial too: its GEOGRAPHY macros autoload it when the server opens its database, so
# without it every request fails with 'Failed to download extension "spatial"'.)
LOCAL_BIGQUERY_DUCKDB_VERSION ?= 1.5.5
LOCAL_BIGQUERY_DUCKDB_PKGS ?= duckdb==$(LOCAL_BIGQUERY_DUCKDB_VERSION) \
	duckdb-extension-ducklake==$(LOCAL_BIGQUERY_DUCKDB_VERSION) \
	duckdb-extension-icu==$(LOCAL_BIGQUERY_DUCKDB_VERSION) \
	duckdb-extension-spatial==$(LOCAL_BIGQUERY_DUCKDB_VERSION)


# First Python >= 3.13: newest pyenv 3.13+ version (pyenv root, $PYENV_ROOT or ~/.pyenv),
# then python3.14 / python3.13 / python3 on PATH.  Recursively expanded: only evaluated
# when the bigquery venv is actually built.
_SERVICES_PYENV_ROOT = $$( (pyenv root 2>/dev/null) || echo "$${PYENV_ROOT:-$$HOME/.pyenv}")
BIGQUERY_PYTHON ?= $(shell \
	for p in $$(ls -d $(_SERVICES_PYENV_ROOT)/versions/3.[0-9]* 2>/dev/null | sort -rV | sed 's|$$|/bin/python|') \
	         python3.15 python3.14 python3.13 python3; do \
	  if "$$p" -c 'import sys; sys.exit(sys.version_info < (3, 13))' >/dev/null 2>&1; then \
	    command -v "$$p" 2>/dev/null || echo "$$p"; break; \
	  fi; \
	done)

.PHONY: services services-clean

services: $(FAKESNOW_VENV)/.done $(BIGQUERY_VENV)/.done

$(FAKESNOW_VENV)/.done: $(SERVICES_MK)
	rm -rf $(FAKESNOW_VENV)
	$(PYTHON) -m venv $(FAKESNOW_VENV)
	$(FAKESNOW_VENV)/bin/pip install $(SERVICES_PIP_FLAGS) $(FAKESNOW_PKGS)
	$(FAKESNOW_VENV)/bin/fakesnow --help >/dev/null
	touch $@

$(BIGQUERY_VENV)/.done: $(SERVICES_MK)
	@py='$(BIGQUERY_PYTHON)'; \
	if [ -z "$$py" ]; then \
	  echo "services.mk: no Python >= 3.13 found (pyenv versions or python3.13 on PATH); set BIGQUERY_PYTHON=..." >&2; \
	  exit 1; \
	fi; \
	echo "services.mk: local-bigquery venv uses $$py ($$("$$py" --version 2>&1))"
	rm -rf $(BIGQUERY_VENV)
	'$(BIGQUERY_PYTHON)' -m venv $(BIGQUERY_VENV)
	$(BIGQUERY_VENV)/bin/pip install $(SERVICES_PIP_FLAGS) $(LOCAL_BIGQUERY_PKGS)
	$(BIGQUERY_VENV)/bin/pip install $(SERVICES_PIP_FLAGS) --no-deps $(LOCAL_BIGQUERY_DUCKDB_PKGS)
	mkdir -p $(BIGQUERY_VENV)/home
	# INSTALL every extension file the duckdb-extension-* wheels ship into $$HOME/.duckdb/extensions/
	HOME="$(abspath $(BIGQUERY_VENV))/home" $(BIGQUERY_VENV)/bin/python -c '\
	import duckdb, glob, os, sys; \
	v = duckdb.__version__.lstrip("v"); \
	files = [f for f in sorted(glob.glob(os.path.join(sys.prefix, "lib", "python*", "site-packages", "duckdb_extension_*", "extensions", "*", "*.duckdb_extension"))) if os.path.basename(os.path.dirname(f)).lstrip("v") == v]; \
	files or sys.exit("services.mk: no duckdb extension files shipped for duckdb " + v); \
	con = duckdb.connect(); \
	[(con.execute("INSTALL " + chr(39) + f.replace(chr(39), chr(39) * 2) + chr(39)), print("installed", f)) for f in files]; \
	[con.execute("LOAD " + os.path.basename(f).split(".")[0]) for f in files]'
	$(BIGQUERY_VENV)/bin/local-bigquery --help >/dev/null
	touch $@

services-clean:
	rm -rf $(FAKESNOW_VENV) $(BIGQUERY_VENV)

.DEFAULT_GOAL := $(_SERVICES_SAVED_DEFAULT_GOAL)
