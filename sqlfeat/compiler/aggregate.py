"""Windowed aggregates at each spine (keys, t): ``t - window < event_ts <= t`` (rule 5).

Each function takes the form that keeps its cost growing with rows, not rows per key squared,
where the engines allow it exactly:

    count, sum, mean,   carry: sliding windows over the UNION ALL of the view's events and the
    min, max            spine keys, ``AGG(v) OVER (PARTITION BY keys ORDER BY <integer time>
                        RANGE BETWEEN <window - 1 unit> PRECEDING AND CURRENT ROW)``: one sort for
                        every window of the view; the integer time is the instant in the engine's
                        unit (ns on DuckDB, us elsewhere), so "- 1 unit" makes the lower bound
                        exclusive. window: one range join over the widest window, each aggregate
                        filtering its own window with a CASE.
    count, sum, mean    asof (engines with ASOF JOIN): running totals per key over the events,
                        probed by ASOF joins at t and at t - w (``prefix.py``): one sort of the
                        events and one probe per spine key and window, whatever the density;
                        min and max slide as under carry.
    last                the newest row at or before t (``newest.py``, by the view's strategy),
                        null when it is not inside the window.
    count_distinct,     always the range join: no engine slides a distinct count, and a sliding
    stddev              sample deviation from running sums loses precision on large values.

With ``filter_by_created_timestamp`` (a view with a created timestamp) only rows created at or
before t are in the window: every aggregate takes the range join (a sliding frame cannot see
created times) with ``created <= t`` in its condition, and ``last`` the newest visible row.

Counts of an empty window are 0 (COALESCE at the final join); every other aggregate of an empty
window is null.
"""

from __future__ import annotations

from datetime import timedelta

from sqlglot import exp

from sqlfeat.compiler.newest import ROW, Wanted, newest_rows, visible_at
from sqlfeat.compiler.prefix import PREFIX, prefix_ctes
from sqlfeat.compiler.plan import EVENT_TS, KIND, SPINE_TS, TIME_INT, ViewRequest
from sqlfeat.compiler.sql import aliased, and_, col, ident, keys_equal, value_column
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
SLIDING = frozenset({"count", "sum", "mean", "min", "max"})
RANGE_JOIN_ONLY = frozenset({"count_distinct", "stddev"})

CTEs = list[tuple[str, exp.Select]]
# (CTEs to add, (the CTE holding the results, {output name: its value expression}))
Result = tuple[CTEs, tuple[str, dict[str, exp.Expression]]]


def aggregate_ctes(
    keys: tuple[str, ...], keys_cte: str, request: ViewRequest, source_cte: str, strategy: str, dialect: Dialect
) -> list[Result]:
    """The CTEs computing ``request``'s aggregates per (keys, t) of ``keys_cte``."""
    pairs = list(zip(request.aggregations, request.output_names))
    sliding = strategy in ("carry", "asof") and not request.filter_by_created
    results: list[Result] = []
    prefixed = [(a, n) for a, n in pairs if sliding and strategy == "asof" and a.function in PREFIX]
    slid = [(a, n) for a, n in pairs if sliding and a.function in SLIDING and (a, n) not in prefixed]
    joined = [(a, n) for a, n in pairs if a.function != "last" and (a, n) not in slid and (a, n) not in prefixed]
    if prefixed:
        results.append(prefix_ctes(keys, keys_cte, request, source_cte, prefixed, dialect, _range_join))
    if slid:
        results.append(_sliding(keys, keys_cte, request, source_cte, slid, dialect))
    if joined:
        results.append(_range_join(keys, keys_cte, request, source_cte, joined, dialect))
    last = {n: Wanted(_typed(a, ROW), a.time_window, strict=True) for a, n in pairs if a.function == "last"}
    if last:
        name = f"{request.name}__last"
        ctes = newest_rows("carry" if sliding else "window", keys, keys_cte, request, source_cte, last, dialect, name)
        results.append((ctes, (name, {n: col(n, name) for n in last})))
    return results


def _typed(aggregation: Aggregation, table: str) -> exp.Expression:
    return exp.cast(col(value_column(aggregation.column), table), aggregation.dtype.sql_type())


def _empty_window_value(aggregation: Aggregation, value: exp.Expression) -> exp.Expression:
    if aggregation.function in COUNTING:
        return exp.Coalesce(this=value, expressions=[exp.Literal.number(0)])
    return value


def _in_window(keys_cte: str, alias: str, window: timedelta, dialect: Dialect) -> list[exp.Expression]:
    event, t = col(EVENT_TS, alias), col(SPINE_TS, keys_cte)
    return [exp.LTE(this=event, expression=t.copy()), exp.GT(this=event.copy(), expression=dialect.subtract(t, window))]


def _range_join(keys, keys_cte, request, source_cte, pairs, dialect, cte: str | None = None) -> Result:
    """One range join over the widest window; each aggregate filters its own window with a CASE."""
    alias, cte = "s", cte or f"{request.name}__aggregates"
    widest = max(a.time_window for a, _ in pairs)
    select = (
        exp.select(*[col(k, keys_cte) for k in keys], col(SPINE_TS, keys_cte))
        .from_(ident(keys_cte))
        .join(aliased(exp.to_table(ident(source_cte)), alias),
              on=and_(*keys_equal(keys, keys_cte, alias), *_in_window(keys_cte, alias, widest, dialect),
                      *visible_at(request, alias, col(SPINE_TS, keys_cte))))
        .group_by(*[col(k, keys_cte) for k in keys], col(SPINE_TS, keys_cte))
    )  # fmt: skip
    outputs: dict[str, exp.Expression] = {}
    for aggregation, name in pairs:
        value: exp.Expression = col(value_column(aggregation.column), alias)
        if aggregation.time_window != widest:
            value = exp.Case(ifs=[exp.If(this=_in_window(keys_cte, alias, aggregation.time_window, dialect)[1], true=value)])
        computed = exp.cast(_FUNCTIONS[aggregation.function](value), aggregation.dtype.sql_type())
        select = select.select(exp.alias_(computed, name, quoted=True))
        outputs[name] = _empty_window_value(aggregation, col(name, cte))
    return [(cte, select)], (cte, outputs)


def _sliding(keys, keys_cte, request, source_cte, pairs, dialect) -> Result:
    """Sliding RANGE windows over the events and the spine keys in one sort; spine rows kept."""
    union, slid, cte = "u", f"{request.name}__slid", f"{request.name}__windows"
    columns = list(dict.fromkeys(value_column(a.column) for a, _ in pairs))
    events = exp.select(
        *(col(k, source_cte) for k in keys), exp.alias_(col(EVENT_TS, source_cte), SPINE_TS, quoted=True),
        exp.alias_(dialect.epoch_integer(col(EVENT_TS, source_cte)), TIME_INT, quoted=True),
        exp.alias_(exp.Literal.number(0), KIND, quoted=True), *(col(c, source_cte) for c in columns),
    ).from_(ident(source_cte))  # fmt: skip
    spine = exp.select(
        *(col(k, keys_cte) for k in keys), col(SPINE_TS, keys_cte),
        exp.alias_(dialect.epoch_integer(col(SPINE_TS, keys_cte)), TIME_INT, quoted=True),
        exp.alias_(exp.Literal.number(1), KIND, quoted=True), *(exp.alias_(exp.Null(), c, quoted=True) for c in columns),
    ).from_(ident(keys_cte))  # fmt: skip
    select = exp.select(*(col(k, union) for k in keys), col(SPINE_TS, union), col(KIND, union))
    outputs: dict[str, exp.Expression] = {}
    for aggregation, name in pairs:
        frame = exp.WindowSpec(
            kind="RANGE", start=exp.Literal.number(dialect.instant_units(aggregation.time_window) - 1),
            start_side="PRECEDING", end="CURRENT ROW",
        )  # fmt: skip
        value = dialect.sliding_value(col(value_column(aggregation.column), union), aggregation.function)
        window = exp.Window(
            this=_FUNCTIONS[aggregation.function](value),
            partition_by=[col(k, union) for k in keys],
            # nulls first, every engine's way to say it (BigQuery's RANGE frames take no NULLS LAST)
            order=exp.Order(expressions=[exp.Ordered(this=col(TIME_INT, union), nulls_first=True)]), spec=frame,
        )  # fmt: skip
        select = select.select(exp.alias_(exp.cast(window, aggregation.dtype.sql_type()), name, quoted=True))
        outputs[name] = _empty_window_value(aggregation, col(name, cte))
    select = select.from_(aliased(exp.union(events, spine, distinct=False).subquery(), union))
    spine_rows = (
        exp.select(*(col(k, slid) for k in keys), col(SPINE_TS, slid), *(col(n, slid) for _, n in pairs))
        .from_(ident(slid))
        .where(exp.EQ(this=col(KIND, slid), expression=exp.Literal.number(1)))
    )
    return [(slid, select), (cte, spine_rows)], (cte, outputs)
