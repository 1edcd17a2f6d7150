"""Small sqlglot builders shared by the compiled queries: quoted names, joins, newest-row picks."""

from __future__ import annotations

from pathlib import Path

from sqlglot import exp

from sqlfeat.compiler.plan import CREATED_TS, EVENT_TS, ViewRequest
from sqlfeat.warehouses.base import Dialect, aliased  # noqa: F401 - aliased: the compiler's import of it


def ident(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(ident(name), ident(table) if table else None)


def and_(*conditions: exp.Expression) -> exp.Expression:
    return exp.and_(*conditions) if len(conditions) > 1 else conditions[0]


def keys_equal(keys: tuple[str, ...], left: str, right: str) -> list[exp.Expression]:
    return [exp.EQ(this=col(k, left), expression=col(k, right)) for k in keys]


def newest_first(event: exp.Expression, created: exp.Expression | None) -> list[exp.Ordered]:
    order = [exp.Ordered(this=event, desc=True, nulls_first=False)]
    if created is not None:
        order.append(exp.Ordered(this=created, desc=True, nulls_first=False))
    return order


def first_row(partition: list[exp.Expression], order: list[exp.Ordered]) -> exp.EQ:
    window = exp.Window(this=exp.RowNumber(), partition_by=partition, order=exp.Order(expressions=order))
    return exp.EQ(this=window, expression=exp.Literal.number(1))


def value_column(column: str) -> str:
    """The name an aggregated view's raw column gets inside the query."""
    return f"__sqlfeat_value_{column}"


def source_key(request: ViewRequest, key: str, src: str) -> exp.Expression:
    """Join key ``key`` read from the source: cast to its declared dtype when that dtype casts keys
    (``String``: a source of integers then compares as text with the spine's and online keys)."""
    value = col(request.source_key(key), src)  # a projection's key map, then field_mapping
    dtype = dict(zip(request.join_keys, request.key_dtypes)).get(key)
    return exp.cast(value, dtype.sql_type()) if dtype is not None and dtype.casts_key else value


def source_projection(
    request: ViewRequest, dialect: Dialect, repo_path: Path
) -> tuple[exp.Select, exp.Expression, list[exp.Expression]]:
    """A view's source as (keys, event instant, created instant, features cast to their dtypes).

    Returns the SELECT (no WHERE yet), the event-instant expression for time filters, and the
    conditions that drop rows without keys; callers add their filters and set one WHERE.
    """
    source = request.view.source
    src = "src"
    event_ts = dialect.to_instant(col(source.event_time_column, src))
    columns: list[exp.Expression] = [exp.alias_(source_key(request, k, src), k, quoted=True) for k in request.join_keys]
    columns.append(exp.alias_(event_ts.copy(), EVENT_TS, quoted=True))
    if source.created_time_column:
        created = dialect.to_instant(col(source.created_time_column, src))
        columns.append(exp.alias_(created, CREATED_TS, quoted=True))
    if request.aggregations:
        # Aggregated views carry the raw columns; the aggregate casts its own result.
        for column in dict.fromkeys(a.column for a in request.aggregations):
            columns.append(exp.alias_(col(source.source_column(column), src), value_column(column), quoted=True))
    else:
        for field, output in zip(request.features, request.output_names):
            value = exp.cast(col(source.source_column(field.name), src), dialect.cast_type(field.dtype))
            columns.append(exp.alias_(value, output, quoted=True))
    keys_present = [
        exp.Not(this=exp.Is(this=col(request.source_key(k), src), expression=exp.Null())) for k in request.join_keys
    ]
    relation = dialect.source_relation(source, repo_path)
    return exp.select(*columns).from_(aliased(relation, src)), event_ts, keys_present
