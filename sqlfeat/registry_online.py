"""The registry's online bookkeeping: where each view was materialized (its watermark, per online
store and project) and the online values of deleted views still to be deleted (teardowns).

``Registry`` (``registry.py``) inherits these methods; they read and write its JSON sections
``materializations`` and ``teardowns``, always inside its ``transaction()`` when writing.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, NamedTuple


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class OnlineTarget(NamedTuple):
    """Where materialized values live: the project (its key prefix) and the online store (host,
    port, database, path or table: never a secret). A watermark belongs to one target."""

    project: str
    store: str

    def describe(self) -> str:
        return f"{self.store} (project {self.project})"


class Teardown(NamedTuple):
    """The online values of a deleted feature view, still to be deleted from ``target`` (where its
    last materialization went): recorded when apply deletes the view, removed once deleted."""

    view: str
    target: OnlineTarget
    deleted_at: str

    def describe(self) -> str:
        return f"feature view {self.view} in {self.target.describe()}"


def _teardown_key(view: str, target: OnlineTarget) -> str:
    return f"{view} in {target.store} (project {target.project})"


class OnlineRecords:
    """Materialization records and pending teardowns, over the registry's ``data``."""

    data: dict[str, Any]

    # -- materializations -------------------------------------------------------------------
    def materialization(self, view: str) -> dict[str, Any] | None:
        """The last recorded materialization of ``view`` (into whichever online store), a copy."""
        record = self.data["materializations"].get(view)
        return dict(record) if record else None

    def materialized_views(self) -> list[str]:
        return sorted(self.data["materializations"])

    @staticmethod
    def _target_of(record: dict[str, Any]) -> OnlineTarget | None:
        if not record.get("project") or not record.get("store_at"):
            return None  # recorded before watermarks named their target: counts for none
        return OnlineTarget(record["project"], record["store_at"])

    def watermark(self, view: str, target: OnlineTarget) -> datetime | None:
        """How far ``view`` is materialized into ``target`` (``None``: not at all). A watermark
        recorded for another project or another online store does not count."""
        record = self.data["materializations"].get(view, {})
        if not record.get("watermark") or self._target_of(record) != target:
            return None
        return datetime.fromisoformat(record["watermark"])

    def record_materialization(
        self, view: str, *, store: str, target: OnlineTarget, start: datetime | None, end: datetime, rows: int,
        seconds: float,
    ) -> None:  # fmt: skip
        """Record a successful run of ``view``; its watermark never moves back for the same target."""
        previous = self.watermark(view, target)
        mark = max(end, previous) if previous else end
        self.data["materializations"][view] = {
            "watermark": mark.isoformat(), "last_start": start.isoformat() if start else None,
            "last_end": end.isoformat(), "rows": rows, "seconds": round(seconds, 3), "store": store,
            "project": target.project, "store_at": target.store, "materialized_at": now(),
        }  # fmt: skip

    def elsewhere(self, target: OnlineTarget) -> dict[str, str]:
        """Views materialized into another target than ``target``: view -> where they were."""
        found = {}
        for view, record in self.data["materializations"].items():
            where = self._target_of(record)
            if where != target:
                found[view] = where.describe() if where else "an online store recorded before targets were named"
        return found

    def forget_materialization(self, view: str) -> None:
        self.data["materializations"].pop(view, None)

    # -- teardowns: online values of deleted views, not deleted yet --------------------------
    def pending_teardowns(self, target: OnlineTarget | None = None) -> list[Teardown]:
        """Deleted views whose online values are still in ``target`` (every target: ``None``)."""
        found = [Teardown(r["view"], OnlineTarget(r["project"], r["store_at"]), r["deleted_at"])
                 for _, r in sorted(self.data["teardowns"].items())]  # fmt: skip
        return [t for t in found if target is None or t.target == target]

    def teardown_done(self, teardown: Teardown) -> None:
        self.data["teardowns"].pop(_teardown_key(teardown.view, teardown.target), None)

    def _schedule_teardown(self, view: str, now: str) -> None:
        """Record that ``view``'s online values, where its watermark says, must be deleted."""
        record = self.data["materializations"].get(view, {})
        where = self._target_of(record)
        if where is not None:
            self.data["teardowns"][_teardown_key(view, where)] = {
                "view": view, "project": where.project, "store_at": where.store, "store": record.get("store"),
                "watermark": record.get("watermark"), "deleted_at": now,
            }  # fmt: skip
