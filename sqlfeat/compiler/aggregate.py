"""Windowed aggregates at each spine (keys, t): ``t - window < event_ts <= t`` (rule 5).

One range join per view over its widest window; each aggregate filters its own window with a CASE,
so several windows share one pass over the events. ``last`` needs the newest row, not a group
aggregate: it gets a ROW_NUMBER CTE of its own. Counts of an empty window are 0 (COALESCE at
the final join); every other aggregate of an empty window is null.
"""

from __future__ import annotations

from datetime import timedelta

from sqlglot import exp

from sqlfeat.compiler.plan import CREATED_TS, EVENT_TS, SPINE_TS, ViewRequest
from sqlfeat.compiler.sql import aliased, and_, col, first_row, ident, keys_equal, newest_first, value_column
from sqlfeat.definitions.aggregation import COUNTING, Aggregation
from sqlfeat.warehouses.base import Dialect

_FUNCTIONS = {
    "count": lambda v: exp.Count(this=v),
    "count_distinct": lambda v: exp.Count(this=exp.Distinct(expressions=[v])),
    "sum": lambda v: exp.Sum(this=v),
    "mean": lambda v: exp.Avg(this=v),
    "min": lambda v: exp.Min(this=v),
    "max": lambda v: exp.Max(this=v),
    "stddev": lambda v: exp.StddevSamp(this=v),
}

Result = tuple[str, exp.Select, dict[str, exp.Expression]]


def _in_window(keys_cte: str, alias: str, window: timedelta, dialect: Dialect) -> list[exp.Expression]:
    event, t = col(EVENT_TS, alias), col(SPINE_TS, keys_cte)
    return [exp.LTE(this=event, expression=t.copy()), exp.GT(this=event.copy(), expression=dialect.subtract(t, window))]


def aggregate_ctes(keys: tuple[str, ...], keys_cte: str, request: ViewRequest, dialect: Dialect) -> list[Result]:
    """The CTEs computing ``request``'s aggregates per (keys, t) of ``keys_cte``."""
    alias = "s"
    source = exp.to_table(ident(f"{request.name}__source"))
    pairs = list(zip(request.aggregations, request.output_names))
    grouped = [(a, name) for a, name in pairs if a.function != "last"]
    results: list[Result] = []
    if grouped:
        widest = max(a.time_window for a, _ in grouped)
        cte = f"{request.name}__aggregates"
        select = (
            exp.select(*[col(k, keys_cte) for k in keys], col(SPINE_TS, keys_cte))
            .from_(ident(keys_cte))
            .join(aliased(source, alias), on=and_(*keys_equal(keys, keys_cte, alias), *_in_window(keys_cte, alias, widest, dialect)))
            .group_by(*[col(k, keys_cte) for k in keys], col(SPINE_TS, keys_cte))
        )
        outputs: dict[str, exp.Expression] = {}
        for aggregation, name in grouped:
            value: exp.Expression = col(value_column(aggregation.column), alias)
            if aggregation.time_window != widest:
                value = exp.Case(ifs=[exp.If(this=_in_window(keys_cte, alias, aggregation.time_window, dialect)[1], true=value)])
            computed = exp.cast(_FUNCTIONS[aggregation.function](value), aggregation.dtype.sql_type())
            select = select.select(exp.alias_(computed, name, quoted=True))
            outputs[name] = _empty_window_value(aggregation, col(name, cte))
        results.append((cte, select, outputs))
    for index, (aggregation, name) in enumerate((a, n) for a, n in pairs if a.function == "last"):
        cte = f"{request.name}__last_{index}"
        results.append((cte, _newest_in_window(keys, keys_cte, request, aggregation, name, dialect), {name: col(name, cte)}))
    return results


def _empty_window_value(aggregation: Aggregation, value: exp.Expression) -> exp.Expression:
    if aggregation.function in COUNTING:
        return exp.Coalesce(this=value, expressions=[exp.Literal.number(0)])
    return value


def _newest_in_window(
    keys: tuple[str, ...], keys_cte: str, request: ViewRequest, aggregation: Aggregation, name: str, dialect: Dialect
) -> exp.Select:
    alias = "s"
    created = col(CREATED_TS, alias) if request.view.source.created_timestamp_column else None
    newest = first_row(
        [col(k, keys_cte) for k in keys] + [col(SPINE_TS, keys_cte)], newest_first(col(EVENT_TS, alias), created)
    )
    value = exp.cast(col(value_column(aggregation.column), alias), aggregation.dtype.sql_type())
    on = and_(*keys_equal(keys, keys_cte, alias), *_in_window(keys_cte, alias, aggregation.time_window, dialect))
    return (
        exp.select(*[col(k, keys_cte) for k in keys], col(SPINE_TS, keys_cte), exp.alias_(value, name, quoted=True))
        .from_(ident(keys_cte))
        .join(aliased(exp.to_table(ident(f"{request.name}__source")), alias), on=on)
        .qualify(newest)
    )
