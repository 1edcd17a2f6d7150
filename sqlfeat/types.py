"""Feature dtypes (Feast's names) and how each maps to SQL, Arrow and warehouse column types.

``Field(name="clicks", dtype=Int64)`` or ``dtype="int64"``: both name the same :class:`FeatureType`.
pyarrow and sqlglot are imported inside the methods that need them so ``import sqlfeat`` stays fast.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlglot import exp

__all__ = [
    "Array",
    "Bool",
    "Bytes",
    "FeatureType",
    "Float32",
    "Float64",
    "Int32",
    "Int64",
    "String",
    "UnixTimestamp",
    "ValueType",
    "dtype_from_name",
]


@dataclass(frozen=True)
class FeatureType:
    """A feature's type: ``name`` is Feast's spelling, ``sql`` the canonical SQL type (DuckDB)."""

    name: str
    sql: str
    # Warehouse column types (sqlglot DataType.Type names) this dtype accepts without loss.
    accepts: tuple[str, ...]
    element: FeatureType | None = None

    def __repr__(self) -> str:
        return self.name

    def sql_type(self) -> exp.DataType:
        from sqlglot import exp

        return exp.DataType.build(self.sql, dialect="duckdb")

    def to_arrow(self) -> pa.DataType:
        import pyarrow as pa

        if self.element is not None:
            return pa.list_(self.element.to_arrow())
        return _arrow_factories()[self.name]()

    def accepts_column(self, column_type: exp.DataType, float_is_double: bool = False) -> bool:
        """True if a source column of ``column_type`` can be read as this dtype without loss.

        ``float_is_double``: the warehouse has only 64-bit floats (BigQuery, Snowflake), so a
        Float32 feature reads its DOUBLE columns.
        """
        if self.element is not None:
            inner = column_type.expressions
            return (
                column_type.this.name == "ARRAY" and bool(inner)
                and self.element.accepts_column(inner[0], float_is_double)
            )
        if float_is_double and self.name == "Float32" and column_type.this.name == "DOUBLE":
            return True
        return column_type.this.name in self.accepts


Int32 = FeatureType("Int32", "INT", ("TINYINT", "SMALLINT", "INT", "UTINYINT", "USMALLINT"))
Int64 = FeatureType(
    "Int64", "BIGINT", ("TINYINT", "SMALLINT", "INT", "BIGINT", "UTINYINT", "USMALLINT", "UINT")
)
Float32 = FeatureType("Float32", "FLOAT", ("FLOAT",))
Float64 = FeatureType("Float64", "DOUBLE", ("FLOAT", "DOUBLE", "DECIMAL"))
String = FeatureType("String", "VARCHAR", ("TEXT", "VARCHAR", "CHAR", "NVARCHAR", "NCHAR"))
Bool = FeatureType("Bool", "BOOLEAN", ("BOOLEAN",))
Bytes = FeatureType("Bytes", "BLOB", ("VARBINARY", "BINARY", "BLOB"))
UnixTimestamp = FeatureType(
    "UnixTimestamp",
    "TIMESTAMPTZ",
    ("TIMESTAMP", "TIMESTAMPNTZ", "TIMESTAMPTZ", "TIMESTAMPLTZ", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"),
)

TIMESTAMP_TYPES = frozenset(UnixTimestamp.accepts)


def Array(element: FeatureType) -> FeatureType:  # noqa: N802 - Feast's spelling
    """A list of ``element`` values, e.g. ``Array(Int64)``."""
    if element.element is not None:
        raise TypeError("sqlfeat arrays cannot nest: Array(Array(...)) is not supported")
    return FeatureType(f"Array({element.name})", f"{element.sql}[]", ("ARRAY",), element)


_PRIMITIVES = {t.name: t for t in (Int32, Int64, Float32, Float64, String, Bool, Bytes, UnixTimestamp)}
_ALIASES = {
    "int": Int64, "int32": Int32, "int64": Int64, "long": Int64, "integer": Int64,
    "float": Float32, "float32": Float32, "float64": Float64, "double": Float64,
    "string": String, "str": String, "bool": Bool, "boolean": Bool, "bytes": Bytes,
    "unix_timestamp": UnixTimestamp, "timestamp": UnixTimestamp, "datetime": UnixTimestamp,
}  # fmt: skip


def _arrow_factories() -> dict:
    import pyarrow as pa

    return {
        "Int32": pa.int32, "Int64": pa.int64, "Float32": pa.float32, "Float64": pa.float64,
        "String": pa.string, "Bool": pa.bool_, "Bytes": pa.binary,
        "UnixTimestamp": lambda: pa.timestamp("us", tz="UTC"),
    }  # fmt: skip


def dtype_from_name(name: Union[str, FeatureType, "ValueType"]) -> FeatureType:
    """Resolve ``Int64``, ``'int64'``, ``'string'``, ``'Array(Int64)'`` or a ``ValueType``."""
    if isinstance(name, FeatureType):
        return name
    if isinstance(name, ValueType):
        return name.to_dtype()
    if not isinstance(name, str):
        raise TypeError(f"dtype must be a sqlfeat.types type or a type name, got {name!r}")
    text = name.strip()
    if text in _PRIMITIVES:
        return _PRIMITIVES[text]
    lowered = text.lower()
    if lowered.startswith("array(") and lowered.endswith(")"):
        return Array(dtype_from_name(text[6:-1]))
    if lowered.endswith("_list"):
        return Array(dtype_from_name(lowered[: -len("_list")]))
    if lowered in _ALIASES:
        return _ALIASES[lowered]
    known = ", ".join(sorted(_PRIMITIVES) + sorted(_ALIASES))
    raise ValueError(f"unknown dtype {name!r}; use one of sqlfeat.types ({known}) or Array(...)")


def dtype_of_column(column_type: exp.DataType) -> FeatureType | None:
    """The narrowest feature dtype that reads a warehouse column type without loss, if any."""
    if column_type.this.name == "ARRAY" and column_type.expressions:
        element = dtype_of_column(column_type.expressions[0])
        return Array(element) if element is not None else None
    for dtype in (Int32, Int64, Float32, Float64, String, Bool, Bytes, UnixTimestamp):
        if dtype.accepts_column(column_type):
            return dtype
    return None


class ValueType(enum.Enum):
    """Feast's ``ValueType`` for entities; ``to_dtype()`` gives the matching feature dtype."""

    UNKNOWN = 0
    BYTES = 1
    STRING = 2
    INT32 = 3
    INT64 = 4
    DOUBLE = 5
    FLOAT = 6
    BOOL = 7
    UNIX_TIMESTAMP = 8

    def to_dtype(self) -> FeatureType:
        if self is ValueType.UNKNOWN:
            raise ValueError("ValueType.UNKNOWN has no dtype")
        return {
            "BYTES": Bytes, "STRING": String, "INT32": Int32, "INT64": Int64, "DOUBLE": Float64,
            "FLOAT": Float32, "BOOL": Bool, "UNIX_TIMESTAMP": UnixTimestamp,
        }[self.name]  # fmt: skip
