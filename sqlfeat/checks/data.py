"""Data checks against the configured warehouse, per view: keys and event times not null, no
duplicate (keys, event time, created time) rows, no event times in the future, naive (zone-less)
timestamp columns flagged (a local time read as UTC shifts every window), and source freshness (``freshness_warn_after`` /
``freshness_error_after``).

Every query is a sqlglot expression over the source relation the compiler reads (identifiers
quoted, values as typed literals), rendered for the store's dialect and run with ``fetch_arrow``,
so the checks run unchanged on every warehouse.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from sqlfeat.checks.results import FAIL, PASS, WARN, CheckResult
from sqlfeat.compiler.sql import aliased, and_, col
from sqlfeat.errors import SqlfeatError
from sqlfeat.types import is_naive_timestamp

if TYPE_CHECKING:
    from sqlfeat.checks.definitions import CheckedViews
    from sqlfeat.definitions import FeatureView
    from sqlfeat.store import FeatureStore
    from sqlfeat.warehouses.base import Dialect

SRC = "src"
# Event times up to this far ahead of the checking machine's clock are clock skew, not the future.
CLOCK_SKEW = timedelta(minutes=5)


def check(checked: CheckedViews, store: FeatureStore, now: datetime) -> list[CheckResult]:
    results: list[CheckResult] = []
    for view in checked.views.values():
        started = time.perf_counter()
        keys = {k: view.source.source_column(k) for n in view.entities for k in checked.entities[n].join_keys}
        found = timestamp_zones(view, checked.columns.get(view.source.name, {}))
        try:
            found += _profile_checks(view, keys, store, now)
            found.append(_duplicates_check(view, keys, store))
        except SqlfeatError as err:
            message = f"feature view {view.name!r}: data checks could not run on source {view.source.name!r}: {err}"
            found.append(CheckResult("data", FAIL, message, view=view.name))
        elapsed = (time.perf_counter() - started) / max(len(found), 1)
        for result in found:
            result.view, result.execution_time = view.name, elapsed
        results.extend(found)
    return results


def timestamp_zones(view: FeatureView, columns: dict[str, exp.DataType]) -> list[CheckResult]:
    """A warn per event/created timestamp column stored without a time zone."""
    results = []
    source = view.source
    for role, column in (("timestamp_field", source.event_time_column), ("created_timestamp_column", source.created_time_column)):
        if not column or column not in columns:
            continue
        kind = columns[column].this.name
        if is_naive_timestamp(columns[column]):
            message = (
                f"feature view {view.name!r}: {role} {column!r} of source {source.name!r} is {kind}, a timestamp "
                "without time zone; sqlfeat reads it as UTC, so local times would shift every window. Store "
                "it as a zone-aware timestamp (or in UTC)"
            )
            results.append(CheckResult("timestamps_utc", WARN, message, column=column))
        else:
            results.append(CheckResult("timestamps_utc", PASS, f"{column!r} is zone-aware ({kind})", column=column))
    return results


def _relation(view: FeatureView, dialect: Dialect, repo_path: Any) -> exp.Expression:
    return aliased(dialect.source_relation(view.source, repo_path), SRC)


def _nulls(column: str) -> exp.Expression:
    return exp.Sub(this=exp.Count(this=exp.Star()), expression=exp.Count(this=col(column, SRC)))


def _profile_checks(view: FeatureView, keys: dict[str, str], store: FeatureStore, now: datetime) -> list[CheckResult]:
    """One query: row count, nulls per key and event time, newest event, rows in the future."""
    dialect = store.offline_store.dialect
    source = view.source
    stamps = [c for c in (source.event_time_column, source.created_time_column) if c]
    event = dialect.to_instant(col(source.event_time_column, SRC))
    future = [
        exp.Sum(this=exp.Case(
            ifs=[exp.If(this=exp.GT(this=dialect.to_instant(col(c, SRC)), expression=dialect.instant_literal(now + CLOCK_SKEW)),
                        true=exp.Literal.number(1))],
            default=exp.Literal.number(0),
        ))
        for c in stamps
    ]
    query = exp.select(
        exp.Count(this=exp.Star()),
        *[_nulls(c) for c in [*keys.values(), source.event_time_column]],
        exp.Max(this=event),
        *future,
    ).from_(_relation(view, dialect, store.repo_path))
    values = _first_row(store, query)
    rows = int(values[0] or 0)
    null_counts = dict(zip([*keys, source.event_time_column], (int(v or 0) for v in values[1 : len(keys) + 2])))
    newest = _utc(values[len(keys) + 2])
    future_counts = dict(zip(stamps, (int(v or 0) for v in values[len(keys) + 3 :])))
    where = f"of source {source.name!r}"

    problems = []
    for name, count in null_counts.items():
        if count:
            column = keys.get(name, name)
            what = "event timestamp" if name == source.event_time_column else f"join key {name!r}"
            renamed = f" (source column {column!r})" if column != name else ""
            problems.append((column, f"{what}{renamed} is null in {count} of {rows} rows {where}"))
    if problems:
        message = f"feature view {view.name!r}: " + "; ".join(p for _, p in problems) + "; such rows are never joined"
        results = [CheckResult("keys_not_null", FAIL, message, column=problems[0][0])]
    else:
        results = [CheckResult("keys_not_null", PASS, f"join keys and event time set in all {rows} rows")]

    ahead = [(c, n) for c, n in future_counts.items() if n]
    if ahead:
        text = "; ".join(f"{n} rows have {c!r} after now ({now:%Y-%m-%d %H:%M:%S} UTC)" for c, n in ahead)
        results.append(CheckResult("timestamps_not_future", FAIL, f"feature view {view.name!r}: {text} {where}", column=ahead[0][0]))
    else:
        results.append(CheckResult("timestamps_not_future", PASS, "no timestamp after now"))
    results.append(_freshness(view, rows, newest, now))
    return results


def _freshness(view: FeatureView, rows: int, newest: datetime | None, now: datetime) -> CheckResult:
    warn_after, error_after = view.freshness_warn_after, view.freshness_error_after
    column = view.source.event_time_column
    data = {"rows": rows, "newest_event": newest.isoformat() if newest else None, "checked_at": now.isoformat()}
    if newest is None:
        status = FAIL if (warn_after or error_after) else PASS
        return CheckResult("freshness", status, f"feature view {view.name!r}: source {view.source.name!r} has no rows", column=column, data=data)
    age = now - newest
    data["age_seconds"] = age.total_seconds()
    said = f"newest {column!r} is {newest:%Y-%m-%d %H:%M:%S} UTC, {human_duration(age)} old"
    if error_after is not None and age > error_after:
        status, limit = FAIL, f"; error_after is {human_duration(error_after)}"
    elif warn_after is not None and age > warn_after:
        status, limit = WARN, f"; warn_after is {human_duration(warn_after)}"
    elif warn_after or error_after:
        status, limit = PASS, f" (within {human_duration(warn_after or error_after)})"
    else:
        status, limit = PASS, " (no policy: set freshness_warn_after / freshness_error_after)"
    prefix = f"feature view {view.name!r}: " if status != PASS else ""
    return CheckResult("freshness", status, prefix + said + limit, column=column, data=data)


def _duplicates_check(view: FeatureView, keys: dict[str, str], store: FeatureStore) -> CheckResult:
    """Rows sharing (keys, event time, created time): the point-in-time winner is then arbitrary."""
    dialect = store.offline_store.dialect
    source = view.source
    columns = [*keys.values(), source.event_time_column, *([source.created_time_column] if source.created_time_column else [])]
    group = [col(c, SRC) for c in columns]
    copies = exp.Count(this=exp.Star())
    query = (
        exp.select(*[exp.alias_(g.copy(), f"c{i}", quoted=True) for i, g in enumerate(group)])
        .select(exp.alias_(copies.copy(), "copies", quoted=True), exp.Window(this=exp.Count(this=exp.Star())))
        .from_(_relation(view, dialect, store.repo_path))
        .where(and_(*[exp.Not(this=exp.Is(this=col(c, SRC), expression=exp.Null())) for c in keys.values()]))
        .group_by(*group)
        .having(exp.GT(this=copies.copy(), expression=exp.Literal.number(1)))
        .order_by(exp.Ordered(this=col("copies"), desc=True))
        .limit(3)
    )
    table = store.offline_store.fetch_arrow(dialect.render(query, pretty=False))
    if table.num_rows == 0:
        return CheckResult("unique_rows", PASS, f"one row per ({', '.join(columns)})")
    rows = [list(r.values()) for r in table.to_pylist()]
    groups = int(rows[0][-1])
    example = ", ".join(f"{c}={v}" for c, v in zip(columns, rows[0]))
    message = (
        f"feature view {view.name!r}: {groups} ({', '.join(columns)}) combinations of source {source.name!r} appear "
        f"more than once, e.g. {example} ({int(rows[0][-2])} rows); the point-in-time join would pick one "
        "arbitrarily" + ("" if source.created_time_column else ": set created_timestamp_column to order them")
    )
    return CheckResult("unique_rows", FAIL, message, column=source.event_time_column)


def _first_row(store: FeatureStore, query: exp.Select) -> list[Any]:
    table = store.offline_store.fetch_arrow(store.offline_store.dialect.render(query, pretty=False))
    return [table.column(i)[0].as_py() for i in range(table.num_columns)]


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        import pandas as pd

        value = pd.Timestamp(value).to_pydatetime()
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def human_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 0:
        return f"-{human_duration(-delta)}"
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            rest = seconds % size
            smaller = {"d": ("h", 3_600), "h": ("m", 60), "m": ("s", 1)}[unit]
            tail = f" {rest // smaller[1]}{smaller[0]}" if rest // smaller[1] else ""
            return f"{seconds // size}{unit}{tail}"
    return f"{seconds}s"
