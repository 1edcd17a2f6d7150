"""``Field`` (and its Feast alias ``Feature``): a named, typed column of a feature view."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlfeat.definitions.spec import check_name
from sqlfeat.errors import DefinitionError
from sqlfeat.types import FeatureType, ValueType, dtype_from_name


@dataclass(frozen=True, init=False)
class Field:
    """``Field(name="click_count", dtype=Int64)``; ``dtype`` may also be a name like ``"string"``.

    ``expression`` (sqlfeat's own, on-demand feature views only): a scalar SQL expression over the
    view's source features and request fields, e.g. ``"clicks / NULLIF(impressions, 0)"``."""

    name: str
    dtype: FeatureType
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    expression: str | None = None

    def __init__(
        self,
        name: str,
        dtype: FeatureType | ValueType | str,
        description: str = "",
        tags: dict[str, str] | None = None,
        expression: str | None = None,
    ) -> None:
        object.__setattr__(self, "name", check_name("field", name))
        try:
            resolved = dtype_from_name(dtype)
        except DefinitionError as err:
            raise DefinitionError(f"field {name!r}: {err}") from None
        object.__setattr__(self, "dtype", resolved)
        object.__setattr__(self, "description", description)
        object.__setattr__(self, "tags", dict(tags or {}))
        if expression is not None and (not isinstance(expression, str) or not expression.strip()):
            raise DefinitionError(f"field {name!r}: expression must be SQL text, got {expression!r}")
        object.__setattr__(self, "expression", expression)

    def __hash__(self) -> int:
        return hash((self.name, self.dtype))

    def to_spec(self) -> dict[str, Any]:
        spec = {"name": self.name, "dtype": self.dtype.name, "description": self.description, "tags": self.tags}
        if self.expression is not None:  # only on-demand fields have one: other specs are unchanged
            spec["expression"] = self.expression
        return spec

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Field:
        return cls(spec["name"], spec["dtype"], spec.get("description", ""), spec.get("tags"), spec.get("expression"))


def check_fields(where: str, fields: tuple[Any, ...]) -> None:
    """A schema's entries are ``Field``s with distinct names; ``where`` names its definition."""
    seen: set[str] = set()
    for f in fields:
        if not isinstance(f, Field):
            raise DefinitionError(f"{where}: schema entries must be Field(...), got {f!r}")
        if f.name in seen:
            raise DefinitionError(f"{where} declares field {f.name!r} twice")
        seen.add(f.name)


Feature = Field
