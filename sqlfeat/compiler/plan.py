"""Resolve ``"view:feature"`` references, or a feature service's projections, against registered
definitions into a retrieval plan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from difflib import get_close_matches
from typing import Any

from sqlglot import exp

from sqlfeat.definitions import Aggregation, Entity, FeatureService, FeatureView, FeatureViewProjection, Field
from sqlfeat.errors import FeatureReferenceError
from sqlfeat.types import FeatureType

# Columns sqlfeat adds inside its queries; a user column with one of these names is refused.
ROW_ID = "__sqlfeat_row"
SPINE_TS = "__sqlfeat_ts"
EVENT_TS = "__sqlfeat_event_ts"
CREATED_TS = "__sqlfeat_created_ts"
# the carry strategy's source row number, row kind (0 source, 1 spine) and integer time
SRC_ROW = "__sqlfeat_src_row"
KIND = "__sqlfeat_kind"
TIME_INT = "__sqlfeat_t"
INTERNAL_COLUMNS = frozenset({ROW_ID, SPINE_TS, EVENT_TS, CREATED_TS, SRC_ROW, KIND, TIME_INT})
# A source feature only an on-demand feature view needs: its column in the PIT result.
HIDDEN_PREFIX = "__sqlfeat_in__"


@dataclass(frozen=True)
class ViewRequest:
    """The features asked of one view, the join keys that reach it, and their output names."""

    view: FeatureView
    join_keys: tuple[str, ...]
    key_dtypes: tuple[FeatureType | None, ...]
    features: tuple[Field, ...]
    output_names: tuple[str, ...]
    # A projection (view.with_name / with_join_key_map): the name the retrieval uses, and each
    # view join key's entity-row column; ``join_keys`` above are those entity-row columns.
    alias: str | None = None
    key_map: tuple[tuple[str, str], ...] = ()
    # filter_by_created_timestamp, for a view with a created timestamp: a row is visible at t only
    # when its created time is at or before t (rule 1).
    filter_by_created: bool = False

    @property
    def name(self) -> str:
        return self.alias or self.view.name

    def view_key(self, key: str) -> str:
        """The view's own join key behind entity-row column ``key``."""
        return next((view_key for view_key, column in self.key_map if column == key), key)

    def source_key(self, key: str) -> str:
        """The source column holding entity-row column ``key`` (key map, then field_mapping)."""
        return self.view.source.source_column(self.view_key(key))

    @property
    def aggregations(self) -> tuple[Aggregation, ...]:
        """The requested features' aggregations (empty for a lookup view), in feature order."""
        by_name = {a.name: a for a in self.view.aggregations}
        return tuple(by_name[f.name] for f in self.features) if by_name else ()


@dataclass(frozen=True)
class Spine:
    """Where the entity rows come from: a table name or a query, already in the warehouse.

    ``row_id`` is set for an uploaded DataFrame: the output is then the row id plus the features,
    ordered by it, and the caller re-attaches the DataFrame's own columns. Otherwise every spine
    column is passed through.
    """

    relation: str | exp.Query  # a table name, a query's text, or a query sqlfeat built
    timestamp_column: str
    is_query: bool = False
    row_id: str | None = None
    rows: int | None = None
    # The spine's earliest and latest time, when known before compiling (a DataFrame's, or read
    # by one small query): sources are then pruned with constants, which every engine can push
    # into its scan (BigQuery and Snowflake prune partitions only on constant filters).
    bounds: tuple[datetime, datetime] | None = None
    # A spine sqlfeat built (a time range, no entity_df): the result is ordered by time, then keys.
    ordered: bool = False


@dataclass(frozen=True)
class RetrievalPlan:
    views: tuple[ViewRequest, ...]
    full_feature_names: bool
    # On-demand feature views asked for (``compiler/on_demand.py``'s OnDemandRequest), applied
    # after the join; ``hidden``: view columns only they read (not in the training set).
    on_demand: tuple[Any, ...] = ()
    hidden: frozenset[str] = field(default_factory=frozenset)

    @property
    def pit_names(self) -> list[str]:
        """Every column the views' point-in-time join finds (inputs of on-demand views included)."""
        return [name for request in self.views for name in request.output_names]

    @property
    def output_names(self) -> list[str]:
        """The features of the result: requested view features, then on-demand features."""
        names = [name for name in self.pit_names if name not in self.hidden]
        return names + [name for request in self.on_demand for name in request.output_names]

    @property
    def functions(self) -> tuple[Any, ...]:
        """The on-demand views computed in Python (pandas or python mode), after the query."""
        return tuple(r for r in self.on_demand if r.odfv.mode != "sql")

    @property
    def selected_names(self) -> list[str]:
        """The view columns the query selects: requested ones and the inputs of functions (the
        inputs of SQL expressions are used inside the query only)."""
        needed = {column for request in self.functions for _, column in request.inputs}
        return [name for name in self.pit_names if name not in self.hidden or name in needed]

    @property
    def join_keys(self) -> list[str]:
        keys: list[str] = []
        for request in self.views:
            keys.extend(k for k in request.join_keys if k not in keys)
        return keys


def split_reference(reference: str) -> tuple[str, str]:
    view, sep, feature = reference.partition(":")
    if not sep or not view or not feature:
        raise FeatureReferenceError(
            f"feature reference {reference!r} is not of the form 'view:feature', "
            "e.g. 'user_clicks_30d:click_count'"
        )
    return view, feature


def _suggest(name: str, options: Sequence[str]) -> str:
    close = get_close_matches(name, options, n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def plan_retrieval(
    references: Sequence[str] | FeatureService,
    views: Mapping[str, FeatureView],
    entities: Mapping[str, Entity],
    full_feature_names: bool = False,
    inputs: Sequence[FeatureViewProjection] = (),
) -> RetrievalPlan:
    """``"view:feature"`` references grouped by view (first-seen order), or a feature service's
    projections in its order; every name checked against the registered views. ``inputs``: the
    features on-demand views read (projections with their features listed), joined too but
    hidden from the result unless requested."""
    if isinstance(references, FeatureService):
        wants = [_Want(p.name, p.name_alias, p.features or None, p.join_key_map) for p in references.feature_view_projections]
        return _plan(_with_inputs(wants, inputs), views, entities, full_feature_names, f"feature service {references.name!r}")
    if isinstance(references, str):
        references = [references]
    if not references and not inputs:
        raise FeatureReferenceError("no features requested: pass features=['view:feature', ...] or a FeatureService")
    wanted: dict[str, _Want] = {}
    for reference in references:
        view_name, feature = split_reference(reference)
        if view_name not in views:
            raise FeatureReferenceError(
                f"feature view {view_name!r} (in {reference!r}) is not registered; "
                f"registered views: {sorted(views)}.{_suggest(view_name, list(views))} "
                "Run `sqlfeat apply` after defining it."
            )
        want = wanted.setdefault(view_name, _Want(view_name, None, [], {}))
        if feature not in want.features:
            want.features.append(feature)
    return _plan(_with_inputs(list(wanted.values()), inputs), views, entities, full_feature_names)


@dataclass
class _Want:
    """One view (or projection) of a request: the features asked (``None``: all of them), and
    those only on-demand views read (``hidden``)."""

    view: str
    alias: str | None
    features: Sequence[str] | None
    key_map: Mapping[str, str]
    hidden: list[str] = field(default_factory=list)


def _with_inputs(wants: list[_Want], inputs: Sequence[FeatureViewProjection]) -> list[_Want]:
    by_name = {w.alias or w.view: w for w in wants}
    for projection in inputs:
        use = projection.name_to_use()
        want = by_name.get(use)
        if want is None:
            want = by_name[use] = _Want(projection.name, projection.name_alias, [], projection.join_key_map)
            wants.append(want)
        elif want.view != projection.name or dict(want.key_map) != dict(projection.join_key_map):
            raise FeatureReferenceError(
                f"{use!r} names two different reads (of {want.view!r} and {projection.name!r}, or with other join keys); "
                "give one a name with .with_name(...)"
            )
        for feature in projection.features:
            if want.features is not None and feature not in want.features and feature not in want.hidden:
                want.hidden.append(feature)
    return wants


def _plan(wants: list[_Want], views: Mapping[str, FeatureView], entities: Mapping[str, Entity],
          full_feature_names: bool, where: str = "") -> RetrievalPlan:  # fmt: skip
    requests = []
    hidden: set[str] = set()
    for want in wants:
        if want.view not in views:
            raise FeatureReferenceError(
                f"feature view {want.view!r} (used by {where}) is not registered; registered views: {sorted(views)}."
                f"{_suggest(want.view, list(views))} Run `sqlfeat apply` after defining it."
            )
        view = views[want.view]
        join_keys, key_dtypes = _join_keys(view, entities)
        by_name = {f.name: f for f in view.features if f.name not in join_keys}
        name = want.alias or view.name
        fields = []
        asked = list(want.features) if want.features is not None else list(by_name)
        for feature in asked + want.hidden:
            if feature not in by_name:
                raise FeatureReferenceError(
                    f"feature {feature!r} is not in feature view {want.view!r}; it has "
                    f"{sorted(by_name)}.{_suggest(feature, list(by_name))}"
                )
            fields.append(by_name[feature])
        key_map = _key_map(view, join_keys, want.key_map)
        mapped = tuple(dict(key_map).get(k, k) for k in join_keys)
        outputs = tuple(f"{name}__{f.name}" if full_feature_names else f.name for f in fields[: len(asked)])
        outputs += tuple(f"{HIDDEN_PREFIX}{name}__{f.name}" for f in fields[len(asked) :])
        hidden.update(outputs[len(asked) :])
        requests.append(ViewRequest(view, mapped, key_dtypes, tuple(fields), outputs, want.alias, key_map))
    plan = RetrievalPlan(tuple(requests), full_feature_names, hidden=frozenset(hidden))
    _check_collisions(plan)
    return plan


def _key_map(view: FeatureView, join_keys: tuple[str, ...], key_map: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    for key in key_map:
        if key not in join_keys:
            raise FeatureReferenceError(
                f"with_join_key_map of feature view {view.name!r} maps {key!r}, which is not one of its join "
                f"keys {list(join_keys)}"
            )
    columns = [key_map.get(k, k) for k in join_keys]
    if len(set(columns)) != len(columns):
        raise FeatureReferenceError(
            f"with_join_key_map of feature view {view.name!r} joins two of its keys on one entity column: {columns}"
        )
    return tuple((k, key_map[k]) for k in join_keys if k in key_map and key_map[k] != k)


def filter_by_created(plan: RetrievalPlan) -> RetrievalPlan:
    """The plan with ``filter_by_created_timestamp``: views without a created timestamp are
    unaffected (as in Feast)."""
    requests = tuple(
        replace(r, filter_by_created=True) if r.view.source.created_timestamp_column else r for r in plan.views
    )
    return replace(plan, views=requests)


def plan_view(name: str, views: Mapping[str, FeatureView], entities: Mapping[str, Entity]) -> ViewRequest:
    """Every feature of view ``name`` as one plan entry (short names): what materialization
    writes and what serving reads."""
    if name not in views:
        raise FeatureReferenceError(
            f"feature view {name!r} is not registered; registered: {sorted(views)}.{_suggest(name, list(views))}"
        )
    view = views[name]
    keys, _ = _join_keys(view, entities)
    return plan_retrieval([f"{name}:{f.name}" for f in view.features if f.name not in keys], views, entities).views[0]


def _join_keys(view: FeatureView, entities: Mapping[str, Entity]) -> tuple[tuple[str, ...], tuple]:
    keys: list[str] = []
    dtypes: list[FeatureType | None] = []
    declared = {f.name: f.dtype for f in view.schema}
    for entity_name in view.entities:
        if entity_name not in entities:
            raise FeatureReferenceError(
                f"feature view {view.name!r} uses entity {entity_name!r}, which is not registered"
            )
        entity = entities[entity_name]
        for key in entity.join_keys:
            if key not in keys:
                keys.append(key)
                dtypes.append(declared.get(key) or entity.key_dtype)
    return tuple(keys), tuple(dtypes)


def _check_collisions(plan: RetrievalPlan) -> None:
    seen: dict[str, str] = {}
    for request in plan.views:
        for name in request.output_names:
            if name in plan.hidden:
                continue
            if name in seen:
                raise FeatureReferenceError(
                    f"feature name {name!r} is requested from both {seen[name]!r} and "
                    f"{request.name!r}; pass full_feature_names=True (--full-feature-names) to get "
                    f"'{seen[name]}__{name}' and '{request.name}__{name}'"
                )
            if name in plan.join_keys:
                raise FeatureReferenceError(
                    f"feature {request.name}:{name} has the same name as join key {name!r}; "
                    "pass full_feature_names=True"
                )
            seen[name] = request.name

