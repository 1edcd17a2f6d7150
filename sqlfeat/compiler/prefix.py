"""Windowed count, sum and mean from prefix sums probed at t and t - w (the ``asof`` aggregate form).

Per key, running totals over the view's events in time order (one sort, rows with the same time
share their total)::

    <view>__cum     keys, event time, per column: COUNT(v), SUM(v) and, for a float column, the
                    compensated sum of |v|, each OVER (PARTITION BY keys ORDER BY event time
                    RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
    <view>__probes  the spine keys ASOF LEFT JOIN the totals at t, and once more per window at
                    t - w: the window (t - w, t] holds total(<= t) - total(<= t - w)

so the cost is one sort of the events and one ASOF probe per spine key and window, whatever the
number of events per key. Counts, and sums of integer columns (summed in a 128-bit integer),
are exact. A float sum is a difference of two running sums, which loses what the history before
the window adds to their magnitude: the error is at most about ``4 eps * |history|``. A spine key
is kept on this form only when its history's absolute sum is finite and at most ``2**16`` times
its window's (an error under ~6e-11 of the window's absolute sum, as close as summing the window
itself); the others (``<view>__flagged``) are computed by the range join over their own windows
(``<view>__exact``) and take that value. On realistic data none is flagged and the range join
joins nothing.
"""

from __future__ import annotations

from sqlglot import exp

from sqlfeat.compiler.plan import EVENT_TS, SPINE_TS, ViewRequest
from sqlfeat.compiler.sql import aliased, and_, col, ident, keys_equal, value_column
from sqlfeat.definitions.aggregation import Aggregation
from sqlfeat.types import Family
from sqlfeat.warehouses.base import Dialect

PREFIX = frozenset({"count", "sum", "mean"})
# How much larger a float history's absolute sum may be than its window's (see the docstring).
HISTORY_RATIO = 65_536
FLAG = "__sqlfeat_flag"

CTEs = list[tuple[str, exp.Select]]
Pairs = list[tuple[Aggregation, str]]


def integer_columns(request: ViewRequest) -> frozenset[str]:
    """Columns known to hold integers: an aggregate whose result keeps the column's type says so."""
    return frozenset(
        a.column for a in request.view.aggregations
        if a.function in ("sum", "min", "max", "last") and a.dtype is not None and a.dtype.family is Family.INTEGER
    )  # fmt: skip


def prefix_ctes(keys, keys_cte, request: ViewRequest, source_cte: str, pairs: Pairs, dialect: Dialect, range_join):
    """CTEs computing ``pairs`` (count/sum/mean) per (keys, t) of ``keys_cte`` from prefix sums;
    ``range_join(keys, keys_cte, request, source_cte, pairs, dialect, name)`` builds the exact
    form for the flagged keys. Returns (CTEs, (result CTE, {output name: value expression}))."""
    cum, probes = f"{request.name}__cum", f"{request.name}__probes"
    integers = integer_columns(request)
    columns = list(dict.fromkeys(a.column for a, _ in pairs))
    index = {c: i for i, c in enumerate(columns)}
    summed = {a.column for a, _ in pairs if a.function != "count"}
    guarded = [c for c in columns if c in summed and c not in integers]
    cum_select = _totals(keys, request, source_cte, columns, index, summed, guarded, dialect)
    windows = sorted({a.time_window for a, _ in pairs})
    probe_select = exp.select(*(col(k, keys_cte) for k in keys), col(SPINE_TS, keys_cte)).from_(ident(keys_cte))
    for j, back in enumerate([None, *windows]):
        at = col(SPINE_TS, keys_cte) if back is None else dialect.subtract(col(SPINE_TS, keys_cte), back)
        on = and_(*keys_equal(keys, keys_cte, _probe(j)), exp.GTE(this=at, expression=col(EVENT_TS, _probe(j))))
        probe_select = probe_select.join(aliased(exp.to_table(ident(cum)), _probe(j)), on=on, join_type="ASOF LEFT")
    slot = {w: j + 1 for j, w in enumerate(windows)}
    values = {name: _value(a, index[a.column], slot[a.time_window], a.column in integers) for a, name in pairs}
    probe_select = probe_select.select(*(exp.alias_(v, n, quoted=True) for n, v in values.items()))
    flags = [
        _unsure(index[c], slot[w]) for c in guarded for w in sorted({a.time_window for a, _ in pairs if a.column == c})
    ]
    ctes: CTEs = [(cum, cum_select)]
    if not flags:
        ctes.append((probes, probe_select))
        return ctes, (probes, {name: col(name, probes) for name in values})
    ctes.append((probes, probe_select.select(exp.alias_(exp.or_(*flags), FLAG, quoted=True))))
    flagged, exact, result = f"{request.name}__flagged", f"{request.name}__exact", f"{request.name}__prefix"
    ctes.append((flagged, exp.select(*(col(k, probes) for k in keys), col(SPINE_TS, probes)).from_(ident(probes)).where(col(FLAG, probes))))
    exact_pairs = [(a, n) for a, n in pairs if a.column in guarded and a.function != "count"]
    exact_ctes, (exact_cte, exact_values) = range_join(keys, flagged, request, source_cte, exact_pairs, dialect, exact)
    ctes += exact_ctes
    outputs = []
    for name in values:
        value: exp.Expression = col(name, probes)
        if name in exact_values:
            value = exp.Case(ifs=[exp.If(this=col(FLAG, probes), true=exact_values[name])], default=value)
        outputs.append(exp.alias_(value, name, quoted=True))
    on = and_(*keys_equal(keys, probes, exact_cte), exp.EQ(this=col(SPINE_TS, probes), expression=col(SPINE_TS, exact_cte)))
    ctes.append((result, (
        exp.select(*(col(k, probes) for k in keys), col(SPINE_TS, probes), *outputs)
        .from_(ident(probes)).join(exp.to_table(ident(exact_cte)), on=on, join_type="LEFT")
    )))  # fmt: skip
    return ctes, (result, {name: col(name, result) for name in values})


def _probe(j: int) -> str:
    return f"p{j}"


def _name(kind: str, i: int) -> str:
    return f"__sqlfeat_{kind}{i}"


def _totals(keys, request, source_cte, columns, index, summed, guarded, dialect) -> exp.Select:
    running = exp.WindowSpec(kind="RANGE", start="UNBOUNDED", start_side="PRECEDING", end="CURRENT ROW")

    def over(function: exp.Expression) -> exp.Window:
        order = exp.Order(expressions=[exp.Ordered(this=col(EVENT_TS, source_cte), nulls_first=True)])
        return exp.Window(this=function, partition_by=[col(k, source_cte) for k in keys], order=order, spec=running.copy())

    select = exp.select(*(col(k, source_cte) for k in keys), col(EVENT_TS, source_cte)).from_(ident(source_cte))
    for column in columns:
        i, value = index[column], col(value_column(column), source_cte)
        select = select.select(exp.alias_(over(exp.Count(this=value)), _name("n", i), quoted=True))
        if column in guarded:
            as_float = exp.cast(value.copy(), "DOUBLE")
            select = select.select(
                exp.alias_(over(dialect.compensated_sum(as_float)), _name("s", i), quoted=True),
                exp.alias_(over(dialect.compensated_sum(exp.Abs(this=as_float.copy()))), _name("a", i), quoted=True),
            )  # fmt: skip
        elif column in summed:
            select = select.select(exp.alias_(over(exp.Sum(this=value.copy())), _name("s", i), quoted=True))
    return select


def _total(kind: str, i: int, j: int) -> exp.Expression:
    return col(_name(kind, i), _probe(j))


def _difference(kind: str, i: int, j: int, zero_at_t: bool = False) -> exp.Expression:
    """total(<= t) - total(<= t - w); a probe before the key's first event found no row: 0."""
    zero = exp.Literal.number(0)
    at_t = exp.Coalesce(this=_total(kind, i, 0), expressions=[zero.copy()]) if zero_at_t else _total(kind, i, 0)
    return exp.Sub(this=at_t, expression=exp.Coalesce(this=_total(kind, i, j), expressions=[zero]))


def _value(aggregation: Aggregation, i: int, j: int, integer: bool) -> exp.Expression:
    count = _difference("n", i, j, zero_at_t=True)
    if aggregation.function == "count":
        return exp.cast(count, aggregation.dtype.sql_type())
    total = _difference("s", i, j)
    if aggregation.function == "mean":
        total = exp.Div(this=exp.cast(total, "DOUBLE"), expression=exp.cast(count.copy(), "DOUBLE"))
    some = exp.GT(this=count.copy(), expression=exp.Literal.number(0))
    return exp.cast(exp.Case(ifs=[exp.If(this=some, true=total)]), aggregation.dtype.sql_type())


def _unsure(i: int, j: int) -> exp.Expression:
    """A float window whose difference of running sums may be less precise than summing it."""
    history = _total("a", i, 0)
    window = _difference("a", i, j)
    fine = exp.and_(
        exp.func("isfinite", history.copy()),
        exp.LTE(this=history.copy(), expression=exp.Mul(this=exp.Literal.number(HISTORY_RATIO), expression=exp.paren(window))),
    )
    some = exp.GT(this=_difference("n", i, j, zero_at_t=True), expression=exp.Literal.number(0))
    return exp.and_(some, exp.Not(this=exp.paren(fine)))

