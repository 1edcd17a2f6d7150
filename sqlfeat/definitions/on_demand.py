"""``OnDemandFeatureView`` (Feast's name): features computed at request time from other views'
features and request fields, by one definition for training and serving.

Three kinds: SQL expressions (sqlfeat's own: every schema field has an ``expression``, compiled
into the point-in-time SQL offline and evaluated by DuckDB online), and Feast's ``pandas`` and
``python`` functions (``@on_demand_feature_view``), applied after the join offline and after the
read online. A function is registered as its source text (``udf_source.py``) and re-created from
it when the registry is read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlfeat.definitions.feature_view import FeatureView
from sqlfeat.definitions.field import Field, check_fields
from sqlfeat.definitions.projection import FeatureViewProjection
from sqlfeat.definitions.request_source import RequestSource
from sqlfeat.definitions.spec import check_name
from sqlfeat.definitions.udf_source import UdfSource, capture_udf
from sqlfeat.errors import DefinitionError

MODES = ("sql", "pandas", "python")


@dataclass(frozen=True, init=False)
class OnDemandFeatureView:
    """``OnDemandFeatureView(name=..., sources=[view, view[["a"]], request_source], schema=[...])``.

    ``schema`` (or Feast's older ``features``) lists the outputs. With a SQL ``expression`` on
    every field the view is of mode ``sql``; otherwise ``udf`` computes them in ``mode`` ``pandas``
    (a DataFrame in, a DataFrame out) or ``python`` (a dict of lists in and out; ``singleton``:
    one row's values in and out)."""

    name: str
    sources: tuple[FeatureViewProjection, ...]
    request_sources: tuple[RequestSource, ...]
    schema: tuple[Field, ...]
    mode: str
    udf_source: UdfSource | None = None
    singleton: bool = False
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    owner: str = ""
    # The source view objects given at construction: apply registers them with this view.
    source_views: tuple[FeatureView, ...] = field(default=(), compare=False, repr=False)
    udf: Callable | None = field(default=None, compare=False, repr=False)

    def __init__(
        self, *, name: str, sources: list[Any], schema: list[Field] | None = None, features: list[Field] | None = None,
        udf: Callable | None = None, mode: str | None = None, description: str = "", tags: dict[str, str] | None = None,
        owner: str = "", singleton: bool = False, entities: list[Any] | None = None, write_to_online_store: bool = False,
        explode: bool = False, udf_source: UdfSource | None = None, aggregations: list[Any] | None = None,
    ) -> None:  # fmt: skip
        check_name("on-demand feature view", name)
        where = f"on-demand feature view {name!r}"
        if aggregations:
            raise DefinitionError(f"{where}: aggregations on on-demand views are not supported; aggregate in a "
                                  "FeatureView (aggregations=[Aggregation(...)]) and read it as a source")  # fmt: skip
        if write_to_online_store or explode:
            raise DefinitionError(f"{where}: write_to_online_store and explode are not supported by sqlfeat; "
                                  "remove them (sqlfeat computes on-demand features at request time)")  # fmt: skip
        fields = tuple(schema if schema is not None else features or ())
        if schema is not None and features is not None:
            raise DefinitionError(f"{where}: give schema=[...] or features=[...], not both")
        if not fields:
            raise DefinitionError(f"{where} has no schema: list its output fields, e.g. [Field(name='ctr', dtype=Float64)]")
        check_fields(where, fields)
        projections, requests, views = _sources(where, sources)
        with_expression = [f.name for f in fields if f.expression is not None]
        if with_expression and (udf is not None or udf_source is not None):
            raise DefinitionError(f"{where} has both a function and SQL expressions (on {with_expression}); use one")
        if with_expression:
            missing = [f.name for f in fields if f.expression is None]
            if missing:
                raise DefinitionError(f"{where}: fields {missing} have no expression; give every field an expression=...")
            mode = "sql"
        else:
            mode = mode or "pandas"
            if mode not in ("pandas", "python"):
                raise DefinitionError(f"{where}: mode must be 'pandas' or 'python' for a function, got {mode!r}")
            if udf is None and udf_source is None:
                raise DefinitionError(f"{where} has neither a function nor expressions: decorate a function with "
                                      "@on_demand_feature_view(...), or give each field an expression='...'")  # fmt: skip
            if udf_source is None:
                udf_source = capture_udf(udf, where)
            # from the registry: re-created from its source text when first called (function())
        if singleton and mode != "python":
            raise DefinitionError(f"{where}: singleton=True is for mode='python' only")
        for attr, value in (("name", name), ("sources", projections), ("request_sources", requests), ("schema", fields),
                            ("mode", mode), ("udf_source", udf_source), ("singleton", bool(singleton)),
                            ("description", description), ("tags", dict(tags or {})), ("owner", owner),
                            ("source_views", views), ("udf", udf)):  # fmt: skip
            object.__setattr__(self, attr, value)

    def __hash__(self) -> int:
        return hash((self.name, self.schema, self.sources, self.mode))

    def function(self) -> Callable:
        """The function: as defined, or re-created from its registered source text (once)."""
        if self.udf is None and self.udf_source is not None:
            object.__setattr__(self, "udf", self.udf_source.load(f"on-demand feature view {self.name!r}"))
        if self.udf is None:
            raise DefinitionError(f"on-demand feature view {self.name!r} is of SQL expressions, not a function")
        return self.udf

    @property
    def features(self) -> tuple[Field, ...]:
        return self.schema

    @property
    def request_fields(self) -> tuple[Field, ...]:
        return tuple(f for source in self.request_sources for f in source.schema)

    def to_spec(self) -> dict[str, Any]:
        return {
            "name": self.name, "sources": [p.to_spec() for p in self.sources],
            "request_sources": [r.to_spec() for r in self.request_sources], "schema": [f.to_spec() for f in self.schema],
            "mode": self.mode, "udf": self.udf_source.to_spec() if self.udf_source else None,
            "singleton": self.singleton, "description": self.description, "tags": self.tags, "owner": self.owner,
        }  # fmt: skip

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> OnDemandFeatureView:
        udf = UdfSource.from_spec(spec["udf"]) if spec.get("udf") else None
        sources: list[Any] = [FeatureViewProjection.from_spec(p) for p in spec["sources"]]
        sources += [RequestSource.from_spec(r) for r in spec.get("request_sources", [])]
        return cls(name=spec["name"], sources=sources, schema=[Field.from_spec(f) for f in spec["schema"]],
                   mode=None if spec["mode"] == "sql" else spec["mode"], udf_source=udf,
                   singleton=spec.get("singleton", False), description=spec.get("description", ""),
                   tags=spec.get("tags"), owner=spec.get("owner", ""))  # fmt: skip


def _sources(where: str, sources: Any) -> tuple[tuple[FeatureViewProjection, ...], tuple[RequestSource, ...], tuple]:
    if isinstance(sources, dict):  # Feast's old spelling: {"name": source}
        sources = list(sources.values())
    projections: list[FeatureViewProjection] = []
    requests: list[RequestSource] = []
    views: list[FeatureView] = []
    for source in sources or ():
        if isinstance(source, RequestSource):
            requests.append(source)
        elif isinstance(source, FeatureView):
            projections.append(source.projection)
            views.append(source.unprojected())
        elif isinstance(source, FeatureViewProjection):
            projections.append(source)
        else:
            raise DefinitionError(f"{where}: sources must be feature views (or view[[...]]) and RequestSources, got {source!r}")
    if not projections and not requests:
        raise DefinitionError(f"{where} has no sources: list feature views and/or a RequestSource")
    names = [p.name_to_use() for p in projections] + [r.name for r in requests]
    if len(set(names)) != len(names):
        raise DefinitionError(f"{where} lists a source twice: {names}; use view.with_name('other') for a second copy")
    return tuple(projections), tuple(requests), tuple(views)


def on_demand_feature_view(
    *, name: str | None = None, sources: list[Any], schema: list[Field] | None = None, features: list[Field] | None = None,
    mode: str = "pandas", description: str = "", tags: dict[str, str] | None = None, owner: str = "",
    singleton: bool = False, entities: list[Any] | None = None, write_to_online_store: bool = False, explode: bool = False,
    aggregations: list[Any] | None = None,
) -> Callable[[Callable], OnDemandFeatureView]:  # fmt: skip
    """Feast's decorator: ``@on_demand_feature_view(sources=[...], schema=[...], mode="pandas")``
    over ``def name(inputs): ...`` makes an ``OnDemandFeatureView`` named after the function."""

    def decorate(udf: Callable) -> OnDemandFeatureView:
        return OnDemandFeatureView(
            name=name or getattr(udf, "__name__", ""), sources=sources, schema=schema, features=features, udf=udf,
            mode=mode, description=description, tags=tags, owner=owner, singleton=singleton, entities=entities,
            write_to_online_store=write_to_online_store, explode=explode, aggregations=aggregations,
        )  # fmt: skip

    return decorate


def on_demand_changes(old: dict[str, Any], new: dict[str, Any]) -> tuple[str, ...]:
    """What a plan says about a changed on-demand view: fields, expressions, function, sources."""
    details = []
    before = {f["name"]: f for f in old["schema"]}
    after = {f["name"]: f for f in new["schema"]}
    details += [f"adds field {n} ({after[n]['dtype']})" for n in after if n not in before]
    details += [f"removes field {n} ({before[n]['dtype']})" for n in before if n not in after]
    for n in after.keys() & before.keys():
        if before[n]["dtype"] != after[n]["dtype"]:
            details.append(f"retypes field {n}: {before[n]['dtype']} -> {after[n]['dtype']}")
        if before[n].get("expression") != after[n].get("expression"):
            details.append(f"expression of {n}: {before[n].get('expression')!r} -> {after[n].get('expression')!r}")
    if old.get("mode") != new.get("mode"):
        details.append(f"mode: {old.get('mode')} -> {new.get('mode')}")
    if (old.get("udf") or {}).get("source") != (new.get("udf") or {}).get("source"):
        details.append("function source changed")
    elif old.get("udf") != new.get("udf"):
        details.append("function imports or constants changed")
    if old["sources"] != new["sources"] or old.get("request_sources") != new.get("request_sources"):
        details.append("sources changed")
    details += [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in ("singleton", "description", "tags", "owner") if old.get(k) != new.get(k)]
    return tuple(details)
