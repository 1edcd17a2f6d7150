"""``FeatureView``: a group of features read from one source, keyed by entities, with a TTL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlfeat.definitions.entity import Entity
from sqlfeat.definitions.field import Field
from sqlfeat.definitions.sources import DataSource, source_from_spec
from sqlfeat.definitions.spec import check_name
from sqlfeat.errors import DefinitionError


@dataclass(frozen=True, init=False)
class FeatureView:
    """Feast's ``FeatureView``. ``ttl`` of ``None`` or zero means values never expire.

    ``schema`` lists the features; a field named like an entity's join key declares that key's
    column type instead of a feature (as in Feast).
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
    # Entity objects given at construction; apply() registers them along with the view.
    entity_objects: tuple[Entity, ...] = field(default=(), compare=False, repr=False)

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
    ) -> None:
        check_name("feature view", name)
        if not isinstance(source, DataSource):
            raise DefinitionError(f"feature view {name!r}: source must be a data source, got {source!r}")
        if ttl is not None and not isinstance(ttl, timedelta):
            raise DefinitionError(f"feature view {name!r}: ttl must be a datetime.timedelta, got {ttl!r}")
        if ttl is not None and ttl < timedelta(0):
            raise DefinitionError(f"feature view {name!r}: ttl must not be negative, got {ttl}")
        entity_objects = tuple(e for e in entities or () if isinstance(e, Entity))
        names = tuple(e.name if isinstance(e, Entity) else e for e in entities or ())
        if len(set(names)) != len(names):
            raise DefinitionError(f"feature view {name!r} lists an entity twice: {list(names)}")
        schema = tuple(schema or ())
        seen: set[str] = set()
        for f in schema:
            if not isinstance(f, Field):
                raise DefinitionError(f"feature view {name!r}: schema entries must be Field(...), got {f!r}")
            if f.name in seen:
                raise DefinitionError(f"feature view {name!r} declares field {f.name!r} twice")
            seen.add(f.name)
            if f.name in (source.timestamp_field, source.created_timestamp_column):
                raise DefinitionError(
                    f"feature view {name!r}: field {f.name!r} is the source's timestamp column, "
                    "not a feature; remove it from schema"
                )
        values = {
            "name": name, "entities": names, "schema": schema, "source": source,
            "ttl": ttl if ttl else None, "online": online, "description": description,
            "tags": dict(tags or {}), "owner": owner, "entity_objects": entity_objects,
        }  # fmt: skip
        for key, value in values.items():
            object.__setattr__(self, key, value)

    def __hash__(self) -> int:
        return hash(self.name)

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
        }

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> FeatureView:
        ttl = spec.get("ttl_seconds")
        return cls(
            name=spec["name"],
            entities=spec["entities"],
            schema=[Field.from_spec(f) for f in spec["schema"]],
            source=source_from_spec(spec["source"]),
            ttl=timedelta(seconds=ttl) if ttl else None,
            online=spec.get("online", True),
            description=spec.get("description", ""),
            tags=spec.get("tags"),
            owner=spec.get("owner", ""),
        )
