"""Every error sqlfeat raises on purpose.

    SqlfeatError
    ├── ConfigError              feature_store.yaml missing, unreadable or with a bad key
    ├── DefinitionError          a definition is invalid (duplicate name, unknown entity, bad dtype...)
    │   └── SchemaMismatchError  a source lacks a declared column or has another type
    ├── RegistryError            the registry file is missing or unreadable; apply not run
    ├── FeatureReferenceError    "view:feature" names something that is not registered
    ├── EntityDataFrameError     the spine (entity_df) is not usable: keys, timestamps, collisions
    │   └── EntityRowError       an online entity row lacks a join key or has a key of the wrong type
    ├── WarehouseError           the warehouse failed running compiled SQL
    └── OnlineStoreError         the online store is unreachable or failed a read or a write

Each message names the offending object and says how to fix it.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DefinitionError",
    "EntityDataFrameError",
    "EntityRowError",
    "FeatureReferenceError",
    "OnlineStoreError",
    "RegistryError",
    "SchemaMismatchError",
    "SqlfeatError",
    "WarehouseError",
]


class SqlfeatError(Exception):
    """Base class of every error sqlfeat raises deliberately."""


class ConfigError(SqlfeatError):
    """feature_store.yaml is missing, unreadable or has an invalid key."""


class DefinitionError(SqlfeatError):
    """A feature definition is invalid."""


class SchemaMismatchError(DefinitionError):
    """A source does not have a declared column, or has it with another type."""


class RegistryError(SqlfeatError):
    """The registry is missing or unreadable."""


class FeatureReferenceError(SqlfeatError):
    """A feature reference names a view or feature that is not registered."""


class EntityDataFrameError(SqlfeatError):
    """The entity DataFrame (spine) cannot be used as given."""


class WarehouseError(SqlfeatError):
    """The warehouse failed to run compiled SQL."""


class EntityRowError(EntityDataFrameError):
    """An entity row given to ``get_online_features`` lacks a join key or has the wrong key type."""


class OnlineStoreError(SqlfeatError):
    """The online store is unreachable, or failed a read or a write."""
