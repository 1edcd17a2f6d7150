"""Deleting the online values of deleted feature views.

When ``apply`` deletes a feature view that was materialized, the registry records a pending
teardown for the online store its watermark names (``registry_online.py``), in the same write
that deletes the view. ``run_teardowns`` then deletes those of the configured online store (this
project's records of that view, nothing else: ``OnlineStore.teardown``) and clears each record
once its values are gone. A store that fails leaves its records pending, so the registry never
says "deleted" while values remain, and never forgets that they remain: the next ``apply``
retries, a materialization of a re-created view of the same name deletes them first, and
serving refuses such a re-created view until then (``pending_views``), so its new definition
never reads the old records. Values left in another online store (one the configuration no
longer names) are never touched: ``plan`` says where they are.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any, Protocol

from sqlfeat.errors import SqlfeatError, TeardownPendingError
from sqlfeat.online.base import OnlineView

if TYPE_CHECKING:
    from sqlfeat.online.base import OnlineStore
    from sqlfeat.registry import Registry, Teardown
    from sqlfeat.registry_online import OnlineTarget


class TeardownSurface(Protocol):
    """What teardowns use of ``FeatureStore`` (a part of ``materialize.StoreSurface``)."""

    @property
    def registry(self) -> Registry: ...
    @property
    def online_store(self) -> OnlineStore: ...
    @property
    def online_target(self) -> OnlineTarget: ...
    def refresh_registry(self) -> None: ...


def pending_views(registry: Registry, target: OnlineTarget) -> dict[str, str]:
    """Views whose deleted namesake's online values are still in ``target``: view -> where."""
    return {t.view: t.target.describe() for t in registry.pending_teardowns(target)}


def run_teardowns(store: TeardownSurface, views: Collection[str] | None = None, plan: Any = None) -> list[Teardown]:
    """Delete the pending teardowns of the configured online store (only those of ``views`` when
    given) and clear their records; return those done. Raises ``TeardownPendingError`` (with
    ``plan``, the plan an apply just wrote) when the store fails: the rest stay pending."""
    target = store.online_target
    pending = [t for t in store.registry.pending_teardowns(target) if views is None or t.view in views]
    if not pending:
        return []
    done: list[Teardown] = []
    failure: SqlfeatError | None = None
    try:
        online = store.online_store
        for teardown in pending:
            online.teardown(OnlineView(target.project, teardown.view, (), (), (), ()))
            done.append(teardown)
    except SqlfeatError as err:  # unreachable, or its driver missing: the records stay pending
        failure = err
    if done:
        with store.registry.transaction() as registry:
            for teardown in done:
                registry.teardown_done(teardown)
        store.refresh_registry()
    if failure is not None:
        left = ", ".join(t.view for t in pending if t not in done)
        written = "The registry was written (the views are deleted from it). " if plan is not None else ""
        raise TeardownPendingError(
            f"the online values of deleted feature view(s) {left} could not be deleted: {failure}\n{written}"
            f"The registry keeps them as pending deletion from {target.describe()}: the next `sqlfeat apply` deletes "
            "them (so does materializing a re-created view of the same name), and until then get_online_features "
            "refuses a re-created view of that name rather than serve the old values.",
            plan,
        )
    return done
