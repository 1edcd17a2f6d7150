"""Online stores, one module each: ``online_store: {type: X}`` loads ``sqlfeat.online.X``.

There is no central registry: adding a store is adding ``sqlfeat/online/<type>.py`` with a
``connect(options, project, repo_path) -> OnlineStore`` function (see ``base.py``).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path
from types import ModuleType
from typing import Any

from sqlfeat.errors import ConfigError
from sqlfeat.online.base import OnlineRows, OnlineStore, OnlineView

__all__ = ["OnlineRows", "OnlineStore", "OnlineView", "available_types", "connect_online_store", "online_module"]

_NOT_STORES = {"base"}
# Extras that install each store's driver (pyproject [project.optional-dependencies]).
_EXTRAS = {"redis": "redis", "dynamodb": "dynamodb"}


def available_types() -> list[str]:
    return sorted(
        m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_") and m.name not in _NOT_STORES
    )


def online_module(type_name: str) -> ModuleType:
    """The module implementing online store ``type_name``; a ConfigError names the valid ones."""
    name = str(type_name)
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or name in _NOT_STORES or name not in available_types():
        raise ConfigError(
            f"feature_store.yaml: online_store type {type_name!r} is not supported; use one of "
            f"{available_types()}"
        )
    return importlib.import_module(f"sqlfeat.online.{name}")


def connect_online_store(options: dict[str, Any], project: str, repo_path: Path) -> OnlineStore:
    """Open the online store ``options`` (the ``online_store`` section) describes."""
    type_name = options.get("type", "sqlite")
    module = online_module(type_name)
    try:
        return module.connect(options, project, repo_path)
    except ImportError as err:
        extra = _EXTRAS.get(type_name, type_name)
        raise ConfigError(
            f"online_store type {type_name!r} needs a driver that is not installed ({err.name or err}); "
            f"install it with: pip install 'sqlfeat[{extra}]'"
        ) from None
