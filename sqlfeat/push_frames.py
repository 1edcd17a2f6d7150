"""Rows given to ``push``, ``write_to_online_store`` and ``write_to_offline_store``, checked and
normalized for one feature view before anything is written.

A pushed DataFrame (pandas or Arrow) names its columns as the view does (join keys, features, its
source's ``timestamp_field`` and ``created_timestamp_column``) or as the source does (the columns
``field_mapping`` maps from). Every join key, the event timestamp and every feature must be there
(nulls allowed in features, never in keys or event times; an aggregated view's rows are raw
events: the columns it aggregates instead of its features); each is cast to its declared type, and
a value that does not convert is refused, naming the column, the type and the value. Naive
timestamps are UTC (as everywhere in sqlfeat); a column mixing naive and aware ones is refused.
Other columns are ignored online; the offline append refuses columns its source lacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sqlfeat.compiler import plan_view
from sqlfeat.compiler.plan import CREATED_TS, EVENT_TS, ViewRequest
from sqlfeat.errors import PushedDataError
from sqlfeat.types import Family

if TYPE_CHECKING:
    import pyarrow as pa

    from sqlfeat.definitions import Entity, FeatureView


@dataclass(frozen=True)
class PushedRows:
    """A view's pushed rows: ``table`` has the join keys and features (view names, declared
    types; for an aggregated view, the raw columns it aggregates), ``EVENT_TS`` and, when given, ``CREATED_TS`` (UTC instants); ``given`` maps each of
    those columns to the DataFrame column it came from; ``raw`` is the DataFrame as Arrow."""

    request: ViewRequest
    table: pa.Table
    given: dict[str, str]
    raw: pa.Table


def as_arrow(df: Any, what: str) -> pa.Table:
    """A pandas DataFrame or Arrow table/batch as an Arrow table (timestamps checked first)."""
    import pyarrow as pa

    if isinstance(df, pa.RecordBatch):
        return pa.Table.from_batches([df])
    if isinstance(df, pa.Table):
        return df
    if not (hasattr(df, "columns") and hasattr(df, "dtypes")):
        raise PushedDataError(f"{what} takes a pandas DataFrame or a pyarrow Table, got {type(df).__name__}")
    for column in df.columns:
        _check_zones(df[column], str(column), what)
    try:
        return pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as err:
        raise PushedDataError(f"{what}: the DataFrame cannot be converted to Arrow: {err}; give each column one type") from None


def _check_zones(series: Any, column: str, what: str) -> None:
    """A pandas object column of datetimes must not mix naive and aware values."""
    if series.dtype != object:
        return
    stamps = [v for v in series.dropna().head(10_000) if isinstance(v, datetime)]
    if stamps and len({v.utcoffset() is None for v in stamps}) > 1:
        raise PushedDataError(
            f"{what}: column {column!r} mixes naive and time-zone-aware timestamps, and the zone of the naive ones "
            f"cannot be known; localize them first (if they are UTC: df[{column!r}] = pd.to_datetime(df[{column!r}], utc=True))"
        )


def _instants(array: pa.ChunkedArray, column: str, role: str, view: str, what: str) -> pa.ChunkedArray:
    import pyarrow as pa

    if pa.types.is_timestamp(array.type):
        # naive: UTC wall time, as everywhere in sqlfeat
        return array.cast(pa.timestamp("us", tz=array.type.tz or "UTC"), safe=False).cast(pa.timestamp("us", tz="UTC"))
    if pa.types.is_date(array.type):
        return array.cast(pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC"))
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return _parse_instants(array, column, role, view, what)
    raise PushedDataError(
        f"{what}: column {column!r} ({role} of feature view {view!r}) is {array.type}, not a timestamp; "
        f"convert it with pd.to_datetime(df[{column!r}], utc=True)"
    )


def _parse_instants(array: pa.ChunkedArray, column: str, role: str, view: str, what: str) -> pa.ChunkedArray:
    """ISO 8601 text (what JSON carries): each value converted from its own offset, one without an
    offset read as UTC, as naive timestamps are everywhere in sqlfeat.

    Arrow parses a column whose values all carry an offset, or all carry none, in one vectorised
    cast (a subset of what ``datetime.fromisoformat`` reads, to the same instants); a column that
    mixes the two, or holds forms Arrow does not read, is parsed value by value."""
    import pyarrow as pa

    utc = pa.timestamp("us", tz="UTC")
    for target in (utc, pa.timestamp("us")):
        try:
            return array.cast(target).cast(utc)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass

    def instant(text: str | None) -> datetime | None:
        if text is None:
            return None
        value = datetime.fromisoformat(text)
        return value.replace(tzinfo=timezone.utc) if value.utcoffset() is None else value

    try:
        parsed = [instant(text) for text in array.to_pylist()]
    except ValueError as err:
        raise PushedDataError(
            f"{what}: column {column!r} ({role} of feature view {view!r}) holds text that is not an ISO 8601 "
            f"timestamp ({err}); send times like '2024-01-05T08:00:00+08:00' or '2024-01-05 00:00:00' (UTC)"
        ) from None
    return pa.chunked_array([pa.array(parsed, utc)])


def _cast(array: pa.ChunkedArray, target: pa.DataType, column: str, role: str, view: str, dtype: str, what: str):
    import pyarrow as pa
    import pyarrow.compute as pc

    if array.type == target:
        return array
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), target)
    try:
        return pc.cast(array, target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as err:
        sample = next((v for v in array.to_pylist() if v is not None), None)
        raise PushedDataError(
            f"{what}: column {column!r} ({role} of feature view {view!r}) is declared {dtype} but holds {array.type} "
            f"values (e.g. {sample!r}) that do not convert: {err}; convert the column to {dtype}"
        ) from None


def pushed_rows(view: FeatureView, views: Mapping[str, FeatureView], entities: Mapping[str, Entity], df: Any, what: str) -> PushedRows:
    """Check ``df`` against ``view`` and normalize it (see the module docstring)."""
    import pyarrow as pa

    raw = as_arrow(df, what)
    request = plan_view(view.name, views, entities)
    source = view.source
    names = raw.column_names

    def find(name: str) -> str | None:
        for candidate in (name, source.source_column(name)):
            if candidate in names:
                return candidate
        return None

    # An aggregated view's rows are raw events: the columns it aggregates (typed when its schema
    # declares them), not its aggregates.
    declared = {f.name: f.dtype for f in view.schema}
    if view.aggregations:
        values = [(column, declared.get(column), "aggregated column") for column in dict.fromkeys(a.column for a in view.aggregations)]
    else:
        values = [(f.name, f.dtype, "feature") for f in request.features]
    wanted = [(key, "join key") for key in request.join_keys] + [(source.timestamp_field, "event timestamp")]
    wanted += [(name, role) for name, _, role in values]
    missing = [f"{name!r} ({role})" for name, role in wanted if find(name) is None]
    if missing:
        raise PushedDataError(
            f"{what}: the DataFrame has no column {', '.join(missing)}, which feature view {view.name!r} needs; "
            f"it has {names}. Add the column (named as in the view or as in its source)"
        )
    given: dict[str, str] = {}
    columns: dict[str, pa.ChunkedArray] = {}
    for key, dtype in zip(request.join_keys, request.key_dtypes):
        column = given[key] = find(key)  # type: ignore[assignment]
        array = raw.column(column)
        if array.null_count:
            raise PushedDataError(f"{what}: join key column {column!r} has {array.null_count} null values; give every row a key")
        if dtype is not None:
            array = _cast(array, dtype.to_arrow(), column, "join key", view.name, dtype.name, what)
        elif not (pa.types.is_integer(array.type) or pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
            raise PushedDataError(f"{what}: join key column {column!r} is {array.type}; keys must be integers or strings")
        columns[key] = array
    event = given[EVENT_TS] = find(source.timestamp_field)  # type: ignore[assignment]
    columns[EVENT_TS] = _instants(raw.column(event), event, "event timestamp", view.name, what)
    if columns[EVENT_TS].null_count:
        raise PushedDataError(f"{what}: event timestamp column {event!r} has null values; give every row its event time")
    created = find(source.created_timestamp_column) if source.created_timestamp_column else None
    if created is not None:
        given[CREATED_TS] = created
        columns[CREATED_TS] = _instants(raw.column(created), created, "created timestamp", view.name, what)
    for name, dtype, role in values:
        column = given[name] = find(name)  # type: ignore[assignment]
        array = raw.column(column)
        if dtype is None:
            columns[name] = array
            continue
        if dtype.family is Family.TIMESTAMP and pa.types.is_timestamp(array.type):
            array = _instants(array, column, role, view.name, what)
        columns[name] = _cast(array, dtype.to_arrow(), column, role, view.name, dtype.name, what)
    table = pa.table(columns)
    return PushedRows(request, table, given, raw)
