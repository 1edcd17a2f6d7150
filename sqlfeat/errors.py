"""Every error sqlfeat raises on purpose, and the exit status the CLI gives each.

    SqlfeatError                 exit 1 unless said otherwise
    ├── UsageError               exit 2: a call or command line asks for something impossible
    │   │                        (start after end, an unknown strategy, a naive datetime)
    │   ├── ConfigError          exit 2: feature_store.yaml missing, unreadable or with a bad key;
    │   │                        a driver that is not installed
    │   ├── FeatureReferenceError exit 2: "view:feature" names something that is not registered
    │   │                        (also a KeyError, as in Feast)
    │   └── OutputPathError      exit 2: an output path would overwrite or delete files sqlfeat did
    │                            not write (a non-empty foreign folder, a foreign file), or its
    │                            folder is missing
    ├── DefinitionError          a definition is invalid (duplicate name, unknown entity, bad dtype...)
    │   └── SchemaMismatchError  a source lacks a declared column or has another type
    ├── RegistryError            the registry file is missing or unreadable; apply not run
    ├── EntityDataFrameError     the spine (entity_df) is not usable: keys, timestamps, collisions
    │   └── EntityRowError       an online entity row lacks a join key or has a key of the wrong type
    ├── WarehouseError           the warehouse failed running compiled SQL (``.sql`` holds it)
    └── OnlineStoreError         the online store is unreachable, or failed a read or a write
        ├── RejectedEntitiesError a run wrote what it could; the store refused some entities (a
        │                        size limit), which no rerun writes (``.report`` is the run's)
        └── TeardownPendingError the online values of deleted views are not deleted yet (the store
                                 was unreachable); the registry records them, apply retries

Each message names the offending object and says how to fix it. Messages never carry SQL text
(a ``WarehouseError`` keeps it in ``.sql``) and never a secret.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ConfigError",
    "DefinitionError",
    "EntityDataFrameError",
    "EntityRowError",
    "FeatureReferenceError",
    "OnlineStoreError",
    "OutputPathError",
    "RegistryError",
    "RejectedEntitiesError",
    "SchemaMismatchError",
    "SqlfeatError",
    "TeardownPendingError",
    "UsageError",
    "WarehouseError",
]


class SqlfeatError(Exception):
    """Base class of every error sqlfeat raises deliberately. Its message is redacted when the
    error is made (no password of the configuration, none inside a URL), so no caller can leak it."""

    #: The CLI's exit status for this error: 1 a run or check failed, 2 usage or configuration.
    exit_code = 1

    def __init__(self, message: object = "", *args: object) -> None:
        from sqlfeat.redact import redact

        super().__init__(redact(message), *args)


class UsageError(SqlfeatError):
    """A call or a command line asks for something that cannot be done as given."""

    exit_code = 2


class ConfigError(UsageError):
    """feature_store.yaml is missing, unreadable or has an invalid key."""


class FeatureReferenceError(UsageError, KeyError):
    """A feature reference names a view or feature that is not registered.

    Also a ``KeyError``, as Feast raises for an unknown feature, so Feast code that catches
    ``KeyError`` keeps working; its message reads as written (``KeyError`` would quote it)."""

    def __str__(self) -> str:
        return Exception.__str__(self)


class OutputPathError(UsageError):
    """An output path sqlfeat may not write: it holds files sqlfeat did not write, or its folder
    is missing (``sqlfeat.files`` owns the rule)."""


class DefinitionError(SqlfeatError):
    """A feature definition is invalid."""


class SchemaMismatchError(DefinitionError):
    """A source does not have a declared column, or has it with another type."""


class RegistryError(SqlfeatError):
    """The registry is missing or unreadable."""


class EntityDataFrameError(SqlfeatError):
    """The entity DataFrame (spine) cannot be used as given."""


class EntityRowError(EntityDataFrameError):
    """An entity row given to ``get_online_features`` lacks a join key or has the wrong key type."""


class PushedDataError(UsageError):
    """A DataFrame given to ``push`` / ``write_to_online_store`` / ``write_to_offline_store`` lacks
    a column the feature view needs, or holds a value of the wrong type."""


class WarehouseError(SqlfeatError):
    """The warehouse failed to run compiled SQL; ``sql`` is the statement that failed, if any."""

    def __init__(self, message: str, sql: str | None = None) -> None:
        from sqlfeat.redact import redact

        super().__init__(message)
        self.sql = redact(sql) if sql is not None else None


class OnlineStoreError(SqlfeatError):
    """The online store is unreachable, or failed a read or a write."""

    #: Whether running the same command again can succeed: True for an outage or throttling;
    #: False when the store refused the request itself, which a rerun sends again unchanged.
    transient = True


class RejectedEntitiesError(OnlineStoreError):
    """A materialization wrote every entity it could, but the online store refused some because
    they break one of its limits (a DynamoDB key over 2,048 bytes, an item over 400 KB).

    ``report`` is the run's ``MaterializationReport``: the watermarks moved as for a successful
    run, and it names the rejected entities and counts them per view.
    """

    transient = False

    def __init__(self, message: str, report: Any = None) -> None:
        super().__init__(message)
        self.report = report


class TeardownPendingError(OnlineStoreError):
    """The online values of deleted feature views could not be deleted (the online store failed).

    The registry records them as pending teardowns, so the fact is never lost: the next ``apply``
    (or a materialization of a re-created view of the same name) deletes them, and until then
    ``get_online_features`` refuses a re-created view rather than serve them. ``plan`` is the
    ``RegistryPlan`` that was applied, when an apply raised it.
    """

    def __init__(self, message: str, plan: Any = None) -> None:
        super().__init__(message)
        self.plan = plan
