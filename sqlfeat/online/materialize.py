"""Materialization: run each view's latest-values SQL in the warehouse and stream it online.

The contract (docs/online-stores.md, "Materialization guarantees"):

- ``materialize(start, end)`` covers rows with event time in [start, end];
  ``materialize_incremental(end)`` continues from each view's watermark and, for a view never
  materialized into this online store, covers its whole history (never a silent ``now - ttl``).
- Every store writes one entity's features of one view as one record, atomically, and only when
  the row is at least as new as the stored one, so reruns and out-of-order backfills converge.
- Watermarks move only after every view of the run succeeded; they are written to a freshly read
  registry, and not at all for a view whose definition changed meanwhile.
- An entity the store refuses for breaking one of its limits (``Rejection``) is counted and named
  per view while the rest is written; such a refusal is deterministic, so a rerun would not
  converge: the run completes, moves the watermarks, then raises ``RejectedEntitiesError``.

Nothing here prints: progress goes to an ``on_progress`` callback (the CLI draws a bar from it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

from sqlfeat.compiler import plan_view
from sqlfeat.errors import ConfigError, FeatureReferenceError, OnlineStoreError, RejectedEntitiesError, UsageError, WarehouseError
from sqlfeat.online.base import OnlineView
from sqlfeat.online.teardown import run_teardowns

if TYPE_CHECKING:
    from sqlfeat.config import RepoConfig
    from sqlfeat.definitions import FeatureView
    from sqlfeat.online.base import OnlineStore, Rejection, WriteResult
    from sqlfeat.registry import OnlineTarget, Registry
    from sqlfeat.warehouses.base import OfflineStore

DEFAULT_BATCH_ROWS = 100_000
# Rejected entities named per view in a report (all are counted).
EXAMPLES = 5
_REJECTED_FIX = (
    "Every other entity was written and the watermarks moved: rerunning will not write these "
    "(the limits do not change). Shorten their keys or shrink their values in the source, then "
    "backfill them with `sqlfeat materialize START END` over their event times."
)


class StoreSurface(Protocol):
    """The part of ``FeatureStore``'s public surface the online side uses."""

    config: RepoConfig

    @property
    def project(self) -> str: ...
    @property
    def registry(self) -> Registry: ...
    @property
    def offline_store(self) -> OfflineStore: ...
    @property
    def online_store(self) -> OnlineStore: ...
    @property
    def online_target(self) -> OnlineTarget: ...
    def refresh_registry(self) -> None: ...
    def list_feature_views(self) -> list[FeatureView]: ...
    def get_feature_view(self, name: str) -> FeatureView: ...
    def compile_latest_values(self, view: str, end: datetime, start: datetime | None = None) -> str: ...
    def get_historical_features(self, entity_df: Any, features: Sequence[str], full_feature_names: bool = False) -> Any: ...


@dataclass
class ViewRun:
    """One view's share of a run: the range it covered and what it wrote."""

    view: str
    start: datetime | None
    end: datetime
    rows: int = 0  # entities written (or kept out by a newer stored row)
    batches: int = 0
    seconds: float = 0.0
    note: str = ""
    done: bool = False
    rejected: int = 0  # entities the store refused (a limit): not written
    reasons: dict[str, int] = field(default_factory=dict)  # rejected entities per limit broken
    examples: list[Rejection] = field(default_factory=list)  # the first EXAMPLES rejected

    def add(self, result: WriteResult) -> None:
        """Count one batch's ``write_batch`` result."""
        self.rows += result.rows
        self.rejected += len(result.rejected)
        for rejection in result.rejected:
            self.reasons[rejection.reason] = self.reasons.get(rejection.reason, 0) + 1
        self.examples.extend(result.rejected[: max(EXAMPLES - len(self.examples), 0)])

    def rejection_lines(self) -> list[str]:
        """Lines naming the rejected entities: how many per limit broken, then the first few."""
        if not self.rejected:
            return []
        reasons = ", ".join(f"{count:,} {reason}" for reason, count in self.reasons.items())
        more = f" (and {self.rejected - len(self.examples):,} more)" if self.rejected > len(self.examples) else ""
        return [f"  {self.rejected:,} entities NOT written: {reasons}{more}"] + [
            f"    {rejection.describe()}" for rejection in self.examples
        ]


@dataclass
class MaterializationReport:
    store_type: str
    runs: list[ViewRun] = field(default_factory=list)
    seconds: float = 0.0
    finished: bool = False

    @property
    def rows(self) -> int:
        """Entities written; rejected ones are not counted here but in ``rejected``."""
        return sum(run.rows for run in self.runs)

    @property
    def rejected(self) -> int:
        return sum(run.rejected for run in self.runs)

    @property
    def ok(self) -> bool:
        """False when the store refused some entities: the run failed for them."""
        return self.rejected == 0

    def summary(self) -> str:
        lines = []
        for run in self.runs:
            since = run.start.isoformat() if run.start else "the beginning"
            line = f"{run.view}: {run.rows:,} entities from {since} to {run.end.isoformat()} in {run.seconds:.2f} s"
            lines.append(line + (f" ({run.note})" if run.note else ""))
            lines.extend(run.rejection_lines())
        rate = f" ({self.rows / self.seconds:,.0f} rows/s)" if self.seconds > 0 and self.rows else ""
        lines.append(
            f"Materialized {self.rows:,} rows of {len(self.runs)} feature views into {self.store_type} "
            f"in {self.seconds:.2f} s{rate}"
        )
        if self.rejected:
            lines.append(f"{self.rejected:,} entities were NOT written: they break the store's limits, and no rerun writes them")
        return "\n".join(lines)

    def rejection_error(self, where: str) -> RejectedEntitiesError:
        """The error a run with rejected entities ends with, naming them and the fix."""
        lines = [f"{self.rejected:,} entities were not written to {where}, which cannot hold them:"]
        for run in self.runs:
            lines += [f"  feature view {run.view!r}: {rejection.describe()}" for rejection in run.examples[:3]]
            if run.rejected > 3:
                lines.append(f"  feature view {run.view!r}: {run.rejected - 3:,} more entities")
        return RejectedEntitiesError("\n".join([*lines, _REJECTED_FIX]), self)


# Called when a run starts (run None), after every batch written and when a view is done (its
# run), and once at the end (run None, report.finished True).
ProgressHook = Callable[[MaterializationReport, "ViewRun | None"], None]


def as_utc(value: datetime, what: str) -> datetime:
    """An aware UTC datetime; a naive one is taken as UTC."""
    if not isinstance(value, datetime):
        raise UsageError(f"{what} must be a datetime, got {type(value).__name__} {value!r}")
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def online_views(store: StoreSurface, names: Sequence[str] | None) -> list[str]:
    """The views to materialize: the named ones (each must be online), or every online view."""
    if names is None:
        return [view.name for view in store.list_feature_views() if view.online]
    if isinstance(names, str):
        names = [names]
    for name in names:
        if not store.get_feature_view(name).online:
            raise FeatureReferenceError(
                f"feature view {name!r} has online=False; set online=True and run `sqlfeat apply` to "
                "materialize it"
            )
    return list(dict.fromkeys(names))


def watermark(store: StoreSurface, view: str) -> datetime | None:
    """How far ``view`` is materialized in the configured project and online store (``None``: not
    at all, or only into another one)."""
    return store.registry.watermark(view, store.online_target)


def materialize(
    store: StoreSurface, start: datetime, end: datetime, feature_views: Sequence[str] | None = None, *,
    batch_rows: int = DEFAULT_BATCH_ROWS, on_progress: ProgressHook | None = None,
) -> MaterializationReport:  # fmt: skip
    start, end = as_utc(start, "start_date"), as_utc(end, "end_date")
    if start > end:
        raise UsageError(f"start_date {start.isoformat()} is after end_date {end.isoformat()}")
    runs = [ViewRun(name, start, end) for name in online_views(store, feature_views)]
    return _run(store, runs, batch_rows, on_progress)


def materialize_incremental(
    store: StoreSurface, end: datetime, feature_views: Sequence[str] | None = None, *,
    batch_rows: int = DEFAULT_BATCH_ROWS, on_progress: ProgressHook | None = None,
) -> MaterializationReport:  # fmt: skip
    end = as_utc(end, "end_date")
    # No watermark: the full history (start None), never `now - ttl`.
    runs = [ViewRun(name, watermark(store, name), end) for name in online_views(store, feature_views)]
    return _run(store, runs, batch_rows, on_progress)


def _run(
    store: StoreSurface, runs: list[ViewRun], batch_rows: int, on_progress: ProgressHook | None
) -> MaterializationReport:
    notify = on_progress or (lambda report, run: None)
    # A re-created view whose deleted namesake's values are still online: delete those first.
    run_teardowns(store, [run.view for run in runs])
    online = store.online_store
    registry = store.registry
    report = MaterializationReport(store.config.online_type, runs)
    fingerprints = {run.view: registry.fingerprint_of("feature_views", run.view) for run in runs}
    views, entities = registry.feature_views(), registry.entities()
    started = time.perf_counter()
    notify(report, None)
    for run in runs:
        if run.start is not None and run.start > run.end:
            run.note, run.done = f"already materialized up to {run.start.isoformat()}", True
            notify(report, run)
            continue
        view_started = time.perf_counter()
        layout = OnlineView.from_request(store.project, plan_view(run.view, views, entities))
        sql = store.compile_latest_values(run.view, run.end, run.start)
        try:
            for result in _write(store, online, layout, sql, batch_rows):
                run.add(result)
                run.batches += 1
                notify(report, run)
        except (OnlineStoreError, WarehouseError) as err:
            rerun = "Rerun the same command: it converges." if getattr(err, "transient", True) else (
                "Rerunning will fail the same way until the cause above is fixed."
            )
            if report.rejected:  # a rerun rejects those again: "it converges" must not hide them
                rerun += (
                    f" It will not write the {report.rejected:,} entities this run rejected for breaking the store's "
                    "limits: shorten their keys or shrink their values in the source."
                )
            failed = type(err)(
                f"{err}\nMaterialization stopped in feature view {run.view!r} after {run.rows:,} rows; "
                f"no watermark moved. {rerun}"
            )
            if isinstance(err, WarehouseError):
                failed.sql = err.sql
            else:
                failed.transient = err.transient
            raise failed from err
        run.seconds, run.done = time.perf_counter() - view_started, True
        notify(report, run)
    report.seconds = time.perf_counter() - started
    _record(store, report, fingerprints)
    report.finished = True
    notify(report, None)
    if report.rejected:
        # Deterministic refusals: the watermarks moved (a rerun would only refuse them again), and
        # the run still fails, loudly, so that no caller takes it for a complete one.
        raise report.rejection_error(online.describe())
    return report


def _write(store: StoreSurface, online: OnlineStore, layout: OnlineView, sql: str, batch_rows: int) -> Iterator[WriteResult]:
    """Each batch of the latest values written online: streamed here and written by this process,
    or (a warehouse with executors configured to) written by the warehouse's executors."""
    offline = store.offline_store
    if offline.executors:
        from sqlfeat.online.executors import partition_writer, results

        if not online.SHARED:
            raise ConfigError(
                f"offline_store.materialize_on_executors has {offline.dialect.TITLE}'s executors write the online "
                f"store, which must be one they all reach (redis, dynamodb); online_store type {online.TYPE} is a local file: "
                "use redis or dynamodb, or remove materialize_on_executors"
            )

        task = partition_writer(store.config.online_store, store.project, store.config.repo_path, layout)
        yield from results(offline.map_partitions(sql, task))
        return
    for batch in offline.fetch_batches(sql, batch_rows):
        yield online.write_batch(layout, batch)


def _record(store: StoreSurface, report: MaterializationReport, fingerprints: dict[str, str | None]) -> None:
    """Move the watermarks of a run that fully succeeded, in the registry as it is on disk now
    (read again under its lock, so an apply that ran meanwhile is neither lost nor ignored)."""
    target = store.online_target
    with store.registry.transaction() as registry:
        for run in report.runs:
            if run.note:
                continue
            if registry.fingerprint_of("feature_views", run.view) != fingerprints[run.view]:
                run.note = "its definition changed during the run: watermark not moved; rerun"
                continue
            registry.record_materialization(
                run.view, store=report.store_type, target=target, start=run.start, end=run.end, rows=run.rows,
                seconds=run.seconds,
            )  # fmt: skip
    store.refresh_registry()
