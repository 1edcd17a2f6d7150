"""Latest value per entity as of T: the SQL materialization runs to fill an online store.

For every entity with a row in ``[start, end]`` it returns that entity's newest row (greatest
event time, then greatest created time): exactly the row rule 1 picks for a spine row at
``t = end``. TTL is not applied here: online reads enforce it at read time.

An aggregated view's values as of T are its aggregates at ``t = T`` (rule 5), computed by the
point-in-time compiler itself over a spine of the entities that have events up to T (those whose
window may have changed since ``start``), with ``__sqlfeat_event_ts = T``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlglot import exp

from sqlfeat.compiler.plan import CREATED_TS, EVENT_TS, ViewRequest
from sqlfeat.compiler.sql import aliased, and_, col, first_row, ident, newest_first, source_key, source_projection
from sqlfeat.warehouses.base import Dialect


def latest_columns(request: ViewRequest) -> list[str]:
    """Column order of the latest-values result: keys, event time, [created time], features."""
    created = [CREATED_TS] if request.view.source.created_timestamp_column else []
    return [*request.join_keys, EVENT_TS, *created, *request.output_names]


def compile_latest_values(
    request: ViewRequest, dialect: Dialect, repo_path: Path, end: datetime, start: datetime | None = None
) -> exp.Select:
    if request.aggregations:
        return _aggregates_as_of(request, dialect, repo_path, end, start)
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


def _aggregates_as_of(
    request: ViewRequest, dialect: Dialect, repo_path: Path, end: datetime, start: datetime | None
) -> exp.Select:
    from sqlfeat.compiler.pit import compile_point_in_time
    from sqlfeat.compiler.plan import RetrievalPlan, Spine

    source = request.view.source
    src = "src"
    event_ts = dialect.to_instant(col(source.event_time_column, src))
    conditions = [exp.LTE(this=event_ts.copy(), expression=dialect.instant_literal(end))]
    if start is not None:
        # An entity whose last event left its window before start was already empty then.
        lower = dialect.subtract(dialect.instant_literal(start), request.view.max_window)
        conditions.append(exp.GT(this=event_ts.copy(), expression=lower))
    conditions += [exp.Not(this=exp.Is(this=col(request.source_key(k), src), expression=exp.Null())) for k in request.join_keys]
    entities = (
        exp.select(
            *[exp.alias_(source_key(request, k, src), k, quoted=True) for k in request.join_keys],
            exp.alias_(dialect.instant_literal(end), EVENT_TS, quoted=True),
        )
        .distinct()
        .from_(aliased(dialect.source_relation(source, repo_path), src))
        .where(and_(*conditions))
    )
    plan = RetrievalPlan((request,), full_feature_names=False)
    return compile_point_in_time(plan, Spine(entities, EVENT_TS), dialect, repo_path, strategy="window")
