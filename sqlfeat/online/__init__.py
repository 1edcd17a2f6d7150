"""The online side: stores (one module each), materialization, serving and consistency.

- ``sqlite.py``, ``redis.py``, ``dynamodb.py``: one file per online store, each with a
  ``connect(options, project, repo_path) -> OnlineStore`` (its driver imported inside) and
  ``build(...)``, the same store not connected (no driver);
  ``STORES`` below is the one list of them (``online_store: {type: ...}`` picks one).
  ``dynamodb_limits.py`` holds DynamoDB's size rules (key, item, request), checked before sending.
- ``base.py``: what every store does and shares (record layout, keys, ``WriteResult`` and
  ``Rejection``: what a store reports of a batch, entities it cannot hold included).
- ``materialize.py``: latest-values SQL from the warehouse, streamed into a store; watermarks.
- ``teardown.py``: deleting the online values of views ``apply`` deleted (pending until done).
- ``serving.py``: ``get_online_features``: batched reads, TTL enforced at read time.
- ``response.py``: ``OnlineResponse`` (Feast's ``to_dict`` / ``to_df`` / ``to_arrow``) and a
  ``FieldStatus`` per value.
- ``consistency.py``: online values against the point-in-time result at the watermark.

Adding a store is adding its file and its line in ``STORES``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

from sqlfeat.errors import ConfigError
from sqlfeat.online.base import OnlineRows, OnlineStore, OnlineView

__all__ = ["STORES", "OnlineRows", "OnlineStore", "OnlineView", "available_types", "connect_online_store", "describe_online_store",
           "online_module"]

# type -> the pyproject extra that installs its driver (None: in the base install).
STORES: dict[str, str | None] = {
    "sqlite": None,
    "redis": "redis",
    "dynamodb": "dynamodb",
}


def available_types() -> list[str]:
    return sorted(STORES)


def online_module(type_name: str) -> ModuleType:
    """The module implementing online store ``type_name``; a ConfigError names the valid ones."""
    if not isinstance(type_name, str) or type_name not in STORES:
        raise ConfigError(
            f"feature_store.yaml: online_store type {type_name!r} is not supported; use one of "
            f"{available_types()}"
        )
    return importlib.import_module(f"sqlfeat.online.{type_name}")


def describe_online_store(options: dict[str, Any], project: str, repo_path: Path) -> str:
    """Where ``options`` point (host, port, database, path, table; never a secret), without
    connecting or needing the driver: the identity materialization watermarks belong to."""
    return online_module(options.get("type", "sqlite")).build(options, project, repo_path).describe()


def connect_online_store(options: dict[str, Any], project: str, repo_path: Path) -> OnlineStore:
    """Open the online store ``options`` (the ``online_store`` section) describes."""
    type_name = options.get("type", "sqlite")
    module = online_module(type_name)
    try:
        return module.connect(options, project, repo_path)
    except ImportError as err:
        raise ConfigError(
            f"online_store type {type_name!r} needs a driver that is not installed ({err.name or err}); "
            f"install it with: pip install 'sqlfeat[{STORES[type_name]}]'"
        ) from None
