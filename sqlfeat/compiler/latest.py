"""Latest value per entity as of T: the SQL materialization runs to fill an online store.

For every entity with a row in ``[start, end]`` it returns that entity's newest row (greatest
event time, then greatest created time): exactly the row rule 1 picks for a spine row at
``t = end``. TTL is not applied here: online reads enforce it at read time.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlglot import exp

from sqlfeat.compiler.plan import CREATED_TS, EVENT_TS, ViewRequest
from sqlfeat.compiler.sql import and_, col, first_row, ident, newest_first, source_projection
from sqlfeat.warehouses.base import Dialect


def latest_columns(request: ViewRequest) -> list[str]:
    """Column order of the latest-values result: keys, event time, [created time], features."""
    created = [CREATED_TS] if request.view.source.created_timestamp_column else []
    return [*request.join_keys, EVENT_TS, *created, *request.output_names]


def compile_latest_values(
    request: ViewRequest, dialect: Dialect, repo_path: Path, end: datetime, start: datetime | None = None
) -> exp.Select:
    projection, event_ts, conditions = source_projection(request, dialect, repo_path)
    conditions.append(exp.LTE(this=event_ts.copy(), expression=dialect.instant_literal(end)))
    if start is not None:
        conditions.append(exp.GTE(this=event_ts.copy(), expression=dialect.instant_literal(start)))
    source_cte = f"{request.name}__source"
    created = col(CREATED_TS) if request.view.source.created_timestamp_column else None
    newest = first_row([col(k) for k in request.join_keys], newest_first(col(EVENT_TS), created))
    return (
        exp.select(*[col(name) for name in latest_columns(request)])
        .with_(ident(source_cte), as_=projection.where(and_(*conditions)))
        .from_(ident(source_cte))
        .qualify(newest)
    )
