"""Warehouses: one module per engine, each holding its dialect differences and its client.

A module ``sqlfeat.warehouses.<name>`` exposes ``DIALECT`` (pure, no driver needed) and
``connect(options, repo_path) -> OfflineStore`` (its driver imported inside). ``WAREHOUSES`` below
is the one list of them: ``offline_store: {type: ...}``, ``sqlfeat check --dialect``, the CLI's
choices and the docs all read it. Adding a warehouse is adding its file and its line here.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

from sqlfeat.errors import ConfigError
from sqlfeat.warehouses.base import Dialect, OfflineStore

__all__ = ["ALIASES", "WAREHOUSES", "Dialect", "OfflineStore", "connect_warehouse", "get_dialect", "warehouse_module"]

# name -> the pyproject extra that installs its driver (None: in the base install).
WAREHOUSES: dict[str, str | None] = {
    "duckdb": None,
    "postgres": "postgres",
    "bigquery": "bigquery",
    "snowflake": "snowflake",
    "spark": "spark",
}
# Feast spells the parquet-files offline store "file"; DuckDB is what reads those files here.
ALIASES = {"file": "duckdb"}


def warehouse_module(kind: str) -> ModuleType:
    name = ALIASES.get(kind, kind) if isinstance(kind, str) else kind
    if name not in WAREHOUSES:
        choices = ", ".join([*WAREHOUSES, *ALIASES])
        raise ConfigError(f"offline_store type {kind!r} is not a sqlfeat warehouse; use one of: {choices}")
    return importlib.import_module(f"sqlfeat.warehouses.{name}")


def get_dialect(kind: str) -> Dialect:
    return warehouse_module(kind).DIALECT


def connect_warehouse(options: dict[str, Any], repo_path: Path) -> OfflineStore:
    """Connect to the warehouse ``options`` (the ``offline_store`` section) describes."""
    kind = options.get("type", "duckdb")
    module = warehouse_module(kind)
    try:
        return module.connect(options, repo_path)
    except ImportError as err:
        extra = WAREHOUSES[ALIASES.get(kind, kind)]
        raise ConfigError(
            f"offline_store type {kind!r} needs a driver that is not installed ({err.name or err}); "
            f"install it with: pip install 'sqlfeat[{extra}]'"
        ) from None
