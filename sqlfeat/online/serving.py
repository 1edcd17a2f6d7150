"""``get_online_features``: one batched read (per view at most), TTL enforced at read time.

A value older than its view's TTL, measured from now (or from ``as_of``), reads as null with the
status ``OUTSIDE_MAX_AGE``: the same bound rule 1 of the point-in-time contract applies offline,
so online equals offline at T. Resolved feature references are cached per registry, so a call
does no registry work. The response object and its statuses are in ``response.py``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from numbers import Integral
from typing import Any

from sqlfeat.compiler import plan_view
from sqlfeat.compiler.on_demand import plan_features
from sqlfeat.compiler.plan import split_reference
from sqlfeat.definitions import Entity, FeatureService, FeatureView, OnDemandFeatureView
from sqlfeat.definitions.aggregation import COUNTING
from sqlfeat.errors import EntityRowError, FeatureReferenceError, TeardownPendingError
from sqlfeat.online.base import ENTITYLESS_KEY, OnlineRows, OnlineStore, OnlineView, entity_key, to_micros
from sqlfeat.online.response import ColumnSource, FieldStatus, OnlineResponse
from sqlfeat.types import UNDECLARED_KEY_TYPES, Family, FeatureType


@dataclass(frozen=True)
class ServingView:
    """One view of a request: its layout, the features asked (short names) and output names."""

    layout: OnlineView
    features: tuple[str, ...]
    outputs: tuple[str, ...]
    # Counting aggregates read 0, not null, for an entity with no events (rule 5's empty window).
    counting: frozenset[str] = frozenset()
    # The entity-row columns holding the view's join keys, in its key order (a projection's
    # with_join_key_map reads the view's records under other columns; default: the keys).
    row_keys: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ServingPlan:
    views: tuple[ServingView, ...]
    join_keys: tuple[str, ...]
    output_order: tuple[str, ...]
    # on-demand views (``compiler/on_demand.py``'s OnDemandRequest), computed after the read
    on_demand: tuple[Any, ...] = ()


def build_plan(
    project: str, views_by_name: Mapping[str, FeatureView], entities: Mapping[str, Entity],
    features: Sequence[str] | FeatureService, full_feature_names: bool, pending: Mapping[str, str] | None = None,
    on_demand: Mapping[str, OnDemandFeatureView] | None = None,
) -> ServingPlan:  # fmt: skip
    """Resolve ``features`` (references or a FeatureService) once, checked against the registered
    views, into what reads need. ``pending``: views whose deleted namesake's online values are
    still in the store (view -> where), which are refused rather than read."""
    service = isinstance(features, FeatureService)
    plan = plan_features(features if service else list(features), views_by_name, entities, on_demand or {}, full_feature_names)
    views = []
    for request in plan.views:
        if pending and request.name in pending:
            raise TeardownPendingError(
                f"feature view {request.name!r} was deleted and re-created, but the online values of the deleted view "
                f"are still in {pending[request.name]} (the apply that deleted it could not reach the store): "
                f"sqlfeat does not serve them. Run `sqlfeat apply` (or materialize {request.name}) with the store "
                "reachable to delete them first"
            )
        if not request.view.online:
            raise FeatureReferenceError(
                f"feature view {request.name!r} has online=False, so it is never materialized; set "
                "online=True and run `sqlfeat apply` and `sqlfeat materialize-incremental`"
            )
        # records live under the view's own name, whatever name the request uses
        layout = OnlineView.from_request(project, plan_view(request.view.name, views_by_name, entities))
        counting = frozenset(a.name for a in request.aggregations if a.function in COUNTING)
        row_keys = tuple(request.join_keys) if request.key_map else None
        views.append(ServingView(layout, tuple(f.name for f in request.features), request.output_names, counting, row_keys))
    if service:
        return ServingPlan(tuple(views), tuple(plan.join_keys), tuple(plan.output_names), plan.on_demand)
    order = []
    for reference in features:
        view, feature = split_reference(reference)
        name = f"{view}__{feature}" if full_feature_names else feature
        if name not in order:
            order.append(name)
    return ServingPlan(tuple(views), tuple(plan.join_keys), tuple(order), plan.on_demand)


def _rows(entity_rows: Any) -> list[Mapping[str, Any]]:
    if isinstance(entity_rows, Mapping):
        lengths = {len(v) for v in entity_rows.values()}
        if len(lengths) > 1:
            raise EntityRowError(f"entity_rows columns have different lengths: { {k: len(v) for k, v in entity_rows.items()} }")
        names = list(entity_rows)
        return [dict(zip(names, values)) for values in zip(*entity_rows.values())]
    if hasattr(entity_rows, "to_dict") and hasattr(entity_rows, "columns"):
        return entity_rows.to_dict("records")
    rows = list(entity_rows)
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise EntityRowError(f"entity row {index} is {row!r}; pass a dict like {{'user_id': 42}}")
    return rows


def _key_value(value: Any, key: str, dtype: FeatureType | None, view: str, index: int) -> Any:
    accepted = UNDECLARED_KEY_TYPES if dtype is None else dtype.key_types
    if not accepted:
        raise EntityRowError(f"join key {key!r} of feature view {view!r} is {dtype}, which online keys cannot be")
    if type(value) in accepted:
        return value
    if int in accepted and isinstance(value, Integral) and not isinstance(value, bool):
        return int(value)  # numpy integers
    if isinstance(value, accepted) and not isinstance(value, bool):
        return value
    wanted = dtype.name if dtype is not None else " or ".join(t.__name__ for t in accepted)
    hint = f"; pass int({value!r})" if int in accepted and isinstance(value, str) and value.lstrip("-").isdigit() else ""
    raise EntityRowError(
        f"entity row {index}: join key {key!r} of feature view {view!r} must be {wanted}, got "
        f"{type(value).__name__} {value!r}{hint}"
    )


def _fast_keys(view: OnlineView, rows: list[Mapping[str, Any]], row_keys: tuple[str, ...]) -> list[str] | None:
    """The common cases without per-value checks: no join key (a view without entities: every
    row reads its one record), or one, every value a plain int or str."""
    if not view.join_keys:
        return [ENTITYLESS_KEY] * len(rows)
    if len(view.join_keys) != 1:
        return None
    key, dtype = row_keys[0], view.key_dtypes[0]
    try:
        values = [row[key] for row in rows]
    except (KeyError, TypeError):
        return None  # the checked path names the problem
    family = None if dtype is None else dtype.family
    if family in (None, Family.INTEGER) and all(type(v) is int for v in values):
        return [str(v) for v in values]
    if family in (None, Family.STRING) and all(type(v) is str for v in values):
        return values
    return None


def encode_rows(view: OnlineView, rows: list[Mapping[str, Any]], row_keys: tuple[str, ...] | None = None) -> list[str]:
    """Each entity row's key for ``view``, after checking every join key is there and well typed.
    ``row_keys``: the row columns holding the view's keys, when a projection maps them."""
    row_keys = row_keys or view.join_keys
    fast = _fast_keys(view, rows, row_keys)
    if fast is not None:
        return fast
    dtypes = view.key_dtypes
    keys = []
    for index, row in enumerate(rows):
        try:
            values = [row[k] for k in row_keys]
        except KeyError as missing:
            raise EntityRowError(
                f"entity row {index} has no join key {missing.args[0]!r}, which feature view {view.name!r} "
                f"needs; it has {sorted(row)}"
            ) from None
        checked = []
        for value, key, dtype in zip(values, row_keys, dtypes):
            if value is None:
                raise EntityRowError(f"entity row {index}: join key {key!r} is None; give every row a value")
            checked.append(_key_value(value, key, dtype, view.name, index))
        keys.append(entity_key(checked))
    return keys


@dataclass
class PlanRead:
    """What one read of a plan found: every output column's values and statuses, and per view of
    the plan (in its order: two projections of one view read different records) each row's stored
    event time (microseconds; ``None``: no record)."""

    columns: dict[str, list[Any]] = field(default_factory=dict)
    statuses: dict[str, list[FieldStatus]] = field(default_factory=dict)
    stamps: list[list[int | None]] = field(default_factory=list)


def _status(ts: int | None, expired: bool, value: Any) -> FieldStatus:
    if ts is None:
        return FieldStatus.NOT_FOUND
    if expired:
        return FieldStatus.OUTSIDE_MAX_AGE
    return FieldStatus.NULL_VALUE if value is None else FieldStatus.PRESENT


def read_plan(
    online: OnlineStore, plan: ServingPlan, rows: list[Mapping[str, Any]], as_of: datetime | None = None
) -> PlanRead:
    """Read every view of ``plan`` for ``rows``; a value past its view's TTL at ``as_of`` (default:
    now), or newer than a given ``as_of``, reads as null, ``OUTSIDE_MAX_AGE``."""
    requests = plan_requests(plan, rows)
    return collect_read(plan, online.read_many(requests) if rows else [], as_of)


def plan_requests(plan: ServingPlan, rows: list[Mapping[str, Any]]) -> list[tuple[OnlineView, Sequence[str], list[str]]]:
    """The store reads a plan needs for ``rows``: (view, features, encoded entity keys) per view."""
    return [(view.layout, view.features, encode_rows(view.layout, rows, view.row_keys)) for view in plan.views]


def collect_read(plan: ServingPlan, results: Sequence[OnlineRows], as_of: datetime | None = None) -> PlanRead:
    """What the store answered for ``plan_requests``, with TTLs (and ``as_of``) applied."""
    now = to_micros(as_of) if as_of is not None else time.time_ns() // 1_000
    # As of a given instant, a record newer than it is not the value of that time (the store
    # keeps only the newest): the point-in-time join's upper bound. Read now, it is served.
    latest = now if as_of is not None else None
    read = PlanRead()
    for index, view in enumerate(plan.views):
        result = results[index] if results else None
        event_ts = result.event_ts if result else []
        read.stamps.append(event_ts)
        ttl = view.layout.ttl
        cutoff = now - ttl // timedelta(microseconds=1) if ttl else None
        expired = [
            ts is not None and ((cutoff is not None and ts < cutoff) or (latest is not None and ts > latest))
            for ts in event_ts
        ]
        for feature, output in zip(view.features, view.outputs):
            values = result.columns[feature] if result else []
            statuses = [_status(ts, old, value) for ts, old, value in zip(event_ts, expired, values)]
            values = [None if old else value for old, value in zip(expired, values)]
            if feature in view.counting:
                values = [0 if v is None else v for v in values]
            read.columns[output], read.statuses[output] = values, statuses
    return read


def _instant(as_of: datetime | None) -> datetime:
    """The instant TTLs are measured from, kept in the response to explain OUTSIDE_MAX_AGE."""
    if as_of is None:
        return datetime.now(timezone.utc)
    return as_of.replace(tzinfo=timezone.utc) if as_of.tzinfo is None else as_of.astimezone(timezone.utc)


def get_online_features(
    online: OnlineStore, plan: ServingPlan, entity_rows: Any, as_of: datetime | None = None
) -> OnlineResponse:
    rows = _rows(entity_rows)
    instant = _instant(as_of)
    return respond(plan, rows, read_plan(online, plan, rows, as_of), instant, as_of)


async def get_online_features_async(
    online: OnlineStore, plan: ServingPlan, entity_rows: Any, as_of: datetime | None = None
) -> OnlineResponse:
    """``get_online_features`` with the store read awaited (``OnlineStore.read_many_async``):
    the same plan, the same response; only the read differs."""
    rows = _rows(entity_rows)
    instant = _instant(as_of)
    requests = plan_requests(plan, rows)
    results = await online.read_many_async(requests) if rows else []
    return respond(plan, rows, collect_read(plan, results, as_of), instant, as_of)


def respond(
    plan: ServingPlan, rows: list[Mapping[str, Any]], read: PlanRead, instant: datetime, as_of: datetime | None
) -> OnlineResponse:
    """The response of a read: the entity rows' keys, then each output column in order."""
    columns: dict[str, list[Any]] = {key: [row.get(key) for row in rows] for key in plan.join_keys}
    statuses: dict[str, list[FieldStatus]] = {}
    stamps: dict[str, list[int | None]] = {}
    sources: dict[str, ColumnSource] = {}
    for view, view_stamps in zip(plan.views, read.stamps):
        for feature, output in zip(view.features, view.outputs):
            layout = view.layout
            sources[output] = ColumnSource(layout.name, layout.ttl, layout.dtype(feature), layout.join_keys)
            stamps[output] = view_stamps
    if plan.on_demand:
        _on_demand(plan, rows, read, sources)
    for name in plan.output_order:
        columns[name], statuses[name] = read.columns[name], read.statuses[name]
        stamps.setdefault(name, [None] * len(rows))
    ordered = {name: sources[name] for name in plan.output_order}
    return OnlineResponse(columns, statuses, stamps, ordered, instant, now=as_of is None)


def _on_demand(plan: ServingPlan, rows: list[Mapping[str, Any]], read: PlanRead, sources: dict[str, ColumnSource]) -> None:
    """The on-demand features of ``plan`` over the values read and the entity rows' request
    fields (the same evaluator as offline: ``sqlfeat/transformations.py``), into ``read``."""
    import pyarrow as pa

    from sqlfeat.transformations import compute, request_arrays

    dtypes = {out: view.layout.dtype(f) for view in plan.views for f, out in zip(view.features, view.outputs)}
    pit = {name: pa.array(values, type=dtypes[name].to_arrow()) for name, values in read.columns.items()}
    request = request_arrays(plan.on_demand, {name: [row.get(name) for row in rows] for name in _request_names(plan, rows)}, online=True)
    for name, values in compute(plan.on_demand, pit, request, len(rows), expressions=True).items():
        read.columns[name] = values.to_pylist()
        read.statuses[name] = [FieldStatus.NULL_VALUE if v is None else FieldStatus.PRESENT for v in read.columns[name]]
    for request_view in plan.on_demand:
        for field, output in zip(request_view.features, request_view.output_names):
            sources[output] = ColumnSource(request_view.name, None, field.dtype, (), on_demand=True)


def _request_names(plan: ServingPlan, rows: list[Mapping[str, Any]]) -> list[str]:
    """The request fields every entity row holds (a field some row lacks is then named missing)."""
    names = {f.name for r in plan.on_demand for f in r.request_fields}
    return [n for n in names if rows and all(n in row for row in rows)] if rows else list(names)
