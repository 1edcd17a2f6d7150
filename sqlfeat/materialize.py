"""Materialization: run each view's latest-values SQL in the warehouse and stream it online.

The contract (docs/design.md, "Materialization contract"):

- ``materialize(start, end)`` covers rows with event time in [start, end];
  ``materialize_incremental(end)`` continues from each view's watermark and, for a view never
  materialized, covers its whole history (never a silent ``now - ttl``: seed pitfall 2).
- Every store writes one entity's features of one view as one record, atomically, and only when
  the row is at least as new as the stored one, so reruns and out-of-order backfills converge.
- Watermarks move only after every view of the run succeeded (seed pitfall 3); they are written
  to a freshly read registry, and not at all for a view whose definition changed meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sqlfeat.errors import FeatureReferenceError, OnlineStoreError, WarehouseError
from sqlfeat.online.base import OnlineView

if TYPE_CHECKING:
    from rich.console import Console

    from sqlfeat.store import FeatureStore

DEFAULT_BATCH_ROWS = 100_000
# Called after each batch is written: (view name, batches written so far, rows written so far).
BatchHook = Callable[[str, int, int], None]


@dataclass
class ViewRun:
    """One view's share of a run: the range it covered and what it wrote."""

    view: str
    start: datetime | None
    end: datetime
    rows: int = 0
    batches: int = 0
    seconds: float = 0.0
    note: str = ""


@dataclass
class MaterializationReport:
    store_type: str
    runs: list[ViewRun] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(run.rows for run in self.runs)

    def summary(self) -> str:
        lines = []
        for run in self.runs:
            since = run.start.isoformat() if run.start else "the beginning"
            line = f"{run.view}: {run.rows:,} entities from {since} to {run.end.isoformat()} in {run.seconds:.2f} s"
            lines.append(line + (f" ({run.note})" if run.note else ""))
        rate = f" ({self.rows / self.seconds:,.0f} rows/s)" if self.seconds > 0 and self.rows else ""
        lines.append(
            f"Materialized {self.rows:,} rows of {len(self.runs)} feature views into {self.store_type} "
            f"in {self.seconds:.2f} s{rate}"
        )
        return "\n".join(lines)


def as_utc(value: datetime, what: str) -> datetime:
    """An aware UTC datetime; a naive one is taken as UTC (rule 3)."""
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(value).__name__} {value!r}")
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def online_views(store: FeatureStore, names: Sequence[str] | None) -> list[str]:
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


def watermark(store: FeatureStore, view: str) -> datetime | None:
    """How far ``view`` is materialized in the configured online store (``None``: not at all).

    A watermark recorded for another store (the config now points elsewhere) does not count.
    """
    record = store.registry.data["materializations"].get(view, {})
    if not record.get("watermark") or record.get("store_at", store.online_store.describe()) != store.online_store.describe():
        return None
    return datetime.fromisoformat(record["watermark"])


def materialize(
    store: FeatureStore, start: datetime, end: datetime, feature_views: Sequence[str] | None = None, *,
    show_progress: bool = True, batch_rows: int = DEFAULT_BATCH_ROWS, on_batch: BatchHook | None = None,
) -> MaterializationReport:  # fmt: skip
    start, end = as_utc(start, "start_date"), as_utc(end, "end_date")
    if start > end:
        raise ValueError(f"start_date {start.isoformat()} is after end_date {end.isoformat()}")
    runs = [ViewRun(name, start, end) for name in online_views(store, feature_views)]
    return _run(store, runs, show_progress, batch_rows, on_batch)


def materialize_incremental(
    store: FeatureStore, end: datetime, feature_views: Sequence[str] | None = None, *,
    show_progress: bool = True, batch_rows: int = DEFAULT_BATCH_ROWS, on_batch: BatchHook | None = None,
) -> MaterializationReport:  # fmt: skip
    end = as_utc(end, "end_date")
    runs = []
    for name in online_views(store, feature_views):
        # No watermark: the full history (None), never `now - ttl`.
        runs.append(ViewRun(name, watermark(store, name), end))
    return _run(store, runs, show_progress, batch_rows, on_batch)


def _console(show: bool) -> Console:
    from rich.console import Console

    return Console(highlight=False, quiet=not show)


def _run(
    store: FeatureStore, runs: list[ViewRun], show_progress: bool, batch_rows: int, on_batch: BatchHook | None
) -> MaterializationReport:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    online = store.online_store
    report = MaterializationReport(store.config.online_store.get("type", "sqlite"), runs)
    fingerprints = {run.view: store.registry.data["feature_views"][run.view]["fingerprint"] for run in runs}
    console = _console(show_progress)
    started = time.perf_counter()
    columns = (
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("views"),
        TextColumn("{task.fields[rows]:>12,} rows"), TimeElapsedColumn(),
    )  # fmt: skip
    with Progress(*columns, console=console, disable=not show_progress) as progress:
        task = progress.add_task("materializing", total=len(runs), rows=0)
        for run in runs:
            progress.update(task, description=run.view)
            if run.start is not None and run.start > run.end:
                run.note = f"already materialized up to {run.start.isoformat()}"
                progress.advance(task)
                continue
            view_started = time.perf_counter()
            layout = OnlineView.from_request(store.project, store._view_request(run.view))
            sql = store.compile_latest_values(run.view, run.end, run.start)
            try:
                for batch in store.offline_store.fetch_batches(sql, batch_rows):
                    run.rows += online.write_batch(layout, batch)
                    run.batches += 1
                    progress.update(task, rows=report.rows)
                    if on_batch is not None:
                        on_batch(run.view, run.batches, run.rows)
            except (OnlineStoreError, WarehouseError) as err:
                raise type(err)(
                    f"{err}\nMaterialization stopped in feature view {run.view!r} after {run.rows:,} rows; "
                    "no watermark moved. Rerun the same command: it converges."
                ) from err
            run.seconds = time.perf_counter() - view_started
            progress.advance(task)
    report.seconds = time.perf_counter() - started
    _record(store, report, fingerprints)
    console.print(report.summary(), soft_wrap=True, markup=False)
    return report


def _record(store: FeatureStore, report: MaterializationReport, fingerprints: dict[str, str]) -> None:
    """Move the watermarks of a run that fully succeeded, in the registry as it is on disk now."""
    from sqlfeat.registry import Registry

    registry = Registry(store.config.registry_path, store.project)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    where = store.online_store.describe()
    for run in report.runs:
        if run.note:
            continue
        record = registry.data["feature_views"].get(run.view)
        if record is None or record["fingerprint"] != fingerprints[run.view]:
            run.note = "its definition changed during the run: watermark not moved; rerun"
            continue
        entry: dict[str, Any] = registry.data["materializations"].get(run.view, {})
        previous = entry.get("watermark") if entry.get("store_at") == where else None
        mark = max(run.end, datetime.fromisoformat(previous)) if previous else run.end
        registry.data["materializations"][run.view] = {
            "watermark": mark.isoformat(), "last_start": run.start.isoformat() if run.start else None,
            "last_end": run.end.isoformat(), "rows": run.rows, "seconds": round(run.seconds, 3),
            "store": report.store_type, "store_at": where, "materialized_at": now,
        }  # fmt: skip
    registry.save()
    store.refresh_registry()
