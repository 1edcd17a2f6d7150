"""The point-in-time join, once, as a sqlglot AST (contract: rules 1-5 of docs/concepts.md).

Shape of the query, for views grouped by the join keys they share::

    spine                 the entity rows as given
    <view>__source        the view's columns renamed, cast to declared dtypes, pruned to the spine's
                          time range (constants when the spine's bounds are known) and lookback,
                          rows without keys or event time dropped
    then per view, by its strategy (``strategy.py`` chooses; ``explain`` says why):
      asof     <view>__latest (one row per keys and event time: the greatest created time, when
               the source may hold ties), then spine ASOF LEFT JOIN it on keys and t >= event
               time, the TTL a CASE on the matched row's event time (with the created-time
               filter: an ASOF on when each newest row becomes visible, ``_asof_visible``)
      window | carry | lateral, and every aggregated view:
               spine_keys__<keys>  DISTINCT (join keys, instant): duplicate spine rows collapsed
               <view>__...         the newest row per spine key (``newest.py``) or the window
                                   aggregates (``aggregate.py``)
               final               spine LEFT JOIN each result on (keys, instant)
    SQL on-demand features (rule 6) are expressions over the features in the final projection
    (``on_demand.py``); a source feature only they read is joined but never selected.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from sqlglot import exp

from sqlfeat.compiler.aggregate import aggregate_ctes
from sqlfeat.compiler.on_demand import expression_columns
from sqlfeat.compiler.newest import ROW, Wanted, has_created, newest_rows, visible_from
from sqlfeat.compiler.plan import CREATED_TS, EVENT_TS, SPINE_TS, SRC_ROW, RetrievalPlan, Spine, ViewRequest
from sqlfeat.compiler.sql import aliased, and_, col, first_row, ident, keys_equal, newest_first, source_projection
from sqlfeat.compiler.strategy import Choice, SourceStats, choose_strategies
from sqlfeat.warehouses.base import Dialect

SPINE = "spine"
# (result CTE, its join keys, {output name: value expression over the CTE})
Keyed = list[tuple[str, tuple[str, ...], dict[str, exp.Expression]]]


def _group_name(keys: tuple[str, ...]) -> str:
    return "__".join(keys)


def compile_point_in_time(
    plan: RetrievalPlan,
    spine: Spine,
    dialect: Dialect,
    repo_path: Path,
    strategy: str | Mapping[str, str] = "auto",
    stats: Mapping[str, SourceStats] | None = None,
    choices: Mapping[str, Choice] | None = None,
) -> exp.Select:
    """The PIT query for ``plan`` over ``spine``, as an AST ready for ``dialect.render``.

    ``choices`` (from ``choose_strategies``) wins over ``strategy``; ``stats`` feed the choice.
    """
    if choices is None:
        choices = choose_strategies(plan, dialect, strategy, spine.rows, stats)
    if isinstance(spine.relation, exp.Query):
        spine_relation = spine.relation
    elif spine.is_query:
        spine_relation = dialect.query(spine.relation)
    else:
        spine_relation = exp.select(exp.Star()).from_(dialect.table(spine.relation))
    query = exp.select().with_(ident(SPINE), as_=spine_relation)
    instant = dialect.to_instant(col(spine.timestamp_column, SPINE))
    bounds = _Bounds(spine, instant, dialect)
    asof = [r for r in plan.views if choices[r.name].strategy == "asof" and not r.aggregations]
    keyed = [r for r in plan.views if r not in asof]
    query, results = _keyed_results(query, keyed, choices, instant, bounds, dialect, repo_path)
    query = query.from_(ident(SPINE))
    features: dict[str, exp.Expression] = {}
    for request in asof:
        ties = (stats or {}).get(request.name, SourceStats(0, 0)).ties
        query, joined = _asof_join(query, request, instant, bounds, dialect, repo_path, ties)
        features.update(joined)
    query, joined = _join_results(query, results, instant)
    features.update(joined)
    passthrough = col(spine.row_id, SPINE) if spine.row_id else exp.Column(this=exp.Star(), table=ident(SPINE))
    query = query.select(passthrough, *[exp.alias_(features[name], name, quoted=True) for name in plan.selected_names])
    # SQL on-demand features: over the joined values, in the same projection (applied after the join)
    query = query.select(*expression_columns(plan, features, lambda name: col(name, SPINE), dialect.cast_type))
    if spine.ordered:
        order = [col(spine.timestamp_column, SPINE), *(col(k, SPINE) for k in plan.join_keys)]
        query = query.order_by(*(exp.Ordered(this=c, nulls_first=False) for c in order))
    return query


class _Bounds:
    """The spine's time range, as constants when known, else as subqueries over a spine CTE."""

    def __init__(self, spine: Spine, instant: exp.Expression, dialect: Dialect) -> None:
        self.known, self.instant, self.dialect = spine.bounds, instant, dialect

    def low(self, over: str, expression: exp.Expression, lookback: timedelta) -> exp.Expression:
        """The earliest event time a spine row can look back to."""
        if self.known is not None:
            return self.dialect.instant_literal(self.known[0] - lookback)
        earliest = exp.select(exp.Min(this=expression.copy())).from_(ident(over)).subquery()
        return self.dialect.subtract(earliest, lookback)

    def high(self, over: str, expression: exp.Expression) -> exp.Expression:
        if self.known is not None:
            return self.dialect.instant_literal(self.known[1])
        return exp.select(exp.Max(this=expression.copy())).from_(ident(over)).subquery()


def _source_cte(
    request: ViewRequest, over: str, instant: exp.Expression, bounds: _Bounds, dialect: Dialect, repo_path: Path
) -> exp.Select:
    """The view's source rows pruned to the spine's time range (and lookback) before any join."""
    projection, event_ts, conditions = source_projection(request, dialect, repo_path)
    conditions.append(exp.LTE(this=event_ts.copy(), expression=bounds.high(over, instant)))
    lookback = request.view.max_window or request.view.ttl
    if lookback:
        conditions.append(exp.GTE(this=event_ts.copy(), expression=bounds.low(over, instant, lookback)))
    partition = dialect.partition_filter(request.view.source, bounds.known, lookback)
    if partition is not None:
        conditions.append(partition)
    return projection.where(and_(*conditions))


def _asof_join(query, request, instant, bounds, dialect, repo_path, ties: bool):
    """The spine ASOF LEFT JOIN the view on its keys and ``t >= event time``; TTL as a CASE.

    An ASOF probe per spine row is cheap, so duplicate spine rows are not collapsed first. ASOF
    breaks ties on equal event times arbitrarily: the newest created row is kept first, unless
    the source is known to have no ties.
    """
    source_cte = f"{request.name}__source"
    query = query.with_(ident(source_cte), as_=_source_cte(request, SPINE, instant, bounds, dialect, repo_path))
    if request.filter_by_created:
        return _asof_visible(query, request, instant, dialect, source_cte)
    if request.view.source.created_timestamp_column and ties:
        partition = [col(k) for k in request.join_keys] + [col(EVENT_TS)]
        latest = exp.select(exp.Star()).from_(ident(source_cte)).qualify(first_row(partition, newest_first(col(CREATED_TS), None)))
        source_cte = f"{request.name}__latest"
        query = query.with_(ident(source_cte), as_=latest)
    alias = request.name
    on = and_(*keys_equal(request.join_keys, SPINE, alias), exp.GTE(this=instant.copy(), expression=col(EVENT_TS, alias)))
    query = query.join(aliased(exp.to_table(ident(source_cte)), alias), on=on, join_type="ASOF LEFT")
    return query, _ttl_outputs(request, alias, instant, dialect)


def _ttl_outputs(request: ViewRequest, alias: str, instant: exp.Expression, dialect: Dialect) -> dict[str, exp.Expression]:
    features = {}
    for output in request.output_names:
        value: exp.Expression = col(output, alias)
        if request.view.ttl:
            fresh = exp.GTE(this=col(EVENT_TS, alias), expression=dialect.subtract(instant.copy(), request.view.ttl))
            value = exp.Case(ifs=[exp.If(this=fresh, true=value)])
        features[output] = value
    return features


def _asof_visible(query, request, instant, dialect, source_cte):
    """ASOF with ``filter_by_created_timestamp``: which row wins at t depends on t through the
    created times, so neither a created-time dedupe nor an ASOF on event time is right. Instead:

    - ``<view>__numbered``  rows with a created time, numbered per key by (event, created);
    - ``<view>__visible``   per key, each moment a row becomes visible (max(event, created)) and
                            the running MAX of the numbers visible by then: the newest visible row;
    - the spine ASOF LEFT JOIN that timeline on keys and ``t >= moment``, then the numbered row it
      names joined back for its values and event time (the TTL CASE)."""
    numbered, timeline, alias = f"{request.name}__numbered", f"{request.name}__visible", request.name
    keys = request.join_keys
    order = [exp.Ordered(this=col(EVENT_TS), nulls_first=True), exp.Ordered(this=col(CREATED_TS), nulls_first=True)]
    number = exp.Window(this=exp.RowNumber(), partition_by=[col(k) for k in keys], order=exp.Order(expressions=order))
    query = query.with_(ident(numbered), as_=(
        exp.select(exp.Star(), exp.alias_(number, SRC_ROW, quoted=True)).from_(ident(source_cte)).where(has_created(request, source_cte))
    ))  # fmt: skip
    moment = visible_from(request, numbered)
    running = exp.Window(
        this=exp.Max(this=exp.Max(this=col(SRC_ROW, numbered))), partition_by=[col(k, numbered) for k in keys],
        order=exp.Order(expressions=[exp.Ordered(this=moment.copy(), nulls_first=True)]),
        spec=exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="CURRENT ROW"),
    )  # fmt: skip
    query = query.with_(ident(timeline), as_=(
        exp.select(*[col(k, numbered) for k in keys], exp.alias_(moment, SPINE_TS, quoted=True), exp.alias_(running, SRC_ROW, quoted=True))
        .from_(ident(numbered)).group_by(*[col(k, numbered) for k in keys], moment.copy())
    ))  # fmt: skip
    on = and_(*keys_equal(keys, SPINE, timeline), exp.GTE(this=instant.copy(), expression=col(SPINE_TS, timeline)))
    query = query.join(exp.to_table(ident(timeline)), on=on, join_type="ASOF LEFT")
    back = and_(*keys_equal(keys, SPINE, alias), exp.EQ(this=col(SRC_ROW, alias), expression=col(SRC_ROW, timeline)))
    query = query.join(aliased(exp.to_table(ident(numbered)), alias), on=back, join_type="LEFT")
    return query, _ttl_outputs(request, alias, instant, dialect)


def _keyed_results(query, requests, choices, instant, bounds, dialect, repo_path) -> tuple[exp.Select, Keyed]:
    """Distinct (keys, instant) per join-key group (duplicate spine rows collapsed), then per view
    the newest row per spine key or its window aggregates, by the view's strategy."""
    groups: dict[tuple[str, ...], list[ViewRequest]] = {}
    for request in requests:
        groups.setdefault(request.join_keys, []).append(request)
    results: Keyed = []
    for keys, members in groups.items():
        keys_cte = f"spine_keys__{_group_name(keys)}"
        distinct_keys = (
            exp.select(*[col(k, SPINE) for k in keys], exp.alias_(instant.copy(), SPINE_TS, quoted=True))
            .distinct()
            .from_(ident(SPINE))
        )
        query = query.with_(ident(keys_cte), as_=distinct_keys)
        for request in members:
            source_cte = f"{request.name}__source"
            query = query.with_(ident(source_cte), as_=_source_cte(request, keys_cte, col(SPINE_TS), bounds, dialect, repo_path))
            strategy = choices[request.name].strategy
            if request.aggregations:
                found = aggregate_ctes(keys, keys_cte, request, source_cte, strategy, dialect)
            else:
                wanted = {name: Wanted(col(name, ROW), request.view.ttl) for name in request.output_names}
                name = f"{request.name}__pit"
                ctes = newest_rows(strategy, keys, keys_cte, request, source_cte, wanted, dialect, name)
                found = [(ctes, (name, {o: col(o, name) for o in request.output_names}))]
            for ctes, (result, outputs) in found:
                for cte_name, select in ctes:
                    query = query.with_(ident(cte_name), as_=select)
                results.append((result, keys, outputs))
    return query, results


def _join_results(query: exp.Select, results: Keyed, instant: exp.Expression):
    features: dict[str, exp.Expression] = {}
    for cte, keys, outputs in results:
        condition = and_(*keys_equal(keys, SPINE, cte), exp.EQ(this=instant.copy(), expression=col(SPINE_TS, cte)))
        query = query.join(exp.to_table(ident(cte)), on=condition, join_type="LEFT")
        features.update(outputs)
    return query, features
