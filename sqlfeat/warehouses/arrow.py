"""Arrow <-> SQL type mapping and row-tuple conversion for warehouses whose drivers return rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from sqlglot import exp

if TYPE_CHECKING:
    import pyarrow as pa


def arrow_to_sql_type(arrow_type: pa.DataType) -> exp.DataType:
    """The SQL type an uploaded Arrow column becomes (canonical sqlglot spelling)."""
    import pyarrow as pa

    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        inner = arrow_to_sql_type(arrow_type.value_type)
        return exp.DataType(this=exp.DataType.Type.ARRAY, expressions=[inner], nested=True)
    checks = [
        (pa.types.is_boolean, "BOOLEAN"), (pa.types.is_int8, "SMALLINT"), (pa.types.is_int16, "SMALLINT"),
        (pa.types.is_int32, "INT"), (pa.types.is_integer, "BIGINT"), (pa.types.is_float32, "FLOAT"),
        (pa.types.is_floating, "DOUBLE"), (pa.types.is_decimal, "DOUBLE"), (pa.types.is_string, "VARCHAR"),
        (pa.types.is_large_string, "VARCHAR"), (pa.types.is_binary, "VARBINARY"),
        (pa.types.is_large_binary, "VARBINARY"), (pa.types.is_date, "DATE"),
    ]  # fmt: skip
    if pa.types.is_timestamp(arrow_type):
        return exp.DataType.build("TIMESTAMPTZ" if arrow_type.tz else "TIMESTAMP")
    for check, name in checks:
        if check(arrow_type):
            return exp.DataType.build(name)
    return exp.DataType.build("UNKNOWN")


def sql_to_arrow_type(data_type: exp.DataType) -> pa.DataType:
    """The Arrow type a result column of ``data_type`` is fetched as."""
    import pyarrow as pa

    name = data_type.this.name
    if name == "ARRAY" and data_type.expressions:
        return pa.list_(sql_to_arrow_type(data_type.expressions[0]))
    if name in ("TIMESTAMPTZ", "TIMESTAMPLTZ"):
        return pa.timestamp("us", tz="UTC")
    simple = {
        "BOOLEAN": pa.bool_(), "TINYINT": pa.int8(), "SMALLINT": pa.int16(), "INT": pa.int32(),
        "BIGINT": pa.int64(), "FLOAT": pa.float32(), "DOUBLE": pa.float64(), "DECIMAL": pa.float64(),
        "TEXT": pa.string(), "VARCHAR": pa.string(), "CHAR": pa.string(), "VARBINARY": pa.binary(),
        "BINARY": pa.binary(), "DATE": pa.date32(), "TIMESTAMP": pa.timestamp("us"),
        "TIMESTAMPNTZ": pa.timestamp("us"),
    }  # fmt: skip
    return simple.get(name, pa.string())


def rows_to_arrow(names: Sequence[str], types: Sequence[pa.DataType], rows: Iterable[Sequence]) -> pa.Table:
    """Column-wise Arrow table from row tuples (one pass, no pandas)."""
    import pyarrow as pa

    columns = list(zip(*rows)) if rows else []
    if not columns:
        columns = [[] for _ in names]
    arrays = [pa.array(list(values), type=arrow_type) for values, arrow_type in zip(columns, types)]
    return pa.Table.from_arrays(arrays, names=list(names))
