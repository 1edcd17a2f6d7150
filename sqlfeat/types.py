"""Every fact sqlfeat knows about types, in two tables.

- ``FeatureType`` (Feast's names: ``Int64``, ``String``, ``Array(Float32)``...): per dtype its
  family, its SQL type (any dialect, through sqlglot), its Arrow type, the Python values an online
  join key of that dtype accepts, and which warehouse column types it reads without loss.
- ``COLUMN_TYPES``: per warehouse column type (sqlglot's ``DataType.Type`` names) its family, the
  Arrow type a result column of it is fetched as, and whether it is a naive timestamp.

- ``CONVERSIONS``: per (declared family, column family) what casting the column to a declared
  dtype that does not read it exactly does to the values (a narrower integer, integers as text...);
  a pair absent there cannot convert.

Other modules ask these tables (``dtype.family is Family.FLOAT``, ``column_family(t)``,
``dtype.conversion(t)``); nothing compares dtype names as strings. pyarrow and sqlglot are imported inside the functions that need
them so ``import sqlfeat`` stays fast.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Union

from sqlfeat.errors import DefinitionError

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlglot import exp

__all__ = [
    "Array",
    "Bool",
    "Bytes",
    "COLUMN_TYPES",
    "Family",
    "FeatureType",
    "Float32",
    "Float64",
    "Int32",
    "Int64",
    "String",
    "UnixTimestamp",
    "ValueType",
    "arrow_type_of_column",
    "column_family",
    "column_type_of_arrow",
    "dtype_from_name",
    "dtype_of_column",
    "is_naive_timestamp",
    "is_timestamp_column",
]


class Family(enum.Enum):
    """What kind of value a type holds; dtypes of one family convert into each other."""

    INTEGER = "integer"
    FLOAT = "float"
    STRING = "string"
    BYTES = "bytes"
    BOOL = "bool"
    TIMESTAMP = "timestamp"
    DATE = "date"
    ARRAY = "array"
    OTHER = "other"


def _pa():
    import pyarrow

    return pyarrow


@dataclass(frozen=True)
class ColumnType:
    """A warehouse column type: its family, the Arrow type it is fetched as, naive or not."""

    family: Family
    arrow: Callable[[], pa.DataType]
    naive: bool = False


_US_UTC = lambda: _pa().timestamp("us", tz="UTC")  # noqa: E731
_US_NAIVE = lambda: _pa().timestamp("us")  # noqa: E731

# Keyed by sqlglot's exp.DataType.Type names (what every warehouse's described columns are parsed into).
COLUMN_TYPES: dict[str, ColumnType] = {
    "TINYINT": ColumnType(Family.INTEGER, lambda: _pa().int8()),
    "UTINYINT": ColumnType(Family.INTEGER, lambda: _pa().int16()),
    "SMALLINT": ColumnType(Family.INTEGER, lambda: _pa().int16()),
    "USMALLINT": ColumnType(Family.INTEGER, lambda: _pa().int32()),
    "INT": ColumnType(Family.INTEGER, lambda: _pa().int32()),
    "UINT": ColumnType(Family.INTEGER, lambda: _pa().int64()),
    "BIGINT": ColumnType(Family.INTEGER, lambda: _pa().int64()),
    "UBIGINT": ColumnType(Family.INTEGER, lambda: _pa().uint64()),
    "INT128": ColumnType(Family.INTEGER, lambda: _pa().float64()),
    "FLOAT": ColumnType(Family.FLOAT, lambda: _pa().float32()),
    "DOUBLE": ColumnType(Family.FLOAT, lambda: _pa().float64()),
    "DECIMAL": ColumnType(Family.FLOAT, lambda: _pa().float64()),
    "TEXT": ColumnType(Family.STRING, lambda: _pa().string()),
    "VARCHAR": ColumnType(Family.STRING, lambda: _pa().string()),
    "CHAR": ColumnType(Family.STRING, lambda: _pa().string()),
    "NVARCHAR": ColumnType(Family.STRING, lambda: _pa().string()),
    "NCHAR": ColumnType(Family.STRING, lambda: _pa().string()),
    "VARBINARY": ColumnType(Family.BYTES, lambda: _pa().binary()),
    "BINARY": ColumnType(Family.BYTES, lambda: _pa().binary()),
    "BLOB": ColumnType(Family.BYTES, lambda: _pa().binary()),
    "BOOLEAN": ColumnType(Family.BOOL, lambda: _pa().bool_()),
    "DATE": ColumnType(Family.DATE, lambda: _pa().date32()),
    "TIMESTAMPTZ": ColumnType(Family.TIMESTAMP, _US_UTC),
    "TIMESTAMPLTZ": ColumnType(Family.TIMESTAMP, _US_UTC),
    "TIMESTAMP": ColumnType(Family.TIMESTAMP, _US_NAIVE, naive=True),
    "TIMESTAMPNTZ": ColumnType(Family.TIMESTAMP, _US_NAIVE, naive=True),
    "TIMESTAMP_S": ColumnType(Family.TIMESTAMP, _US_NAIVE, naive=True),
    "TIMESTAMP_MS": ColumnType(Family.TIMESTAMP, _US_NAIVE, naive=True),
    "TIMESTAMP_NS": ColumnType(Family.TIMESTAMP, _US_NAIVE, naive=True),
    "DATETIME": ColumnType(Family.TIMESTAMP, _US_NAIVE, naive=True),
}
_UNKNOWN_COLUMN = ColumnType(Family.OTHER, lambda: _pa().string())


def _column(data_type: exp.DataType) -> ColumnType:
    return COLUMN_TYPES.get(data_type.this.name, _UNKNOWN_COLUMN)


def column_family(data_type: exp.DataType) -> Family:
    """The family of a warehouse column type (``Family.ARRAY`` for any array)."""
    if data_type.this.name == "ARRAY":
        return Family.ARRAY
    return _column(data_type).family


def is_timestamp_column(data_type: exp.DataType) -> bool:
    return column_family(data_type) is Family.TIMESTAMP


def is_naive_timestamp(data_type: exp.DataType) -> bool:
    """A timestamp column stored without a time zone (sqlfeat reads it as UTC)."""
    return is_timestamp_column(data_type) and _column(data_type).naive


def arrow_type_of_column(data_type: exp.DataType) -> pa.DataType:
    """The Arrow type a result column of ``data_type`` is fetched as."""
    if data_type.this.name == "ARRAY" and data_type.expressions:
        return _pa().list_(arrow_type_of_column(data_type.expressions[0]))
    return _column(data_type).arrow()


def column_type_of_arrow(arrow_type: pa.DataType) -> exp.DataType:
    """The SQL column type an uploaded Arrow column becomes (canonical sqlglot spelling)."""
    from sqlglot import exp

    pa = _pa()
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        inner = column_type_of_arrow(arrow_type.value_type)
        return exp.DataType(this=exp.DataType.Type.ARRAY, expressions=[inner], nested=True)
    if pa.types.is_timestamp(arrow_type):
        return exp.DataType.build("TIMESTAMPTZ" if arrow_type.tz else "TIMESTAMP")
    checks = [
        (pa.types.is_boolean, "BOOLEAN"), (pa.types.is_int8, "SMALLINT"), (pa.types.is_int16, "SMALLINT"),
        (pa.types.is_int32, "INT"), (pa.types.is_integer, "BIGINT"), (pa.types.is_float32, "FLOAT"),
        (pa.types.is_floating, "DOUBLE"), (pa.types.is_decimal, "DOUBLE"), (pa.types.is_string, "VARCHAR"),
        (pa.types.is_large_string, "VARCHAR"), (pa.types.is_binary, "VARBINARY"),
        (pa.types.is_large_binary, "VARBINARY"), (pa.types.is_date, "DATE"),
    ]  # fmt: skip
    for check, name in checks:
        if check(arrow_type):
            return exp.DataType.build(name)
    return exp.DataType.build("UNKNOWN")


# -- feature dtypes ------------------------------------------------------------------------------
@dataclass(frozen=True)
class FeatureType:
    """A feature's type. ``name`` is Feast's spelling, ``sql`` the canonical SQL type (sqlglot's
    DuckDB spelling, rendered for any dialect by :meth:`sql_for`)."""

    name: str
    family: Family
    sql: str
    arrow: Callable[[], pa.DataType] = field(compare=False, repr=False)
    # Warehouse column types (COLUMN_TYPES keys) this dtype reads without loss.
    reads: frozenset[str] = frozenset()
    # Python values an online join key of this dtype accepts; empty: it cannot be a join key.
    key_types: tuple[type, ...] = ()
    element: FeatureType | None = None
    # A join key of this dtype is cast to it in SQL, so a source column of integers compares as
    # text with text keys (entity_df, online rows); on a text column the cast changes nothing.
    casts_key: bool = False

    def __repr__(self) -> str:
        return self.name

    def sql_type(self) -> exp.DataType:
        from sqlglot import exp

        return exp.DataType.build(self.sql, dialect="duckdb")

    def sql_for(self, dialect: str) -> str:
        """The SQL type in ``dialect``'s spelling (``FLOAT64`` on BigQuery...)."""
        return self.sql_type().sql(dialect=dialect)

    def to_arrow(self) -> pa.DataType:
        return self.arrow()

    def accepts_column(self, column_type: exp.DataType, float_is_double: bool = False) -> bool:
        """True if a source column of ``column_type`` can be read as this dtype without loss.

        ``float_is_double``: the warehouse has only 64-bit floats (BigQuery, Snowflake), so a
        float feature of any width reads its DOUBLE columns.
        """
        if self.element is not None:
            inner = column_type.expressions
            return (
                column_family(column_type) is Family.ARRAY and bool(inner)
                and self.element.accepts_column(inner[0], float_is_double)
            )
        if float_is_double and self.family is Family.FLOAT and column_type.this.name == "DOUBLE":
            return True
        return column_type.this.name in self.reads

    def conversion(self, column_type: exp.DataType, float_is_double: bool = False) -> str | None:
        """What casting a source column of ``column_type`` to this dtype does to its values, when
        this dtype does not read it exactly (``accepts_column`` is False): a ``CONVERSIONS`` entry.
        None: it cannot convert (text into a number...). An array converts element by element,
        within one family only (BigQuery casts an array to no other element type)."""
        if self.element is not None:
            inner = column_type.expressions
            if column_family(column_type) is not Family.ARRAY or not inner:
                return None
            if column_family(inner[0]) is not self.element.family:
                return None
            note = self.element.conversion(inner[0], float_is_double)
            return f"each element {note}" if note else None
        note = CONVERSIONS.get((self.family, column_family(column_type)))
        return note.format(dtype=self.name) if note else None


def _reads(*names: str) -> frozenset[str]:
    unknown = set(names) - COLUMN_TYPES.keys()
    assert not unknown, f"not in COLUMN_TYPES: {unknown}"  # a typo fails at import, not silently
    return frozenset(names)


_SMALL_INTS = ("TINYINT", "SMALLINT", "INT", "UTINYINT", "USMALLINT")
Int32 = FeatureType("Int32", Family.INTEGER, "INT", lambda: _pa().int32(), _reads(*_SMALL_INTS), (int,))
Int64 = FeatureType(
    "Int64", Family.INTEGER, "BIGINT", lambda: _pa().int64(), _reads(*_SMALL_INTS, "BIGINT", "UINT"), (int,)
)
Float32 = FeatureType("Float32", Family.FLOAT, "FLOAT", lambda: _pa().float32(), _reads("FLOAT"))
Float64 = FeatureType("Float64", Family.FLOAT, "DOUBLE", lambda: _pa().float64(), _reads("FLOAT", "DOUBLE", "DECIMAL"))
String = FeatureType(
    "String", Family.STRING, "VARCHAR", lambda: _pa().string(), _reads("TEXT", "VARCHAR", "CHAR", "NVARCHAR", "NCHAR"),
    (str,), casts_key=True,
)
Bool = FeatureType("Bool", Family.BOOL, "BOOLEAN", lambda: _pa().bool_(), _reads("BOOLEAN"))
Bytes = FeatureType("Bytes", Family.BYTES, "BLOB", lambda: _pa().binary(), _reads("VARBINARY", "BINARY", "BLOB"), (bytes,))
UnixTimestamp = FeatureType(
    "UnixTimestamp", Family.TIMESTAMP, "TIMESTAMPTZ", _US_UTC,
    _reads(*(name for name, column in COLUMN_TYPES.items() if column.family is Family.TIMESTAMP)), (datetime,),
)  # fmt: skip

# (declared dtype's family, source column's family) -> what the SQL cast to the declared dtype does
# to the values, for a dtype that does not read the column exactly (Int32 over BIGINT, Float32 over
# DOUBLE, a String join key over integers: what Feast's own example repositories declare). A pair
# absent here cannot convert (text into a number, floats into integers...) and is refused.
CONVERSIONS: dict[tuple[Family, Family], str] = {
    (Family.INTEGER, Family.INTEGER): "narrowed to {dtype}: a value outside its range is an error",
    (Family.FLOAT, Family.FLOAT): "rounded to {dtype}'s precision",
    (Family.FLOAT, Family.INTEGER): "read as floats: integers beyond {dtype}'s precision are rounded",
    (Family.STRING, Family.INTEGER): "read as text (decimal digits): a join key compares as text",
}

PRIMITIVES: tuple[FeatureType, ...] = (Int32, Int64, Float32, Float64, String, Bool, Bytes, UnixTimestamp)
# The Python values a join key accepts when its entity declares no value type.
UNDECLARED_KEY_TYPES: tuple[type, ...] = (int, str, bytes)


def Array(element: FeatureType) -> FeatureType:  # noqa: N802 - Feast's spelling
    """A list of ``element`` values, e.g. ``Array(Int64)``."""
    if element.element is not None:
        raise DefinitionError("sqlfeat arrays cannot nest: Array(Array(...)) is not supported")
    return FeatureType(
        f"Array({element.name})", Family.ARRAY, f"{element.sql}[]", lambda: _pa().list_(element.to_arrow()),
        frozenset(), (), element,
    )  # fmt: skip


_BY_NAME = {t.name: t for t in PRIMITIVES}
_ALIASES = {
    "int": Int64, "int32": Int32, "int64": Int64, "long": Int64, "integer": Int64,
    "float": Float32, "float32": Float32, "float64": Float64, "double": Float64,
    "string": String, "str": String, "bool": Bool, "boolean": Bool, "bytes": Bytes,
    "unix_timestamp": UnixTimestamp, "timestamp": UnixTimestamp, "datetime": UnixTimestamp,
}  # fmt: skip


def dtype_from_name(name: Union[str, FeatureType, "ValueType"]) -> FeatureType:
    """Resolve ``Int64``, ``'int64'``, ``'string'``, ``'Array(Int64)'`` or a ``ValueType``."""
    if isinstance(name, FeatureType):
        return name
    if isinstance(name, ValueType):
        return name.to_dtype()
    if not isinstance(name, str):
        raise DefinitionError(f"dtype must be a sqlfeat.types type or a type name, got {name!r}")
    text = name.strip()
    if text in _BY_NAME:
        return _BY_NAME[text]
    lowered = text.lower()
    if lowered.startswith("array(") and lowered.endswith(")"):
        return Array(dtype_from_name(text[6:-1]))
    if lowered.endswith("_list"):
        return Array(dtype_from_name(lowered[: -len("_list")]))
    if lowered in _ALIASES:
        return _ALIASES[lowered]
    known = ", ".join(sorted(_BY_NAME) + sorted(_ALIASES))
    raise DefinitionError(f"unknown dtype {name!r}; use one of sqlfeat.types ({known}) or Array(...)")


def dtype_of_column(column_type: exp.DataType) -> FeatureType | None:
    """The narrowest feature dtype that reads a warehouse column type without loss, if any."""
    if column_family(column_type) is Family.ARRAY and column_type.expressions:
        element = dtype_of_column(column_type.expressions[0])
        return Array(element) if element is not None else None
    for dtype in PRIMITIVES:
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
            raise DefinitionError("ValueType.UNKNOWN has no dtype")
        return _VALUE_TYPES[self]


_VALUE_TYPES = {
    ValueType.BYTES: Bytes, ValueType.STRING: String, ValueType.INT32: Int32, ValueType.INT64: Int64,
    ValueType.DOUBLE: Float64, ValueType.FLOAT: Float32, ValueType.BOOL: Bool, ValueType.UNIX_TIMESTAMP: UnixTimestamp,
}  # fmt: skip


def exact_pandas(column: pa.ChunkedArray):
    """An Arrow column as a pandas Series without loss: integers and booleans as pandas' nullable
    dtypes (``Int64``, ``boolean``), so a null never turns them into floats."""
    import pandas as pd
    import pyarrow as pa

    nullable = {
        pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(), pa.uint8(): pd.UInt8Dtype(), pa.uint16(): pd.UInt16Dtype(),
        pa.uint32(): pd.UInt32Dtype(), pa.uint64(): pd.UInt64Dtype(), pa.bool_(): pd.BooleanDtype(),
    }  # fmt: skip
    return column.to_pandas(types_mapper=nullable.get)
