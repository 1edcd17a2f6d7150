"""The leakage check: the point-in-time guarantee, proved on the live SQL.

For each view it picks the most active entities of the source, reads their raw rows, and builds a
spine at, just before and just after their real event times (and at the TTL and window edges). The
spine goes through the real compiled SQL (the same ``build_job`` as ``get_historical_features``,
once per strategy the warehouse has); each returned value is then checked in Python against the
raw rows: it must be the value rule 1 (or rule 5 for a windowed aggregate) gives from rows with
event time <= the row's time. A value that only a later row holds is reported as a leak.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from sqlfeat.checks.results import FAIL, PASS, WARN, CheckResult
from sqlfeat.checks.compile import strategies_of as compile_strategies
from sqlfeat.checks.compile import view_features
from sqlfeat.compiler.sql import aliased, and_, col
from sqlfeat.errors import SqlfeatError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from sqlfeat.checks.definitions import CheckedViews
    from sqlfeat.compiler import ViewRequest
    from sqlfeat.definitions import FeatureView
    from sqlfeat.store import FeatureStore

SRC = "src"
ROW_LIMIT = 20_000
TIMES_PER_ENTITY = 8
MICRO = 1  # instants are integer microseconds since the epoch, UTC: fast to compare


@dataclass
class Row:
    ts: int
    created: int | None
    values: tuple


def _micros(delta: timedelta) -> int:
    return delta // timedelta(microseconds=1)


def check(checked: CheckedViews, store: FeatureStore, entities: int) -> list[CheckResult]:
    results = []
    for view in checked.views.values():
        started = time.perf_counter()
        try:
            result = _check_view(view, checked, store, entities)
        except SqlfeatError as err:
            message = f"feature view {view.name!r}: the leakage check could not run: {err}"
            result = CheckResult("leakage", FAIL, message)
        result.view, result.execution_time = view.name, time.perf_counter() - started
        results.append(result)
    return results


def _check_view(view: FeatureView, checked: CheckedViews, store: FeatureStore, sample: int) -> CheckResult:
    from sqlfeat.compiler import plan_retrieval
    from sqlfeat.retrieval import build_job

    plan = plan_retrieval(view_features(view, checked.entities), {view.name: view}, checked.entities)
    request = plan.views[0]
    rows, key_types, truncated = _read_rows(request, store, sample)
    if not rows:
        return CheckResult("leakage", WARN, "skipped: the source has no rows with join keys to sample", skipped=True)
    spine, expected = _spine(request, rows, key_types, truncated)
    strategies = compile_strategies(store.offline_store.dialect)
    problems: list[tuple[str, str]] = []
    for strategy in strategies:
        job = build_job(plan, spine.copy(), store.offline_store, store.repo_path, checked.columns, strategy)
        returned = job.to_arrow()
        problems += _compare(request, returned, spine, rows, expected, strategy)
    if problems:
        shown = "; ".join(text for _, text in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        return CheckResult("leakage", FAIL, f"feature view {view.name!r}: {shown}{more}", column=problems[0][0])
    message = (
        f"{len(spine)} spine rows around the event times of {len(rows)} entities, {len(request.output_names)} "
        f"features, strategy {' and '.join(strategies)}: every value comes from rows at or before its row's time"
    )
    return CheckResult("leakage", PASS, message, data={"spine_rows": len(spine)})


def _value_columns(request: ViewRequest) -> list[str]:
    """The source columns the check reads back: each feature's, or each aggregated column once."""
    source = request.view.source
    if request.aggregations:
        return list(dict.fromkeys(source.source_column(a.column) for a in request.aggregations))
    return [source.source_column(f.name) for f in request.features]


def _read_rows(request: ViewRequest, store: FeatureStore, sample: int) -> tuple[dict[tuple, list[Row]], list, bool]:
    """The ``sample`` entities with most rows, and their rows (newest first, at most ROW_LIMIT)."""
    offline = store.offline_store
    dialect = offline.dialect
    source = request.view.source
    relation = aliased(dialect.source_relation(source, store.repo_path), SRC)
    keys = [col(source.source_column(k), SRC) for k in request.join_keys]
    present = and_(*[exp.Not(this=exp.Is(this=k.copy(), expression=exp.Null())) for k in keys])
    count = exp.Count(this=exp.Star())
    busiest = (
        exp.select(*[k.copy() for k in keys], exp.alias_(count, "n", quoted=True))
        .from_(relation.copy()).where(present.copy()).group_by(*[k.copy() for k in keys])
        .order_by(exp.Ordered(this=col("n"), desc=True), *[k.copy() for k in keys]).limit(sample)
    )
    chosen = offline.fetch_arrow(dialect.render(busiest, pretty=False))
    if chosen.num_rows == 0:
        return {}, [], False
    key_types = [chosen.schema.field(i).type for i in range(len(keys))]
    picks = [tuple(chosen.column(i)[r].as_py() for i in range(len(keys))) for r in range(chosen.num_rows)]
    matches = [and_(*[exp.EQ(this=k.copy(), expression=exp.convert(v)) for k, v in zip(keys, pick)]) for pick in picks]
    stamps = [source.event_time_column, *([source.created_time_column] if source.created_time_column else [])]
    query = (
        exp.select(*[k.copy() for k in keys], *[col(c, SRC) for c in stamps], *[col(c, SRC) for c in _value_columns(request)])
        .from_(relation).where(exp.or_(*matches) if len(matches) > 1 else matches[0])
        .order_by(exp.Ordered(this=col(source.event_time_column, SRC), desc=True)).limit(ROW_LIMIT)
    )
    table = offline.fetch_arrow(dialect.render(query, pretty=False))
    width = len(keys)
    times = [_instants(table.column(width + i)) for i in range(len(stamps))]
    values = _values(request, table, width + len(stamps))
    rows: dict[tuple, list[Row]] = defaultdict(list)
    for r in range(table.num_rows):
        if times[0][r] is None:
            continue
        key = tuple(table.column(i)[r].as_py() for i in range(width))
        created = times[1][r] if len(times) > 1 else None
        rows[key].append(Row(times[0][r], created, tuple(v[r] for v in values)))
    return dict(rows), key_types, table.num_rows >= ROW_LIMIT


def _instants(column: pa.ChunkedArray) -> list[int | None]:
    """Microseconds since the epoch, UTC (naive values read as UTC)."""
    import pandas as pd

    series = pd.Series(column.to_pandas())
    if not isinstance(series.dtype, pd.DatetimeTZDtype):
        series = pd.to_datetime(series, utc=True)
    # Rounded up: at whole-microsecond spine times this is the exact contract (an event 400ns after t
    # is after t), whatever precision the source keeps.
    micros = series.dt.tz_convert("UTC").dt.ceil("us").astype("datetime64[us, UTC]").astype("int64")
    return [None if missing else int(v) for v, missing in zip(micros, series.isna())]


def _values(request: ViewRequest, table: pa.Table, start: int) -> list[list]:
    """Source values as the SQL returns them: cast to each feature's dtype (raw for aggregates)."""
    import pyarrow as pa

    columns = []
    for offset in range(len(_value_columns(request))):
        column = table.column(start + offset)
        if not request.aggregations:
            try:
                column = column.cast(request.features[offset].dtype.to_arrow(), safe=False)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                pass
        columns.append(column.to_pylist())
    return columns


def _spine(
    request: ViewRequest, rows: dict[tuple, list[Row]], key_types: list, truncated: bool
) -> tuple[pd.DataFrame, list[tuple]]:
    """Spine rows at, before and after each entity's newest event times, and the TTL / window
    edges; with a truncated read, only times whose answer lies in the rows read."""
    import pandas as pd
    import pyarrow as pa

    cutoff = min(r.ts for entity in rows.values() for r in entity) if truncated else None
    edges = [0, -MICRO, MICRO]
    if request.aggregations:
        edges += [e for a in request.aggregations for e in (_micros(a.time_window) - MICRO, _micros(a.time_window))]
    elif request.view.ttl:
        edges += [_micros(request.view.ttl), _micros(request.view.ttl) + MICRO]
    widest = max((_micros(a.time_window) for a in request.aggregations), default=None)
    points: dict[tuple, None] = {}
    for key, entity in rows.items():
        newest = sorted({r.ts for r in entity}, reverse=True)[:TIMES_PER_ENTITY]
        if not truncated:
            newest.append(min(r.ts for r in entity) - MICRO)
        for ts in newest:
            for edge in edges:
                t = ts + edge
                if cutoff is not None and not _complete(request, entity, t, cutoff, widest):
                    continue
                points[(key, t)] = None
    chosen = list(points)
    columns = {
        name: pa.array([k[i] for k, _ in chosen], type=key_types[i]).to_pandas()
        for i, name in enumerate(request.join_keys)
    }
    columns[_spine_time(request)] = pd.to_datetime([t for _, t in chosen], unit="us", utc=True)
    return pd.DataFrame(columns), chosen


def _spine_time(request: ViewRequest) -> str:
    taken = {*request.join_keys, *request.output_names}
    return "event_timestamp" if "event_timestamp" not in taken else "__check_spine_time"


def _complete(request: ViewRequest, entity: list[Row], t: int, cutoff: int, widest: int | None) -> bool:
    """True when every row deciding the answer at t was read (all rows after ``cutoff`` were)."""
    if widest is not None:
        return t - widest >= cutoff
    candidates = [r.ts for r in _candidates(request, entity, t)]
    return bool(candidates) and max(candidates) > cutoff


def _candidates(request: ViewRequest, entity: list[Row], t: int) -> list[Row]:
    if request.view.ttl is None:
        return [r for r in entity if r.ts <= t]
    oldest = t - _micros(request.view.ttl)
    return [r for r in entity if oldest <= r.ts <= t]


def _newest(rows: list[Row]) -> list[Row]:
    """The rows tied for newest (event time, then created time, null created last)."""
    if not rows:
        return []
    rank = lambda r: (r.ts, r.created is not None, r.created or 0)
    best = max(rank(r) for r in rows)
    return [r for r in rows if rank(r) == best]


def _compare(
    request: ViewRequest, returned: pa.Table, spine: pd.DataFrame, rows: dict, points: list[tuple], strategy: str
) -> list[tuple[str, str]]:
    import pandas as pd

    problems = []
    got = [returned.column(output).to_pylist() for output in request.output_names]
    sources = _value_columns(request)
    columns = [sources.index(request.view.source.source_column(a.column)) for a in request.aggregations]
    for i, (key, t) in enumerate(points):
        entity = rows[key]
        winners = None if request.aggregations else _newest(_candidates(request, entity, t))
        for j, feature in enumerate(request.features):
            value = got[j][i]
            if request.aggregations:
                aggregation = request.aggregations[j]
                allowed = _aggregate(aggregation, entity, t, columns[j])
                leaked = _aggregate(aggregation, entity, t, columns[j], future=True)[0]
            else:
                allowed = [r.values[j] for r in winners] or [None]
                later = value is not None and any(r.ts > t and _same(r.values[j], value) for r in entity)
                leaked = value if later else _NOTHING
            if any(_same(value, a) for a in allowed):
                continue
            when = pd.Timestamp(t, unit="us", tz="UTC")
            at = f"{_keys(request, key)} at {when:%Y-%m-%d %H:%M:%S.%f} UTC (strategy {strategy})"
            if _same(value, leaked):
                text = (f"feature {feature.name!r} for {at} returned {value!r}, which uses rows with event time "
                        "after the row's time: the point-in-time join leaks future data")
            else:
                text = f"feature {feature.name!r} for {at} returned {value!r}; the rows at or before it give {allowed[0]!r}"
            problems.append((feature.name, text))
    return problems


_NOTHING = object()


def _keys(request: ViewRequest, key: tuple) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in zip(request.join_keys, key))


def _aggregate(aggregation: Any, entity: list[Row], t: int, column: int, future: bool = False) -> list:
    """Rule 5 in Python: the acceptable results over ``t - window < event time <= t`` (several
    only for ``last`` with tied rows; ``future``: no upper bound on event time)."""
    start = t - _micros(aggregation.time_window)
    rows = [r for r in entity if r.ts > start and (future or r.ts <= t)]
    values = [r.values[column] for r in rows if r.values[column] is not None]
    function = aggregation.function
    if function == "count":
        return [len(values)]
    if function == "count_distinct":
        return [len(set(values))]
    if function == "last":
        return [r.values[column] for r in _newest(rows)] or [None]
    if not values:
        return [None]
    if function == "stddev":
        return [statistics.stdev(values) if len(values) > 1 else None]
    return [{"sum": sum, "mean": statistics.fmean, "min": min, "max": max}[function](values)]


def _same(a: Any, b: Any) -> bool:
    if a is _NOTHING or b is _NOTHING:
        return False
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        try:
            x, y = float(a), float(b)
        except (TypeError, ValueError):
            return False
        return (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-9)
    return a == b
