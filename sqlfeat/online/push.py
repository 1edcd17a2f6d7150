"""Direct online writes: ``write_to_online_store`` and ``push(..., to=PushMode.ONLINE)``.

Pushed rows go through the same ``OnlineStore.write_batch`` as materialization, so they obey the
same contract (docs/online-stores.md, "Push and direct writes"): one entity's features of one view
are one record, written whole or not at all, and only when the row is at least as new, by (event
time, created time), as the stored one; a row without a created time loses a tie against a stored
row with one. Several rows of one entity in one push: the newest is written (on a tie, the later
row of the DataFrame). Pushing never moves a view's materialization watermark.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlfeat.errors import FeatureReferenceError, OnlineStoreError, PushedDataError, RejectedEntitiesError
from sqlfeat.online.base import OnlineView, batch_keys, batch_times
from sqlfeat.online.teardown import run_teardowns
from sqlfeat.push_frames import PushedRows

if TYPE_CHECKING:
    import pyarrow as pa

    from sqlfeat.definitions import FeatureView
    from sqlfeat.online.base import OnlineStore
    from sqlfeat.online.teardown import TeardownSurface

# Entities per write_batch call: a store writes a batch in chunks of its own.
PUSH_BATCH_ROWS = 10_000


@dataclass
class OnlineWrite:
    """What one direct write did: entities handed to the store (written, or kept out by a newer
    stored row) out of the DataFrame's rows."""

    view: str
    rows: int
    entities: int = 0


def check_online(view: FeatureView) -> None:
    if not view.online:
        raise FeatureReferenceError(
            f"feature view {view.name!r} has online=False, so nothing reads its online values; set online=True "
            "and run `sqlfeat apply`, or write to the offline store only"
        )
    if view.aggregations:
        raise PushedDataError(
            f"feature view {view.name!r} computes windowed aggregates, whose online values only materialization "
            "writes; push its raw events offline (to=PushMode.OFFLINE) and run `sqlfeat materialize-incremental`"
        )


def newest_per_entity(layout: OnlineView, table: pa.Table) -> pa.Table:
    """One row per entity: the newest by (event time, created time); on a tie, the later row."""
    if table.num_rows == 0:
        return table
    batch = table.combine_chunks().to_batches()[0]
    keys = batch_keys(layout, batch)
    event, created = batch_times(batch)
    newest: dict[str, int] = {}
    for index, key in enumerate(keys):
        best = newest.get(key)
        if best is None or (event[index], _or_min(created[index])) >= (event[best], _or_min(created[best])):
            newest[key] = index
    if len(newest) == table.num_rows:
        return table
    return table.take(sorted(newest.values()))


def _or_min(value: int | None) -> float:
    return -math.inf if value is None else value


def write_online(store: TeardownSurface, online: OnlineStore, project: str, pushed: PushedRows) -> OnlineWrite:
    """Write checked rows (``push_frames.pushed_rows``) to the online store."""
    layout = OnlineView.from_request(project, pushed.request)
    check_online(pushed.request.view)
    # A re-created view whose deleted namesake's values are still online: delete those first.
    run_teardowns(store, [layout.name])
    table = newest_per_entity(layout, pushed.table)
    result = OnlineWrite(layout.name, pushed.table.num_rows)
    rejected = []
    for batch in table.to_batches(max_chunksize=PUSH_BATCH_ROWS):
        try:
            written = online.write_batch(layout, batch)
        except OnlineStoreError as err:
            failed = type(err)(
                f"{err}\nThe write to feature view {layout.name!r} stopped after {result.entities:,} of "
                f"{table.num_rows:,} entities. Each entity's record is written whole or not at all: write the same "
                "rows again once the store is back (an older row never overwrites a newer one)"
            )
            failed.transient = err.transient
            raise failed from None
        result.entities += written.rows
        rejected += written.rejected
    if rejected:
        lines = [f"  {rejection.describe()}" for rejection in rejected[:5]]
        more = [f"  and {len(rejected) - 5:,} more"] if len(rejected) > 5 else []
        raise RejectedEntitiesError(
            "\n".join([
                f"{len(rejected):,} entities of feature view {layout.name!r} were not written to {online.describe()}, "
                "which cannot hold them (every other entity was written):", *lines, *more,
                "Shorten their keys or shrink their values, then write them again",
            ])
        )  # fmt: skip
    return result


def views_of_push_source(views: Mapping[str, FeatureView], name: str, sources: Mapping[str, Any]) -> list[FeatureView]:
    """Every registered view whose source is push source ``name`` (Feast's ``push`` targets)."""
    found = [view for view in views.values() if view.stream_source is not None and view.stream_source.name == name]
    if not found:
        pushes = sorted(s.name for s in sources.values() if s.kind == "push")
        if name not in pushes:
            raise FeatureReferenceError(f"push source {name!r} is not registered; registered push sources: {pushes}")
        raise FeatureReferenceError(f"no feature view reads push source {name!r}; give a feature view source={name}")
    return found
