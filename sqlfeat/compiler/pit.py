"""The point-in-time join, once, as a sqlglot AST (contract: rules 1-4 of docs/concepts.md).

Shape of the query, for views grouped by the join keys they share::

    spine                     the entity rows as given
    <view>__source            the view's columns renamed, cast to declared dtypes, pruned to the
                              spine's time range (and TTL), rows without keys or event time dropped
    then, by strategy:
      asof:   <view>__latest  one row per (keys, event time): the greatest created timestamp
              final           spine ASOF LEFT JOIN every view on keys and t >= event time;
                              TTL as a CASE on the matched row's event time
      window: spine_keys      DISTINCT (join keys, instant) per join-key group: duplicates collapsed
              <view>__pit     spine_keys JOIN source on keys, event time in [t - ttl, t],
                              ROW_NUMBER() by (event time, created time) DESC, QUALIFY = 1
              final           spine LEFT JOIN each result on (keys, instant): duplicates expanded
"""

from __future__ import annotations

from pathlib import Path

from sqlglot import exp

from sqlfeat.compiler.aggregate import aggregate_ctes
from sqlfeat.compiler.plan import CREATED_TS, EVENT_TS, SPINE_TS, RetrievalPlan, Spine, ViewRequest
from sqlfeat.compiler.sql import aliased, and_, col, first_row, ident, keys_equal, newest_first, source_projection
from sqlfeat.warehouses.base import Dialect

SPINE = "spine"


def _group_name(keys: tuple[str, ...]) -> str:
    return "__".join(keys)


def compile_point_in_time(
    plan: RetrievalPlan,
    spine: Spine,
    dialect: Dialect,
    repo_path: Path,
    strategy: str = "auto",
) -> exp.Select:
    """The PIT query for ``plan`` over ``spine``, as an AST ready for ``dialect.render``."""
    chosen = dialect.choose_strategy(spine.rows, strategy)
    if isinstance(spine.relation, exp.Query):
        spine_relation = spine.relation
    elif spine.is_query:
        spine_relation = dialect.query(spine.relation)
    else:
        spine_relation = exp.select(exp.Star()).from_(dialect.table(spine.relation))
    query = exp.select().with_(ident(SPINE), as_=spine_relation)
    instant = dialect.to_instant(col(spine.timestamp_column, SPINE))
    build = _asof if chosen == "asof" else _window
    query, features = build(query, plan, instant, dialect, repo_path)
    passthrough = col(spine.row_id, SPINE) if spine.row_id else exp.Column(this=exp.Star(), table=ident(SPINE))
    return query.select(passthrough, *features)


def _source_cte(
    request: ViewRequest, bounds: str, instant: exp.Expression, dialect: Dialect, repo_path: Path
) -> exp.Select:
    """The view's source rows pruned to the spine's time range (and TTL) before any join.

    ``bounds`` is the CTE holding the spine's instants, ``instant`` their expression there.
    """
    projection, event_ts, conditions = source_projection(request, dialect, repo_path)
    spine_max = exp.select(exp.Max(this=instant.copy())).from_(ident(bounds)).subquery()
    conditions.append(exp.LTE(this=event_ts.copy(), expression=spine_max))
    lookback = request.view.max_window or request.view.ttl
    if lookback:
        spine_min = exp.select(exp.Min(this=instant.copy())).from_(ident(bounds)).subquery()
        conditions.append(exp.GTE(this=event_ts.copy(), expression=dialect.subtract(spine_min, lookback)))
    return projection.where(and_(*conditions))


def _within_ttl(request: ViewRequest, alias: str, instant: exp.Expression, dialect: Dialect) -> exp.Expression | None:
    if not request.view.ttl:
        return None
    return exp.GTE(this=col(EVENT_TS, alias), expression=dialect.subtract(instant.copy(), request.view.ttl))


def _asof(
    query: exp.Select, plan: RetrievalPlan, instant: exp.Expression, dialect: Dialect, repo_path: Path
) -> tuple[exp.Select, list[exp.Expression]]:
    """The spine ASOF LEFT JOIN each lookup view on its keys and ``t >= event time``; TTL as a CASE.

    An ASOF probe per spine row is cheap, so duplicate spine rows are not collapsed first.
    Aggregated views take the keyed path of the window strategy and are LEFT JOINed alongside.
    """
    lookups = [r for r in plan.views if not r.aggregations]
    aggregated = [r for r in plan.views if r.aggregations]
    query, keyed = _keyed_results(query, aggregated, instant, dialect, repo_path)
    features: dict[str, exp.Expression] = {}
    query = query.from_(ident(SPINE))
    for request in lookups:
        source_cte = f"{request.name}__source"
        query = query.with_(ident(source_cte), as_=_source_cte(request, SPINE, instant, dialect, repo_path))
        if request.view.source.created_timestamp_column:
            # ASOF breaks ties on equal event times arbitrarily: keep only the newest created row.
            partition = [col(k) for k in request.join_keys] + [col(EVENT_TS)]
            latest = exp.select(exp.Star()).from_(ident(source_cte)).qualify(
                first_row(partition, newest_first(col(CREATED_TS), None))
            )
            source_cte = f"{request.name}__latest"
            query = query.with_(ident(source_cte), as_=latest)
        alias = request.name
        on = and_(
            *keys_equal(request.join_keys, SPINE, alias), exp.GTE(this=instant.copy(), expression=col(EVENT_TS, alias))
        )
        query = query.join(aliased(exp.to_table(ident(source_cte)), alias), on=on, join_type="ASOF LEFT")
        fresh = _within_ttl(request, alias, instant, dialect)
        for output in request.output_names:
            value: exp.Expression = col(output, alias)
            if fresh is not None:
                value = exp.Case(ifs=[exp.If(this=fresh.copy(), true=value)])
            features[output] = value
    query, joined = _join_results(query, keyed, instant)
    features.update(joined)
    return query, [exp.alias_(features[name], name, quoted=True) for name in plan.output_names]


def _window(
    query: exp.Select, plan: RetrievalPlan, instant: exp.Expression, dialect: Dialect, repo_path: Path
) -> tuple[exp.Select, list[exp.Expression]]:
    """Every view on the keyed path, then a LEFT JOIN of each result back to every spine row."""
    query, keyed = _keyed_results(query, list(plan.views), instant, dialect, repo_path)
    query, features = _join_results(query.from_(ident(SPINE)), keyed, instant)
    return query, [exp.alias_(features[name], name, quoted=True) for name in plan.output_names]


# (result CTE, its join keys, {output name: value expression over the CTE})
Keyed = list[tuple[str, tuple[str, ...], dict[str, exp.Expression]]]


def _keyed_results(
    query: exp.Select, requests: list[ViewRequest], instant: exp.Expression, dialect: Dialect, repo_path: Path
) -> tuple[exp.Select, Keyed]:
    """Distinct (keys, instant) per join-key group (duplicate spine rows collapsed), then per view
    either the newest row in [t - ttl, t] (a range join + ROW_NUMBER) or its window aggregates."""
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
            source = _source_cte(request, keys_cte, col(SPINE_TS), dialect, repo_path)
            query = query.with_(ident(f"{request.name}__source"), as_=source)
            if request.aggregations:
                for cte, select, outputs in aggregate_ctes(keys, keys_cte, request, dialect):
                    query = query.with_(ident(cte), as_=select)
                    results.append((cte, keys, outputs))
            else:
                result_cte = f"{request.name}__pit"
                query = query.with_(ident(result_cte), as_=_newest_in_range(keys, keys_cte, request, dialect))
                results.append((result_cte, keys, {name: col(name, result_cte) for name in request.output_names}))
    return query, results


def _join_results(query: exp.Select, results: Keyed, instant: exp.Expression):
    features: dict[str, exp.Expression] = {}
    for cte, keys, outputs in results:
        condition = and_(*keys_equal(keys, SPINE, cte), exp.EQ(this=instant.copy(), expression=col(SPINE_TS, cte)))
        query = query.join(exp.to_table(ident(cte)), on=condition, join_type="LEFT")
        features.update(outputs)
    return query, features


def _newest_in_range(keys: tuple[str, ...], keys_cte: str, request: ViewRequest, dialect: Dialect) -> exp.Select:
    """Range join on [t - ttl, t] and keep the newest row per spine key: no ASOF needed."""
    alias = "s"
    conditions = [
        *keys_equal(keys, keys_cte, alias),
        exp.LTE(this=col(EVENT_TS, alias), expression=col(SPINE_TS, keys_cte)),
    ]
    fresh = _within_ttl(request, alias, col(SPINE_TS, keys_cte), dialect)
    if fresh is not None:
        conditions.append(fresh)
    created = col(CREATED_TS, alias) if request.view.source.created_timestamp_column else None
    newest = first_row(
        [col(k, keys_cte) for k in keys] + [col(SPINE_TS, keys_cte)], newest_first(col(EVENT_TS, alias), created)
    )
    return (
        exp.select(*[col(k, keys_cte) for k in keys], col(SPINE_TS, keys_cte))
        .select(*[col(output, alias) for output in request.output_names])
        .from_(ident(keys_cte))
        .join(aliased(exp.to_table(ident(f"{request.name}__source")), alias), on=and_(*conditions))
        .qualify(newest)
    )
