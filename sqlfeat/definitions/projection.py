"""``FeatureViewProjection``: a feature view as one retrieval uses it (Feast's name).

A projection selects some of a view's features (``view[["a", "b"]]``), may give the view another
name (``view.with_name("origin")``: output columns ``origin__a`` with full feature names) and may
join it on other columns of the entity rows (``view.with_join_key_map({"location_id":
"origin_id"})``). It changes nothing registered: the same view, read under another shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlfeat.definitions.spec import check_name
from sqlfeat.errors import DefinitionError


@dataclass(frozen=True)
class FeatureViewProjection:
    """``name`` is the view's; ``name_alias`` the name the retrieval uses (``name_to_use()``);
    ``features`` the feature names selected (empty: every feature); ``join_key_map`` maps each
    of the view's join keys to the entity-row column that holds it."""

    name: str
    name_alias: str | None = None
    features: tuple[str, ...] = ()
    join_key_map: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = f"projection of feature view {self.name!r}"
        if self.name_alias is not None:
            check_name(f"{where}: with_name", self.name_alias)
        if isinstance(self.features, str) or not all(isinstance(f, str) for f in self.features):
            raise DefinitionError(f"{where}: select features with a list of names, e.g. view[['a', 'b']]")
        object.__setattr__(self, "features", tuple(dict.fromkeys(self.features)))
        if not isinstance(self.join_key_map, dict):
            raise DefinitionError(f"{where}: with_join_key_map takes a dict {{view join key: entity column}}")
        for key, column in self.join_key_map.items():
            check_name(f"{where}: join key", key)
            check_name(f"{where}: entity column for {key!r}", column)
        if len(set(self.join_key_map.values())) != len(self.join_key_map):
            raise DefinitionError(f"{where}: with_join_key_map maps two join keys to one column: {self.join_key_map}")
        object.__setattr__(self, "join_key_map", dict(self.join_key_map))

    def __hash__(self) -> int:
        return hash((self.name, self.name_alias, self.features, tuple(sorted(self.join_key_map.items()))))

    def name_to_use(self) -> str:
        return self.name_alias or self.name

    def to_spec(self) -> dict[str, Any]:
        return {
            "name": self.name, "name_alias": self.name_alias, "features": list(self.features),
            "join_key_map": dict(self.join_key_map),
        }  # fmt: skip

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> FeatureViewProjection:
        return cls(spec["name"], spec.get("name_alias"), tuple(spec.get("features", ())), dict(spec.get("join_key_map", {})))
