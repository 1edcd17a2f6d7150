"""``Entity``: what features are about (a user, a merchant), and the column(s) that identify it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlfeat.definitions.spec import check_name
from sqlfeat.errors import DefinitionError
from sqlfeat.types import FeatureType, ValueType


@dataclass(frozen=True, init=False)
class Entity:
    """``Entity(name="user_id", value_type=ValueType.INT64)``; ``join_keys`` defaults to ``[name]``."""

    name: str
    join_keys: tuple[str, ...]
    value_type: ValueType = ValueType.UNKNOWN
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    owner: str = ""

    def __init__(
        self,
        name: str,
        join_keys: list[str] | tuple[str, ...] | None = None,
        value_type: ValueType | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        owner: str = "",
        join_key: str | None = None,
    ) -> None:
        check_name("entity", name)
        keys = tuple(join_keys) if join_keys else ((join_key,) if join_key else (name,))
        for key in keys:
            check_name(f"entity {name!r} join key", key)
        if len(set(keys)) != len(keys):
            raise DefinitionError(f"entity {name!r} lists a join key twice: {list(keys)}")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "join_keys", keys)
        object.__setattr__(self, "value_type", value_type or ValueType.UNKNOWN)
        object.__setattr__(self, "description", description)
        object.__setattr__(self, "tags", dict(tags or {}))
        object.__setattr__(self, "owner", owner)

    def __hash__(self) -> int:
        return hash((self.name, self.join_keys))

    @property
    def join_key(self) -> str:
        """The single join key (Feast's older attribute); composite keys must use ``join_keys``."""
        if len(self.join_keys) != 1:
            raise DefinitionError(f"entity {self.name!r} has composite join keys {list(self.join_keys)}")
        return self.join_keys[0]

    @property
    def key_dtype(self) -> FeatureType | None:
        return None if self.value_type is ValueType.UNKNOWN else self.value_type.to_dtype()

    def to_spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "join_keys": list(self.join_keys),
            "value_type": self.value_type.name,
            "description": self.description,
            "tags": self.tags,
            "owner": self.owner,
        }

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Entity:
        return cls(
            name=spec["name"],
            join_keys=spec["join_keys"],
            value_type=ValueType[spec.get("value_type", "UNKNOWN")],
            description=spec.get("description", ""),
            tags=spec.get("tags"),
            owner=spec.get("owner", ""),
        )
