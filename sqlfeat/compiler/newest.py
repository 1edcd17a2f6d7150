"""The newest source row at or before each spine (keys, t): rule 1 of the contract, per strategy.

Every builder here takes the distinct spine keys (``keys_cte``: join keys and ``__sqlfeat_ts``) and
a view's pruned source CTE (keys, ``__sqlfeat_event_ts``, ``__sqlfeat_created_ts``, values) and
returns CTEs whose last one has one row per spine key: the keys, ``__sqlfeat_ts`` and each
requested value of the newest row (greatest event time, then greatest created time, nulls last)
whose event time is in ``[t - lookback, t]`` (or ``(t - lookback, t]`` for a window's ``last``).

All outputs of a view share one search for the newest row at or before t: an output with a
shorter lookback is that row's value when the row is inside it, else null (the newest row is
the same whatever the lookback; when it is too old, every older row is too).

    window   keys_cte JOIN source on keys and [t - widest, t], ROW_NUMBER() newest first = 1
    carry    source numbered by (event, created) per key; UNION ALL with the spine keys; a
             running MAX of that number over (keys, time, source-before-spine); joined back
    lateral  keys_cte LEFT JOIN LATERAL (newest row of the key in range, LIMIT 1)

With ``filter_by_created_timestamp`` a row is visible at t only when its created time is at or
before t too: window and lateral add ``created <= t`` to their search; carry carries each row
forward from the moment it is visible, ``max(event time, created time)`` (the running MAX of the
(event, created) number is still the newest visible row); rows without a created time are never
visible.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlglot import exp

from sqlfeat.compiler.plan import CREATED_TS, EVENT_TS, KIND, SPINE_TS, SRC_ROW, ViewRequest
from sqlfeat.compiler.sql import aliased, and_, col, first_row, ident, keys_equal, newest_first
from sqlfeat.warehouses.base import Dialect

ROW = "s"  # the alias of the newest source row in every form


@dataclass(frozen=True)
class Wanted:
    """One output: a value over the newest row (alias ``s``), and how far back that row may be."""

    value: exp.Expression
    lookback: timedelta | None
    strict: bool = False  # a window's lower bound is exclusive: t - window < event time


CTEs = list[tuple[str, exp.Select]]


def _inside(wanted: Wanted, event: exp.Expression, t: exp.Expression, dialect: Dialect) -> exp.Expression | None:
    if not wanted.lookback:
        return None
    bound = dialect.subtract(t.copy(), wanted.lookback)
    return exp.GT(this=event.copy(), expression=bound) if wanted.strict else exp.GTE(this=event.copy(), expression=bound)


def _outputs(wanted: dict[str, Wanted], event: exp.Expression, t: exp.Expression, dialect: Dialect, widest: Wanted | None):
    """Each output, as a CASE on the row's event time unless the search already bounded it."""
    columns = []
    for name, item in wanted.items():
        value = item.value.copy()
        bounded = widest is not None and (item.lookback, item.strict) == (widest.lookback, widest.strict)
        inside = None if bounded else _inside(item, event, t, dialect)
        if inside is not None:
            value = exp.Case(ifs=[exp.If(this=inside, true=value)])
        columns.append(exp.alias_(value, name, quoted=True))
    return columns


def _widest(wanted: dict[str, Wanted]) -> Wanted | None:
    """The output whose bound the search itself can apply (the loosest); None if one is unbounded."""
    items = list(wanted.values())
    if any(not w.lookback for w in items):
        return None
    return max(items, key=lambda w: (w.lookback, not w.strict))


def newest_rows(
    strategy: str, keys: tuple[str, ...], keys_cte: str, request: ViewRequest, source_cte: str,
    wanted: dict[str, Wanted], dialect: Dialect, name: str,
) -> CTEs:  # fmt: skip
    build = {"window": _range_join, "carry": _carry, "lateral": _lateral}[strategy]
    return build(keys, keys_cte, request, source_cte, wanted, dialect, name)


def _spine_columns(keys: tuple[str, ...], alias: str) -> list[exp.Expression]:
    return [*(col(k, alias) for k in keys), col(SPINE_TS, alias)]


def _created(request: ViewRequest, alias: str) -> exp.Expression | None:
    return col(CREATED_TS, alias) if request.view.source.created_timestamp_column else None


def visible_at(request: ViewRequest, alias: str, t: exp.Expression) -> list[exp.Expression]:
    """``created <= t`` when the request filters by created time (a null created time is never
    at or before anything), else nothing."""
    if not request.filter_by_created:
        return []
    return [exp.LTE(this=col(CREATED_TS, alias), expression=t.copy())]


def visible_from(request: ViewRequest, alias: str) -> exp.Expression:
    """When a row becomes visible: its event time, or with the created filter the later of its
    event and created times (a CASE, not GREATEST, whose null handling differs by engine)."""
    event = col(EVENT_TS, alias)
    if not request.filter_by_created:
        return event
    created = col(CREATED_TS, alias)
    return exp.Case(ifs=[exp.If(this=exp.GT(this=created, expression=event.copy()), true=created.copy())], default=event.copy())


def has_created(request: ViewRequest, alias: str) -> exp.Expression:
    return exp.Not(this=exp.Is(this=col(CREATED_TS, alias), expression=exp.Null()))


def _search(keys, keys_cte, request, wanted, dialect) -> tuple[Wanted | None, list[exp.Expression]]:
    """The rows a search for the newest one may look at: the spine key's, at or before t, inside
    the loosest lookback (the outputs' bound, when every output has one), and visible at t."""
    t, event = col(SPINE_TS, keys_cte), col(EVENT_TS, ROW)
    widest = _widest(wanted)
    conditions = [*keys_equal(keys, keys_cte, ROW), exp.LTE(this=event.copy(), expression=t.copy())]
    if widest is not None:
        conditions.append(_inside(widest, event, t, dialect))
    return widest, conditions + visible_at(request, ROW, t)


def _range_join(keys, keys_cte, request, source_cte, wanted, dialect, name) -> CTEs:
    t, event = col(SPINE_TS, keys_cte), col(EVENT_TS, ROW)
    widest, conditions = _search(keys, keys_cte, request, wanted, dialect)
    newest = first_row(_spine_columns(keys, keys_cte), newest_first(event.copy(), _created(request, ROW)))
    select = (
        exp.select(*_spine_columns(keys, keys_cte), *_outputs(wanted, event, t, dialect, widest))
        .from_(ident(keys_cte))
        .join(aliased(exp.to_table(ident(source_cte)), ROW), on=and_(*conditions))
        .qualify(newest)
    )
    return [(name, select)]


def _carry(keys, keys_cte, request, source_cte, wanted, dialect, name) -> CTEs:
    numbered, carried, union = f"{request.name}__numbered", f"{request.name}__carried", "u"
    created = _created(request, source_cte)
    order = [exp.Ordered(this=col(EVENT_TS, source_cte), desc=False, nulls_first=True)]
    if created is not None:
        order.append(exp.Ordered(this=created, desc=False, nulls_first=True))
    number = exp.Window(
        this=exp.RowNumber(), partition_by=[col(k, source_cte) for k in keys], order=exp.Order(expressions=order)
    )
    numbered_select = exp.select(exp.Column(this=exp.Star(), table=ident(source_cte))).select(
        exp.alias_(number, SRC_ROW, quoted=True)
    ).from_(ident(source_cte))
    from_source = exp.select(
        *(col(k, numbered) for k in keys), exp.alias_(visible_from(request, numbered), SPINE_TS, quoted=True),
        exp.alias_(exp.Literal.number(0), KIND, quoted=True), col(SRC_ROW, numbered),
    ).from_(ident(numbered))  # fmt: skip
    if request.filter_by_created:
        from_source = from_source.where(has_created(request, numbered))
    from_spine = exp.select(
        *(col(k, keys_cte) for k in keys), col(SPINE_TS, keys_cte), exp.alias_(exp.Literal.number(1), KIND, quoted=True),
        exp.alias_(exp.cast(exp.Null(), exp.DataType.build("BIGINT")), SRC_ROW, quoted=True),
    ).from_(ident(keys_cte))  # fmt: skip
    # Source rows sort before spine rows of the same time: event time <= t is inclusive.
    running = exp.Window(
        this=exp.Max(this=col(SRC_ROW, union)), partition_by=[col(k, union) for k in keys],
        order=exp.Order(expressions=[
            exp.Ordered(this=col(SPINE_TS, union), nulls_first=True), exp.Ordered(this=col(KIND, union), nulls_first=True)
        ]),
        spec=exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="CURRENT ROW"),
    )  # fmt: skip
    carried_select = exp.select(
        *_spine_columns(keys, union), col(KIND, union), exp.alias_(running, SRC_ROW, quoted=True)
    ).from_(aliased(exp.union(from_source, from_spine, distinct=False).subquery(), union))
    t, event = col(SPINE_TS, carried), col(EVENT_TS, ROW)
    on = and_(*keys_equal(keys, carried, ROW), exp.EQ(this=col(SRC_ROW, ROW), expression=col(SRC_ROW, carried)))
    result = (
        exp.select(*_spine_columns(keys, carried), *_outputs(wanted, event, t, dialect, None))
        .from_(ident(carried))
        .join(aliased(exp.to_table(ident(numbered)), ROW), on=on, join_type="LEFT")
        .where(exp.EQ(this=col(KIND, carried), expression=exp.Literal.number(1)))
    )
    return [(numbered, numbered_select), (carried, carried_select), (name, result)]


def _index_order(event: exp.Expression, created: exp.Expression | None) -> list[exp.Ordered]:
    """Newest first, in the order a backward scan of an index on (keys, event time, created time)
    yields: event time is never null here (the range filter drops nulls), so its NULLS FIRST costs
    nothing and lets the index drive; the created time keeps nulls last (a null loses the tie)."""
    order = [exp.Ordered(this=event.copy(), desc=True, nulls_first=True)]
    if created is not None:
        order.append(exp.Ordered(this=created, desc=True, nulls_first=False))
    return order


def _lateral(keys, keys_cte, request, source_cte, wanted, dialect, name) -> CTEs:
    t, event = col(SPINE_TS, keys_cte), col(EVENT_TS, ROW)
    widest, conditions = _search(keys, keys_cte, request, wanted, dialect)
    inner = "n"
    probe = (
        exp.select(*_outputs(wanted, event, t, dialect, widest))
        .from_(aliased(exp.to_table(ident(source_cte)), ROW))
        .where(and_(*conditions))
        .order_by(*_index_order(event, _created(request, ROW)))
        .limit(1)
    )
    lateral = exp.Lateral(this=probe.subquery(), alias=exp.TableAlias(this=ident(inner)))
    select = (
        exp.select(*_spine_columns(keys, keys_cte), *(col(output, inner) for output in wanted))
        .from_(ident(keys_cte))
        .join(lateral, join_type="LEFT", on=exp.true())
    )
    return [(name, select)]
