"""Which point-in-time strategy each view gets, and why (what ``sqlfeat compile --explain`` prints).

Strategies for a lookup view (rule 1: the newest row at or before t, within the TTL):

    asof     ASOF LEFT JOIN from the spine (engines that have it: DuckDB). Sorts both sides once;
             the created-timestamp tie-break needs the source deduplicated first.
    carry    UNION ALL of the spine's (keys, t) and the source rows, one sort per (keys, time), a
             running MAX of a source row number carried forward to each spine row, joined back:
             O(n log n) in total rows on any engine with window functions.
    window   a range join on keys and [t - ttl, t], then ROW_NUMBER keeps the newest: cost per key
             = spine rows x source rows inside the TTL; the cheapest at low density.
    lateral  per spine row, an index probe ``ORDER BY event time DESC LIMIT 1`` (PostgreSQL); the
             cheapest for small spines over a source indexed on (keys, event time).

An aggregated view (rule 5) takes ``window`` (one range join over its widest window), ``carry``
(sliding RANGE windows over the union for count/sum/mean/min/max, carry-forward for ``last``,
the range join for count_distinct and stddev, which no engine slides exactly) or, on engines
with ASOF JOIN, ``asof`` (count/sum/mean from running totals probed at t and t - w, the rest as
under carry); under ``lateral`` it takes ``carry``.

``auto`` estimates each candidate's cost from the spine's size and the source's size, keys and time
span (``SourceStats``, read cheaply and cached per source version by the caller) and picks the
cheapest; without statistics (compiling with no connection) it picks the strategy that is never
quadratic: ``asof`` where the engine has it, else ``carry``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlfeat.compiler.prefix import PREFIX
from sqlfeat.errors import UsageError

if TYPE_CHECKING:
    from sqlfeat.compiler.plan import RetrievalPlan, ViewRequest
    from sqlfeat.warehouses.base import Dialect

STRATEGIES = ("asof", "carry", "window", "lateral")
REQUESTS = ("auto", *STRATEGIES)


@dataclass(frozen=True)
class SourceStats:
    """Cheap facts about a view's source (its rows inside the spine's time range, as far as known)."""

    rows: int
    keys: int
    span: timedelta | None = None  # newest minus oldest event time
    ties: bool = True  # some (keys, event time) occur twice: ASOF needs the created-time dedupe
    indexed: bool = False  # an index leads with (keys, event time): probes cost log(rows), not rows

    @property
    def rows_per_key(self) -> float:
        return self.rows / max(self.keys, 1)


@dataclass(frozen=True)
class Choice:
    strategy: str
    reason: str


def _check(requested: str, dialect: Dialect, view: str) -> str:
    if requested not in REQUESTS:
        raise UsageError(f"strategy must be one of {', '.join(REQUESTS)}, got {requested!r}")
    if requested == "asof" and not dialect.SUPPORTS_ASOF_JOIN:
        raise UsageError(f"{dialect.NAME} has no ASOF JOIN; use strategy='carry' (or 'window', 'auto')")
    if requested == "lateral" and not dialect.SUPPORTS_LATERAL:
        raise UsageError(f"{dialect.NAME} has no LATERAL join sqlfeat uses; use strategy='carry' (or 'window', 'auto')")
    return requested


def choose_strategies(
    plan: RetrievalPlan,
    dialect: Dialect,
    requested: str | Mapping[str, str] = "auto",
    spine_rows: int | None = None,
    stats: Mapping[str, SourceStats] | None = None,
) -> dict[str, Choice]:
    """One ``Choice`` per view of ``plan``; ``requested`` is one strategy for all, or per view."""
    choices = {}
    for request in plan.views:
        # per view: by the name the request uses (a projection's alias), else the view's own
        wanted = (
            requested.get(request.name, requested.get(request.view.name, "auto"))
            if isinstance(requested, Mapping) else requested
        )  # fmt: skip
        wanted = _check(wanted, dialect, request.name)
        source = (stats or {}).get(request.name)
        if wanted == "auto":
            choice = _auto(request, dialect, spine_rows, source)
        else:
            choice = Choice(wanted, "forced")
        if request.aggregations and choice.strategy == "lateral":
            choice = Choice("carry", "lateral joins look up one row; aggregates slide windows instead")
        choices[request.name] = choice
    return choices


def _auto(request: ViewRequest, dialect: Dialect, spine_rows: int | None, stats: SourceStats | None) -> Choice:
    never_quadratic = "asof" if dialect.SUPPORTS_ASOF_JOIN else "carry"
    if stats is None or spine_rows is None:
        return Choice(never_quadratic, "no statistics: the strategy whose cost never grows with rows per key squared")
    lookback = (request.view.max_window if request.aggregations else request.view.ttl) or stats.span
    share = 1.0 if not stats.span or not lookback else min(1.0, lookback / stats.span)
    in_window = stats.rows_per_key * share
    spine_per_key = spine_rows / max(stats.keys, 1)
    costs = estimate_costs(dialect, request, spine_rows, stats, in_window)
    best = min(costs, key=costs.get)
    detail = ", ".join(f"{name} {cost:.3g}" for name, cost in sorted(costs.items(), key=lambda kv: kv[1]))
    if stats.indexed:
        detail += " (the source is indexed on keys and event time)"
    reason = (
        f"{stats.rows:,} source rows over {stats.keys:,} keys, ~{in_window:,.0f} per key inside the "
        f"{'window' if request.aggregations else 'TTL'}, {spine_rows:,} spine rows (~{spine_per_key:,.1f} per key); "
        f"estimated seconds: {detail}"
    )
    return Choice(best, reason)


def estimate_costs(
    dialect: Dialect, request: ViewRequest, spine_rows: int, stats: SourceStats, in_window: float
) -> dict[str, float]:
    """Estimated seconds of each strategy the engine can run for this view: units of work times
    the engine's seconds per unit (``Dialect.COSTS``, measured on this machine kind by
    benchmarks/density.py; only their ratios matter)."""
    weights = dict(dialect.COSTS)
    if request.aggregations:  # windows of aggregates cost more per row than one newest row
        weights.update(window=weights["window_aggregates"], carry=weights["carry_aggregates"])
    total = stats.rows + spine_rows
    log = math.log2(max(total, 2))
    probe = math.log2(max(stats.rows, 2))
    # every spine row paired with every source row of its key inside the lookback: reached by
    # hashing the whole source, or by an index probe per spine row when there is an index and
    # that is cheaper (the engine's planner picks the cheaper; at low density a hash join wins)
    reach = min(spine_rows * probe, stats.rows + spine_rows) if stats.indexed else stats.rows
    # every strategy but asof works on the spine's distinct (keys, t) and joins its result back
    back = weights["keyed"] * spine_rows
    costs = {
        "window": weights["window"] * (reach + spine_rows * max(in_window, 1.0)) + back,
        # two sorts of (source + spine) and a hash join back
        "carry": weights["carry"] * total * log + back,
    }
    if dialect.SUPPORTS_ASOF_JOIN and request.aggregations:
        costs["asof"] = _prefix_cost(request, weights, costs["carry"] - back, total * log) + back
    if dialect.SUPPORTS_ASOF_JOIN and not request.aggregations:
        dedupe = stats.rows * log if request.view.source.created_timestamp_column and stats.ties else 0.0
        costs["asof"] = weights["asof"] * (total * log + dedupe)
    if dialect.SUPPORTS_LATERAL and not request.aggregations:
        # one index probe per spine row; without an index, a scan of the source per spine row
        costs["lateral"] = weights["lateral"] * spine_rows * (probe if stats.indexed else max(stats.rows, 1)) + back
    return costs


def _prefix_cost(request: ViewRequest, weights: dict[str, float], carry: float, sort: float) -> float:
    """Prefix sums: one sort of the events and an ASOF probe per spine key at t and at t - w per
    window (each a sort of both sides); aggregates they cannot give slide as under carry."""
    windows = {a.time_window for a in request.aggregations if a.function in PREFIX}
    cost = weights["asof_aggregates"] * sort * (1 + len(windows)) if windows else 0.0
    if any(a.function not in PREFIX for a in request.aggregations):
        cost += carry
    return cost


def explain(plan: RetrievalPlan, choices: Mapping[str, Choice]) -> str:
    """One line per view: the strategy and why."""
    lines = []
    for request in plan.views:
        choice = choices[request.name]
        kind = "aggregates" if request.aggregations else "lookup"
        lines.append(f"-- {request.name} ({kind}): {choice.strategy}: {choice.reason}")
    return "\n".join(lines)
