"""The point-in-time join, once, as a sqlglot AST (contract: rules 1-4 of docs/concepts.md).

Shape of the query, for views grouped by the join keys they share::

    spine                     the entity rows as given
    spine_keys__<keys>        DISTINCT (join keys, spine time as UTC instant): duplicates collapsed
    <view>__source            the view's columns renamed, cast to declared dtypes, pruned to the
                              spine's time range (and TTL), rows without keys or event time dropped
    then, by strategy:
      asof:   <view>__latest  one row per (keys, event time): the greatest created timestamp
              <keys>__asof    spine_keys ASOF LEFT JOIN every view of the group; TTL as a CASE
      window: <view>__pit     spine_keys JOIN source on keys, event time in [t - ttl, t],
                              ROW_NUMBER() by (event time, created time) DESC, QUALIFY = 1
    final                     spine LEFT JOIN each result on (keys, instant): duplicates expanded
"""

from __future__ import annotations

from pathlib import Path

from sqlglot import exp

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
    spine_relation = (
        dialect.query(spine.relation) if spine.is_query else exp.select(exp.Star()).from_(dialect.table(spine.relation))
    )
    query = exp.select().with_(ident(SPINE), as_=spine_relation)
    spine_instant = dialect.to_instant(col(spine.timestamp_column, SPINE))

    groups: dict[tuple[str, ...], list[ViewRequest]] = {}
    for request in plan.views:
        groups.setdefault(request.join_keys, []).append(request)

    results: list[tuple[str, tuple[str, ...], list[str]]] = []  # (cte, keys, output columns)
    for keys, requests in groups.items():
        keys_cte = f"spine_keys__{_group_name(keys)}"
        distinct_keys = (
            exp.select(*[col(k, SPINE) for k in keys], exp.alias_(spine_instant.copy(), SPINE_TS, quoted=True))
            .distinct()
            .from_(ident(SPINE))
        )
        query = query.with_(ident(keys_cte), as_=distinct_keys)
        for request in requests:
            query = query.with_(
                ident(f"{request.name}__source"), as_=_source_cte(request, keys_cte, dialect, repo_path, chosen)
            )
        if chosen == "asof":
            query, result = _asof_ctes(query, keys, keys_cte, requests, dialect)
            results.append(result)
        else:
            for request in requests:
                query, result = _window_cte(query, keys, keys_cte, request, dialect)
                results.append(result)

    projection: list[exp.Expression] = [col(spine.row_id, SPINE)] if spine.row_id else [exp.Column(this=exp.Star(), table=ident(SPINE))]
    query = query.select(*projection).from_(ident(SPINE))
    for cte, keys, outputs in results:
        condition = and_(
            *keys_equal(keys, SPINE, cte), exp.EQ(this=spine_instant.copy(), expression=col(SPINE_TS, cte))
        )
        query = query.join(exp.to_table(ident(cte)), on=condition, join_type="LEFT")
    by_name = {name: cte for cte, _, outputs in results for name in outputs}
    query = query.select(*[exp.alias_(col(name, by_name[name]), name, quoted=True) for name in plan.output_names])
    if spine.row_id:
        query = query.order_by(col(spine.row_id, SPINE))
    return query


def _source_cte(
    request: ViewRequest, keys_cte: str, dialect: Dialect, repo_path: Path, strategy: str
) -> exp.Select:
    """The view's source rows pruned to the spine's time range (and TTL) before any join."""
    projection, event_ts, conditions = source_projection(request, dialect, repo_path)
    spine_max = exp.select(exp.Max(this=col(SPINE_TS))).from_(ident(keys_cte)).subquery()
    conditions.append(exp.LTE(this=event_ts.copy(), expression=spine_max))
    if request.view.ttl:
        spine_min = exp.select(exp.Min(this=col(SPINE_TS))).from_(ident(keys_cte)).subquery()
        conditions.append(exp.GTE(this=event_ts.copy(), expression=dialect.subtract(spine_min, request.view.ttl)))
    return projection.where(and_(*conditions))


def _within_ttl(request: ViewRequest, alias: str, keys_alias: str, dialect: Dialect) -> exp.Expression | None:
    if not request.view.ttl:
        return None
    return exp.GTE(
        this=col(EVENT_TS, alias), expression=dialect.subtract(col(SPINE_TS, keys_alias), request.view.ttl)
    )


def _asof_ctes(
    query: exp.Select, keys: tuple[str, ...], keys_cte: str, requests: list[ViewRequest], dialect: Dialect
) -> tuple[exp.Select, tuple[str, tuple[str, ...], list[str]]]:
    """One ASOF LEFT JOIN per view, chained on the group's distinct keys; ties deduped first."""
    result_cte = f"{_group_name(keys)}__asof"
    joined = exp.select(*[col(k, keys_cte) for k in keys], col(SPINE_TS, keys_cte)).from_(ident(keys_cte))
    outputs: list[str] = []
    for request in requests:
        source_cte = f"{request.name}__source"
        if request.view.source.created_timestamp_column:
            # ASOF breaks ties on equal event times arbitrarily: keep only the newest created row.
            latest = (
                exp.select(exp.Star())
                .from_(ident(source_cte))
                .qualify(first_row([col(k) for k in keys] + [col(EVENT_TS)], newest_first(col(CREATED_TS), None)))
            )
            source_cte = f"{request.name}__latest"
            query = query.with_(ident(source_cte), as_=latest)
        alias = request.name
        on = and_(
            *keys_equal(keys, keys_cte, alias),
            exp.GTE(this=col(SPINE_TS, keys_cte), expression=col(EVENT_TS, alias)),
        )
        joined = joined.join(
            aliased(exp.to_table(ident(source_cte)), alias), on=on, join_type="ASOF LEFT"
        )
        fresh = _within_ttl(request, alias, keys_cte, dialect)
        for output in request.output_names:
            value: exp.Expression = col(output, alias)
            if fresh is not None:
                value = exp.Case(ifs=[exp.If(this=fresh.copy(), true=value)])
            joined = joined.select(exp.alias_(value, output, quoted=True))
            outputs.append(output)
    return query.with_(ident(result_cte), as_=joined), (result_cte, keys, outputs)


def _window_cte(
    query: exp.Select, keys: tuple[str, ...], keys_cte: str, request: ViewRequest, dialect: Dialect
) -> tuple[exp.Select, tuple[str, tuple[str, ...], list[str]]]:
    """Range join on [t - ttl, t] and keep the newest row per spine key: no ASOF needed."""
    result_cte = f"{request.name}__pit"
    alias = "s"
    conditions = [
        *keys_equal(keys, keys_cte, alias),
        exp.LTE(this=col(EVENT_TS, alias), expression=col(SPINE_TS, keys_cte)),
    ]
    fresh = _within_ttl(request, alias, keys_cte, dialect)
    if fresh is not None:
        conditions.append(fresh)
    created = col(CREATED_TS, alias) if request.view.source.created_timestamp_column else None
    newest = first_row(
        [col(k, keys_cte) for k in keys] + [col(SPINE_TS, keys_cte)], newest_first(col(EVENT_TS, alias), created)
    )
    pit = (
        exp.select(*[col(k, keys_cte) for k in keys], col(SPINE_TS, keys_cte))
        .select(*[col(output, alias) for output in request.output_names])
        .from_(ident(keys_cte))
        .join(
            aliased(exp.to_table(ident(f"{request.name}__source")), alias),
            on=and_(*conditions),
        )
        .qualify(newest)
    )
    return query.with_(ident(result_cte), as_=pit), (result_cte, keys, list(request.output_names))

