"""Cheap facts the strategy choice needs (compiler/strategy.py), read once and cached.

- a spine's size and time range: known in Python for a DataFrame; one small query
  (``COUNT(*), MIN(t), MAX(t)``) for a table or a query;
- a source's rows, distinct keys (approximate) and event-time span: one aggregate query, cached
  per source *version*: a file source's version is its files' sizes and modification times, so a
  changed file is read again; a warehouse table has no cheap version, so its facts are kept for
  the life of the connection (they only steer cost, never correctness);
- whether a source holds two rows with the same keys and event time (the ASOF strategy's
  created-time dedupe can be skipped when it does not): read for file sources only, because a
  stale "no ties" would change a result, and a file's version says when to read it again.

A warehouse whose scans are billed (``Dialect.STATS_SCANS = False``: BigQuery, Snowflake) is not
scanned for facts: the choice then takes the strategy that is never quadratic.
"""

from __future__ import annotations

import glob
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from sqlfeat.compiler.sql import aliased, col
from sqlfeat.compiler.strategy import SourceStats
from sqlfeat.errors import SqlfeatError

if TYPE_CHECKING:
    from sqlfeat.compiler.plan import ViewRequest
    from sqlfeat.warehouses.base import OfflineStore

_CACHE: dict[tuple, SourceStats] = {}
_MAX_ENTRIES = 1_024


def _file_version(source: Any, repo_path: Path) -> tuple | None:
    path = getattr(source, "path", None)
    if not path or "://" in path:
        return None
    pattern = path if os.path.isabs(path) else str(repo_path / path)
    stats = []
    for name in sorted(glob.glob(pattern)):
        status = os.stat(name)
        stats.append((name, status.st_size, status.st_mtime_ns))
    return tuple(stats) or None


def source_stats(store: OfflineStore, request: ViewRequest, repo_path: Path) -> SourceStats | None:
    """The view's source facts (``None`` when this warehouse is not scanned for them)."""
    dialect = store.dialect
    if not dialect.STATS_SCANS:
        return None
    source = request.view.source
    relation = dialect.source_relation(source, repo_path)
    version = _file_version(source, repo_path)
    key = (dialect.NAME, relation.sql(dialect=dialect.SQLGLOT_DIALECT), tuple(request.join_keys),
           source.event_time_column, version if version is not None else id(store))  # fmt: skip
    if key in _CACHE:
        return _CACHE[key]
    src = "src"
    first_key = col(request.source_key(request.join_keys[0]), src) if request.join_keys else exp.Literal.number(1)
    event = dialect.to_instant(col(source.event_time_column, src))
    query = exp.select(*_named(
        exp.Count(this=exp.Star()), dialect.approx_distinct(first_key), exp.Min(this=event), exp.Max(this=event.copy())
    )).from_(aliased(relation, src))
    try:
        values = _first_row(store, query)
        ties = True
        if version is not None and source.created_time_column and dialect.SUPPORTS_ASOF_JOIN:
            ties = _has_ties(store, request, relation)
    except SqlfeatError:
        return None  # facts are advice: the retrieval itself reports a broken source
    rows, keys, oldest, newest = int(values[0] or 0), int(values[1] or 0), _utc(values[2]), _utc(values[3])
    span = (newest - oldest) if oldest is not None and newest is not None else None
    stats = SourceStats(rows, max(keys, 1), span, ties, _indexed(store, request))
    if len(_CACHE) > _MAX_ENTRIES:
        _CACHE.clear()
    _CACHE[key] = stats
    return stats


def _indexed(store: OfflineStore, request: ViewRequest) -> bool:
    """Whether the source table has an index leading with (keys, event time)."""
    source = request.view.source
    if not getattr(source, "table", None):
        return False
    leading = [request.source_key(k) for k in request.join_keys] + [source.event_time_column]
    try:
        advice = store.index_advice(source.table, leading, [])
    except SqlfeatError:
        return False
    return bool(advice and advice[0])


def _named(*expressions: exp.Expression) -> list[exp.Expression]:
    """Each expression under its own name (``c0``, ``c1``...): engines name aggregates alike."""
    return [exp.alias_(e, f"c{i}", quoted=True) for i, e in enumerate(expressions)]


def _first_row(store: OfflineStore, query: exp.Select) -> list[Any]:
    table = store.fetch_arrow(store.dialect.render(query, pretty=False))
    return [table.column(i)[0].as_py() for i in range(table.num_columns)]


def _has_ties(store: OfflineStore, request: ViewRequest, relation: exp.Expression) -> bool:
    dialect, source, src = store.dialect, request.view.source, "src"
    group = [col(request.source_key(k), src) for k in request.join_keys] + [col(source.event_time_column, src)]
    twice = (
        exp.select(exp.Literal.number(1)).from_(aliased(relation, src)).group_by(*group)
        .having(exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(1))).limit(1)
    )  # fmt: skip
    return store.fetch_arrow(dialect.render(twice, pretty=False)).num_rows > 0


def frame_bounds(series: Any) -> tuple[datetime, datetime] | None:
    """The earliest and latest instant of a DataFrame's time column (UTC), or None if empty."""
    import pandas as pd

    times = pd.to_datetime(series, utc=True)
    if times.isna().all():
        return None
    # Microseconds hold a bound (datetime's precision): round outward, so a nanosecond time at
    # either end is still inside the range the sources are pruned to.
    low, high = times.min().floor("us"), times.max().ceil("us")
    return low.to_pydatetime(), high.to_pydatetime()


def relation_facts(store: OfflineStore, relation: exp.Expression, timestamp: str) -> tuple[int, tuple[datetime, datetime] | None]:
    """A spine table's or query's row count and time range, in one small query."""
    dialect, alias = store.dialect, "spine"
    instant = dialect.to_instant(col(timestamp, alias))
    query = exp.select(*_named(exp.Count(this=exp.Star()), exp.Min(this=instant), exp.Max(this=instant.copy()))).from_(
        aliased(relation, alias)
    )
    rows, low, high = _first_row(store, query)
    low, high = _utc(low), _utc(high)
    return int(rows or 0), ((low, high) if low is not None and high is not None else None)


def _utc(value: Any) -> datetime | None:
    """A fetched instant as an aware datetime (pandas' nanosecond Timestamps included), or None."""
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime(warn=False)
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
