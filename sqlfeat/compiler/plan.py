"""Resolve ``"view:feature"`` references against registered definitions into a retrieval plan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from difflib import get_close_matches

from sqlglot import exp

from sqlfeat.definitions import Aggregation, Entity, FeatureView, Field
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


@dataclass(frozen=True)
class ViewRequest:
    """The features asked of one view, the join keys that reach it, and their output names."""

    view: FeatureView
    join_keys: tuple[str, ...]
    key_dtypes: tuple[FeatureType | None, ...]
    features: tuple[Field, ...]
    output_names: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.view.name

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


@dataclass(frozen=True)
class RetrievalPlan:
    views: tuple[ViewRequest, ...]
    full_feature_names: bool

    @property
    def output_names(self) -> list[str]:
        return [name for request in self.views for name in request.output_names]

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
    references: Sequence[str],
    views: Mapping[str, FeatureView],
    entities: Mapping[str, Entity],
    full_feature_names: bool = False,
) -> RetrievalPlan:
    """Group references by view (keeping first-seen order) and check every name exists."""
    if isinstance(references, str):
        references = [references]
    if not references:
        raise FeatureReferenceError("no features requested: pass features=['view:feature', ...]")
    wanted: dict[str, list[str]] = {}
    for reference in references:
        view_name, feature = split_reference(reference)
        if view_name not in views:
            raise FeatureReferenceError(
                f"feature view {view_name!r} (in {reference!r}) is not registered; "
                f"registered views: {sorted(views)}.{_suggest(view_name, list(views))} "
                "Run `sqlfeat apply` after defining it."
            )
        features = wanted.setdefault(view_name, [])
        if feature not in features:
            features.append(feature)

    requests = []
    for view_name, feature_names in wanted.items():
        view = views[view_name]
        join_keys, key_dtypes = _join_keys(view, entities)
        by_name = {f.name: f for f in view.features if f.name not in join_keys}
        fields = []
        for name in feature_names:
            if name not in by_name:
                raise FeatureReferenceError(
                    f"feature {name!r} is not in feature view {view_name!r}; it has "
                    f"{sorted(by_name)}.{_suggest(name, list(by_name))}"
                )
            fields.append(by_name[name])
        outputs = tuple(f"{view_name}__{f.name}" if full_feature_names else f.name for f in fields)
        requests.append(ViewRequest(view, join_keys, key_dtypes, tuple(fields), outputs))

    plan = RetrievalPlan(tuple(requests), full_feature_names)
    _check_collisions(plan)
    return plan


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

