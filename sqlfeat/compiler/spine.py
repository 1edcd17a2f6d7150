"""The spine of a retrieval without an entity_df (``start_date`` / ``end_date``), built in SQL.

As Feast's SQL offline stores define it: every distinct (join keys, event time) of the requested
views' source rows with ``start <= event time <= end`` (both bounds inclusive), one UNION
DISTINCT over the views. The spine has every join key of the request; a view's rows hold NULL in
the keys it does not have (as BigQuery's offline store does), so their other views' features are
null (a null key never matches). Rows with a null key or a null event time are no spine rows. The
time column is ``event_timestamp``; the result is ordered by it, then by the keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from sqlglot import exp

from sqlfeat.compiler.plan import RetrievalPlan
from sqlfeat.compiler.sql import aliased, and_, col
from sqlfeat.warehouses.base import Dialect

TIMESTAMP = "event_timestamp"


def range_spine(
    plan: RetrievalPlan, dialect: Dialect, repo_path: Path, start: datetime, end: datetime,
    key_types: Mapping[str, exp.DataType] | None = None,
) -> exp.Query:  # fmt: skip
    """The spine query. ``key_types``: each key column's type (from the sources) so the NULLs a
    view puts in keys it lacks have the type every engine's UNION needs; without it the declared
    key dtype, else an untyped NULL."""
    keys = plan.join_keys
    types = dict(key_types or {})
    for request in plan.views:
        for key, dtype in zip(request.join_keys, request.key_dtypes):
            if key not in types and dtype is not None:
                types[key] = dtype.sql_type()
    selects = []
    for request in plan.views:
        src = "src"
        source = request.view.source
        event = dialect.to_instant(col(source.timestamp_field, src))
        columns = []
        for key in keys:
            if key in request.join_keys:
                columns.append(exp.alias_(col(request.source_key(key), src), key, quoted=True))
            else:
                null = exp.cast(exp.Null(), types[key]) if key in types else exp.Null()
                columns.append(exp.alias_(null, key, quoted=True))
        conditions = [exp.Not(this=exp.Is(this=col(request.source_key(k), src), expression=exp.Null())) for k in request.join_keys]
        conditions += [
            exp.GTE(this=event.copy(), expression=dialect.instant_literal(start)),
            exp.LTE(this=event.copy(), expression=dialect.instant_literal(end)),
        ]
        select = (
            exp.select(*columns, exp.alias_(event, TIMESTAMP, quoted=True))
            .from_(aliased(dialect.source_relation(source, repo_path), src))
            .where(and_(*conditions))
        )
        selects.append(select)
    spine: exp.Query = selects[0].distinct() if len(selects) == 1 else selects[0]
    for select in selects[1:]:
        spine = exp.union(spine, select, distinct=True)
    return spine
