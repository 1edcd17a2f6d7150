"""``RequestSource`` (Feast's name): values that arrive with the request, not from a table.

An on-demand feature view reads them: offline they are columns of the entity_df, online values
of the entity rows, each typed by its ``Field``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlfeat.definitions.field import Field, check_fields
from sqlfeat.definitions.spec import check_name
from sqlfeat.errors import DefinitionError


@dataclass(frozen=True, init=False)
class RequestSource:
    """``RequestSource(name="request", schema=[Field(name="amount", dtype=Float64)])``."""

    name: str
    schema: tuple[Field, ...]
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    owner: str = ""

    def __init__(self, *, name: str, schema: list[Field], description: str = "", tags: dict[str, str] | None = None,
                 owner: str = "") -> None:  # fmt: skip
        check_name("request source", name)
        fields = tuple(schema or ())
        if not fields:
            raise DefinitionError(f"request source {name!r} has no schema: list its fields, e.g. [Field(name='amount', dtype=Float64)]")
        check_fields(f"request source {name!r}", fields)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "schema", fields)
        object.__setattr__(self, "description", description)
        object.__setattr__(self, "tags", dict(tags or {}))
        object.__setattr__(self, "owner", owner)

    def __hash__(self) -> int:
        return hash((self.name, self.schema))

    def to_spec(self) -> dict[str, Any]:
        return {
            "name": self.name, "schema": [f.to_spec() for f in self.schema], "description": self.description,
            "tags": self.tags, "owner": self.owner,
        }  # fmt: skip

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> RequestSource:
        return cls(name=spec["name"], schema=[Field.from_spec(f) for f in spec["schema"]],
                   description=spec.get("description", ""), tags=spec.get("tags"), owner=spec.get("owner", ""))  # fmt: skip
