"""The training-set entry points behind ``FeatureStore`` (Feast's signatures): features given as
references or a ``FeatureService`` resolved to one plan; a spine that is an entity_df (a
DataFrame, table or query) or, without one, a time range compiled into SQL (``compiler/spine.py``);
``filter_by_created_timestamp``; and the SQL a repo compiles to with no connection, from the
registry or straight from the definition files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlfeat.compiler import RetrievalPlan, Spine, compile_point_in_time
from sqlfeat.compiler.plan import filter_by_created
from sqlfeat.compiler.spine import TIMESTAMP, range_spine
from sqlfeat.compiler.on_demand import plan_features as plan_with_on_demand
from sqlfeat.definitions import Entity, FeatureService, FeatureView, OnDemandFeatureView
from sqlfeat.errors import FeatureReferenceError, UsageError

if TYPE_CHECKING:
    from sqlfeat.registry import Registry
    from sqlfeat.repo import RepoContents
    from sqlfeat.retrieval import RetrievalJob
    from sqlfeat.warehouses.base import Dialect, OfflineStore

# Feast's window when neither start_date nor a TTL says how far back to look.
DEFAULT_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class Definitions:
    """What a retrieval resolves names against: registered views, entities and services."""

    views: Mapping[str, FeatureView]
    entities: Mapping[str, Entity]
    services: Mapping[str, FeatureService]
    on_demand: Mapping[str, OnDemandFeatureView] = field(default_factory=dict)


def registered(registry: Registry) -> Definitions:
    return Definitions(registry.feature_views(), registry.entities(), registry.feature_services(),
                       registry.on_demand_feature_views())  # fmt: skip


def from_files(contents: RepoContents, registry: Registry | None) -> Definitions:
    """The repo's definition files as a retrieval sees them, with no warehouse: an aggregated
    view takes the result dtypes the registry inferred at its last apply when its aggregations
    are unchanged (else requesting it says to apply first)."""
    from sqlfeat.validation import check_view_entities, typed_like_registered

    entities = {e.name: e for e in contents.entities}
    check_view_entities(contents.feature_views, entities)
    known = registry.feature_views() if registry is not None and registry.exists else {}
    views = {}
    for view in contents.feature_views:
        if view.aggregations and any(a.dtype is None for a in view.aggregations):
            view = typed_like_registered(view, known.get(view.name)) or view
        views[view.name] = view
    return Definitions(views, entities, {s.name: s for s in contents.feature_services},
                       {v.name: v for v in contents.on_demand_feature_views})  # fmt: skip


def feature_service(definitions: Definitions, name: str) -> FeatureService:
    if name not in definitions.services:
        raise FeatureReferenceError(f"feature service {name!r} is not registered; registered: {sorted(definitions.services)}")
    return definitions.services[name]


def plan_features(
    definitions: Definitions, features: Sequence[str] | FeatureService, full_feature_names: bool,
    filter_by_created_timestamp: bool = False,
) -> RetrievalPlan:  # fmt: skip
    plan = plan_with_on_demand(features, definitions.views, definitions.entities, definitions.on_demand, full_feature_names)
    return filter_by_created(plan) if filter_by_created_timestamp else plan


def _aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise UsageError(f"{name} must be a datetime, got {type(value).__name__} {value!r}")
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def date_range(plan: RetrievalPlan, start_date: datetime | None, end_date: datetime | None) -> tuple[datetime, datetime]:
    """Feast's range: ``end_date`` defaults to now, ``start_date`` to ``end_date`` minus the
    longest TTL of the requested views (30 days without one); naive times are UTC."""
    end = _aware(end_date, "end_date") if end_date is not None else datetime.now(timezone.utc)
    if start_date is None:
        ttls = [r.view.ttl for r in plan.views if r.view.ttl]
        return end - (max(ttls) if ttls else DEFAULT_WINDOW), end
    start = _aware(start_date, "start_date")
    if start > end:
        raise UsageError(f"start_date {start.isoformat()} is after end_date {end.isoformat()}")
    return start, end


def range_job(
    plan: RetrievalPlan, store: OfflineStore, repo_path: Path, source_types: Mapping[str, Mapping],
    start: datetime, end: datetime, strategy: str | Mapping[str, str],
) -> RetrievalJob:  # fmt: skip
    """A job whose spine is every (keys, event time) of the views' sources in [start, end],
    selected inside the warehouse (nothing is pulled into Python to build it)."""
    from sqlfeat.compiler.strategy import choose_strategies
    from sqlfeat.retrieval import RetrievalJob, plan_stats

    choose_strategies(plan, store.dialect, strategy)  # an impossible strategy fails before any work
    needs = [(r.name, f.name) for r in plan.on_demand for f in r.request_fields]
    if needs:
        raise UsageError(f"on-demand feature view {needs[0][0]!r} needs request field {needs[0][1]!r}, which only an "
                         "entity_df can give; pass entity_df instead of start_date/end_date")  # fmt: skip
    key_types = {}
    for request in plan.views:
        columns = source_types.get(request.view.source.name, {})
        for key in request.join_keys:
            if request.source_key(key) in columns:
                key_types.setdefault(key, columns[request.source_key(key)])
    query = range_spine(plan, store.dialect, repo_path, start, end, key_types)
    spine = Spine(query, TIMESTAMP, bounds=(start, end), ordered=True)
    return RetrievalJob(plan, store, repo_path, None, spine, strategy, plan_stats(plan, store, repo_path))


def compile_sql(
    plan: RetrievalPlan, target: Dialect, repo_path: Path, spine: str, timestamp_column: str,
    strategy: str | Mapping[str, str], explain: bool, time_range: tuple[datetime, datetime] | None = None,
) -> str:  # fmt: skip
    """The PIT SQL for a spine table or query (or a time range), for any dialect; no connection,
    so no statistics: ``auto`` takes the strategy whose cost never grows with rows per key squared."""
    from sqlfeat.compiler.strategy import choose_strategies
    from sqlfeat.compiler.strategy import explain as explain_choices
    from sqlfeat.retrieval import is_query

    if time_range is not None:
        relation = Spine(range_spine(plan, target, repo_path, *time_range), TIMESTAMP, bounds=time_range, ordered=True)
    else:
        relation = Spine(spine, timestamp_column, is_query=is_query(spine))
    choices = choose_strategies(plan, target, strategy)
    sql = target.render(compile_point_in_time(plan, relation, target, repo_path, choices=choices))
    # pandas/python on-demand views are not SQL: say so, so the SQL is never taken for the whole result
    notes = "".join(f"-- on-demand feature view {r.name} ({r.odfv.mode} function) is applied in Python to this "
                    f"query's rows: {', '.join(r.output_names)}\n" for r in plan.functions)  # fmt: skip
    return f"{explain_choices(plan, choices)}\n{notes}{sql}" if explain else f"{notes}{sql}"


def check_spine_arguments(entity_df: Any, start_date: datetime | None, end_date: datetime | None) -> None:
    if entity_df is not None and (start_date is not None or end_date is not None):
        raise UsageError(
            "give entity_df, or start_date/end_date (every entity row of the views' sources in that range), not both"
        )
