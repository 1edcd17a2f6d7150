"""``FeatureView``: a group of features read from one source, keyed by entities, with a TTL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlfeat.definitions.aggregation import Aggregation
from sqlfeat.definitions.entity import Entity
from sqlfeat.definitions.field import Field, check_fields
from sqlfeat.definitions.projection import FeatureViewProjection
from sqlfeat.definitions.sources import DataSource, source_from_spec
from sqlfeat.definitions.spec import check_name
from sqlfeat.errors import DefinitionError


@dataclass(frozen=True, init=False)
class FeatureView:
    """Feast's ``FeatureView``. ``ttl`` of ``None`` or zero means values never expire.

    ``schema`` lists the features; a field named like an entity's join key declares that key's
    column type instead of a feature (as in Feast). With ``aggregations=[...]`` the view computes
    windowed aggregates of raw events instead, and ``schema`` (optional) only declares raw columns.
    """

    name: str
    entities: tuple[str, ...]
    schema: tuple[Field, ...]
    source: DataSource
    ttl: timedelta | None = None
    online: bool = True
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    owner: str = ""
    aggregations: tuple[Aggregation, ...] = ()
    # How stale the source's newest event may get before `sqlfeat check` warns / fails (dbt's
    # source freshness warn_after / error_after).
    freshness_warn_after: timedelta | None = None
    freshness_error_after: timedelta | None = None
    # A PushSource given as ``source`` (Feast's ``stream_source``); ``source`` is then its batch source.
    stream_source: DataSource | None = None
    # Entity objects given at construction; apply() registers them along with the view.
    entity_objects: tuple[Entity, ...] = field(default=(), compare=False, repr=False)
    # Set on the copies view[[...]], with_name and with_join_key_map return: query-time only,
    # never registered (see ``projection``).
    _projection: FeatureViewProjection | None = field(default=None, compare=False, repr=False)

    def __init__(
        self,
        *,
        name: str,
        source: DataSource,
        schema: list[Field] | None = None,
        entities: list[Entity | str] | None = None,
        ttl: timedelta | None = None,
        online: bool = True,
        description: str = "",
        tags: dict[str, str] | None = None,
        owner: str = "",
        aggregations: list[Aggregation] | None = None,
        freshness_warn_after: timedelta | None = None,
        freshness_error_after: timedelta | None = None,
    ) -> None:
        check_name("feature view", name)
        if not isinstance(source, DataSource):
            raise DefinitionError(f"feature view {name!r}: source must be a data source, got {source!r}")
        stream_source = None
        if source.kind == "push":  # Feast: a push source streams in, its batch source is read
            stream_source, source = source, source.batch_source  # type: ignore[attr-defined]
        if ttl is not None and not isinstance(ttl, timedelta):
            raise DefinitionError(f"feature view {name!r}: ttl must be a datetime.timedelta, got {ttl!r}")
        if ttl is not None and ttl < timedelta(0):
            raise DefinitionError(f"feature view {name!r}: ttl must not be negative, got {ttl}")
        entity_objects = tuple(e for e in entities or () if isinstance(e, Entity))
        names = tuple(e.name if isinstance(e, Entity) else e for e in entities or ())
        if len(set(names)) != len(names):
            raise DefinitionError(f"feature view {name!r} lists an entity twice: {list(names)}")
        schema = tuple(schema or ())
        check_fields(f"feature view {name!r}", schema)
        for f in schema:
            if f.expression is not None:
                raise DefinitionError(
                    f"feature view {name!r}: field {f.name!r} has an expression; expressions belong to on-demand "
                    "feature views (OnDemandFeatureView(sources=[...], schema=[Field(..., expression=...)]))"
                )
            # by name, or through field_mapping by the source column it reads
            if f.name in (source.timestamp_field, source.created_timestamp_column) or source.source_column(f.name) in (
                source.event_time_column, source.created_time_column
            ):
                raise DefinitionError(
                    f"feature view {name!r}: field {f.name!r} is the source's timestamp column, "
                    "not a feature; remove it from schema"
                )
        aggregations = tuple(aggregations or ())
        seen_aggregations: set[str] = set()
        for aggregation in aggregations:
            if not isinstance(aggregation, Aggregation):
                raise DefinitionError(f"feature view {name!r}: aggregations must be Aggregation(...), got {aggregation!r}")
            if aggregation.name in seen_aggregations:
                raise DefinitionError(
                    f"feature view {name!r} has two aggregations named {aggregation.name!r}; pass name=... to one"
                )
            seen_aggregations.add(aggregation.name)
        _check_freshness(name, freshness_warn_after, freshness_error_after)
        values = {
            "name": name, "entities": names, "schema": schema, "source": source,
            "ttl": ttl if ttl else None, "online": online, "description": description,
            "tags": dict(tags or {}), "owner": owner, "aggregations": aggregations,
            "freshness_warn_after": freshness_warn_after, "freshness_error_after": freshness_error_after,
            "entity_objects": entity_objects, "stream_source": stream_source,
        }  # fmt: skip
        for key, value in values.items():
            object.__setattr__(self, key, value)

    def __hash__(self) -> int:
        return hash(self.name)

    # -- projections (Feast's names): copies for retrieval, the registered view unchanged --------
    @property
    def projection(self) -> FeatureViewProjection:
        """How a retrieval uses this view: all of it under its own name, unless this is a copy
        made by ``view[[...]]``, ``with_name`` or ``with_join_key_map``."""
        return self._projection or FeatureViewProjection(self.name)

    @property
    def is_projected(self) -> bool:
        return self._projection is not None and self._projection != FeatureViewProjection(self.name)

    def unprojected(self) -> FeatureView:
        """The view itself, as registered (no projection)."""
        import copy

        clone = copy.copy(self)
        object.__setattr__(clone, "_projection", None)
        return clone

    def _projected(self, **changes: Any) -> FeatureView:
        import copy
        from dataclasses import replace

        clone = copy.copy(self)
        object.__setattr__(clone, "_projection", replace(self.projection, **changes))
        return clone

    def __getitem__(self, features: list[str]) -> FeatureView:
        """``view[["a", "b"]]``: the view with only those features selected."""
        if not isinstance(features, (list, tuple)) or not all(isinstance(f, str) for f in features):
            raise DefinitionError(f"feature view {self.name!r}: select features with a list of names, e.g. view[['a', 'b']]")
        known = [f.name for f in self.schema] + [a.name for a in self.aggregations]
        unknown = [f for f in features if f not in known]
        if unknown:
            from sqlfeat.errors import FeatureReferenceError

            raise FeatureReferenceError(f"feature view {self.name!r} has no feature {unknown[0]!r}; it has {known}")
        return self._projected(features=tuple(features))

    def with_name(self, name: str) -> FeatureView:
        """The same view under another name (columns ``name__feature`` with full feature names)."""
        return self._projected(name_alias=name)

    def with_join_key_map(self, join_key_map: dict[str, str]) -> FeatureView:
        """The same view joined on other entity columns: ``{view join key: entity column}``."""
        return self._projected(join_key_map=dict(join_key_map))

    @property
    def features(self) -> tuple[Field, ...]:
        """The view's features: its schema, or one field per aggregation (typed once applied)."""
        if not self.aggregations:
            return self.schema
        unresolved = [a.name for a in self.aggregations if a.dtype is None]
        if unresolved:
            raise DefinitionError(
                f"feature view {self.name!r}: the types of {unresolved} are inferred from the source when "
                "the view is applied; run `sqlfeat apply` first"
            )
        return tuple(Field(a.name, a.dtype) for a in self.aggregations)

    @property
    def batch_source(self) -> DataSource:
        """Feast's name for the source offline retrieval and materialization read: ``source``."""
        return self.source

    @property
    def max_window(self) -> timedelta | None:
        return max((a.time_window for a in self.aggregations), default=None)

    def to_spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "entities": list(self.entities),
            "schema": [f.to_spec() for f in self.schema],
            "source": self.source.to_spec(),
            "ttl_seconds": self.ttl.total_seconds() if self.ttl else None,
            "online": self.online,
            "description": self.description,
            "tags": self.tags,
            "owner": self.owner,
            "aggregations": [a.to_spec() for a in self.aggregations],
            # Written only when set, so views without a policy keep their fingerprints.
            **{f"{key}_seconds": value.total_seconds() for key, value in (
                ("freshness_warn_after", self.freshness_warn_after),
                ("freshness_error_after", self.freshness_error_after),
            ) if value is not None},
            **({"stream_source": self.stream_source.to_spec()} if self.stream_source is not None else {}),
        }

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> FeatureView:
        ttl = spec.get("ttl_seconds")
        return cls(
            name=spec["name"],
            entities=spec["entities"],
            schema=[Field.from_spec(f) for f in spec["schema"]],
            source=source_from_spec(spec.get("stream_source") or spec["source"]),
            ttl=timedelta(seconds=ttl) if ttl else None,
            online=spec.get("online", True),
            description=spec.get("description", ""),
            tags=spec.get("tags"),
            owner=spec.get("owner", ""),
            aggregations=[Aggregation.from_spec(a) for a in spec.get("aggregations", [])],
            freshness_warn_after=_seconds(spec.get("freshness_warn_after_seconds")),
            freshness_error_after=_seconds(spec.get("freshness_error_after_seconds")),
        )


def _seconds(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=value)


def _check_freshness(view: str, warn_after: timedelta | None, error_after: timedelta | None) -> None:
    for key, value in (("freshness_warn_after", warn_after), ("freshness_error_after", error_after)):
        if value is not None and (not isinstance(value, timedelta) or value <= timedelta(0)):
            raise DefinitionError(f"feature view {view!r}: {key} must be a positive datetime.timedelta, got {value!r}")
    if warn_after is not None and error_after is not None and warn_after > error_after:
        raise DefinitionError(
            f"feature view {view!r}: freshness_warn_after ({warn_after}) is longer than freshness_error_after "
            f"({error_after}); warn before failing"
        )
