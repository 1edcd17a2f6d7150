"""Warehouses: one module per engine, each holding its dialect differences and its client.

A module ``sqlfeat.warehouses.<type>`` exposes ``DIALECT`` (pure, no driver needed) and
``connect(config) -> OfflineStore``; ``offline_store: {type: <type>}`` picks it, so adding a
warehouse is adding a file. Drivers are imported inside ``connect``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from sqlfeat.errors import ConfigError
from sqlfeat.warehouses.base import Dialect, OfflineStore

__all__ = ["Dialect", "OfflineStore", "get_dialect", "warehouse_module"]

# Feast spells the parquet-files offline store "file"; DuckDB is what reads those files here.
_ALIASES = {"file": "duckdb"}
KINDS = ("duckdb", "file", "postgres", "bigquery", "snowflake")


def warehouse_module(kind: str) -> ModuleType:
    name = _ALIASES.get(kind, kind)
    try:
        return importlib.import_module(f"sqlfeat.warehouses.{name}")
    except ModuleNotFoundError as err:
        if err.name != f"sqlfeat.warehouses.{name}":
            raise
        raise ConfigError(
            f"offline_store type {kind!r} is not a sqlfeat warehouse; use one of: {', '.join(KINDS)}"
        ) from None


def get_dialect(kind: str) -> Dialect:
    return warehouse_module(kind).DIALECT
