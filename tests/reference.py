"""A naive, obviously-correct pandas reference for point-in-time (PIT) joins.

This is the oracle the PIT property tests compare sqlfeat against.  It is written
for clarity, not speed: a plain loop over spine rows, only ever run on small data.

Semantics (docs/concepts.md, the point-in-time rules 1-4):

* For each spine row (keys ``k``, time ``t``) and each view, the candidate rows are
  the source rows with the same join keys (a null key never matches anything),
  ``event_ts <= t`` and, when the view's ttl is set and non-zero,
  ``event_ts >= t - ttl`` (both bounds inclusive).  Rows whose event timestamp is
  null never match.
* The winner is the candidate with the greatest event timestamp; ties go to the
  greatest created timestamp when the view has a created-timestamp column.
* No candidate: the feature values are null (``None``).
* Every comparison is made between UTC instants: naive timestamps are taken to be
  UTC, aware ones are converted.
* The output is the spine, unchanged (same columns, dtypes, order and index), plus
  one column per requested feature named ``feature`` or ``view__feature``.
* ``filter_by_created_timestamp``: for a view with a created-timestamp column, a
  candidate must also have a created timestamp, at or before ``t`` (a row backfilled
  after ``t`` was not known at ``t``); other views are unaffected.

:func:`reference_range_spine` is the spine of a retrieval without an entity_df: every
distinct (keys, event time) of the views' rows with ``start <= event time <= end``.

This module also holds the comparator used to check sqlfeat's output against the
reference (:func:`assert_pit_frames_equal`).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "RefView",
    "reference_pit",
    "reference_range_spine",
    "to_utc",
    "is_null",
    "normalize_value",
    "values_equal",
    "assert_pit_frames_equal",
]


@dataclass
class RefView:
    """One feature view as the reference sees it.

    ``join_keys`` are the names of the key columns in the *spine* (after
    ``field_mapping`` has been applied to the source).  ``features`` are *source*
    column names; the output column is ``field_mapping.get(col, col)`` (prefixed
    with ``"<name>__"`` when ``full_feature_names``).  ``timestamp_field`` and
    ``created_timestamp_column`` are source column names.
    """

    name: str
    join_keys: list[str]
    source: pd.DataFrame
    timestamp_field: str
    features: list[str]
    ttl: dt.timedelta | None = None
    created_timestamp_column: str | None = None
    field_mapping: dict[str, str] = field(default_factory=dict)

    def feature_name(self, source_col: str) -> str:
        return self.field_mapping.get(source_col, source_col)

    def output_name(self, source_col: str, full_feature_names: bool) -> str:
        name = self.feature_name(source_col)
        return f"{self.name}__{name}" if full_feature_names else name

    def source_column_for_key(self, key: str) -> str:
        """The source column that becomes join key ``key`` after field_mapping."""
        for src_col, mapped in self.field_mapping.items():
            if mapped == key:
                return src_col
        return key


# --------------------------------------------------------------------------------------
# scalar helpers
# --------------------------------------------------------------------------------------


def is_null(value: Any) -> bool:
    """None, NaN, NaT and pd.NA are all "null"."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, (float, np.floating)):
        return math.isnan(value)
    if isinstance(value, (np.datetime64, np.timedelta64)):
        return bool(np.isnat(value))
    try:
        result = pd.isna(value)
    except (TypeError, ValueError):
        return False
    return result is True or (isinstance(result, np.bool_) and bool(result))


def to_utc(value: Any) -> pd.Timestamp | None:
    """A timestamp-like value as an aware UTC ``pd.Timestamp`` (naive means UTC).

    Returns None for null values.
    """
    if is_null(value):
        return None
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        return ts.tz_localize("UTC")
    return ts.tz_convert("UTC")


def _key_part(value: Any) -> Any:
    """A hashable, comparable form of one join-key value (numpy scalars -> Python)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _key_of(values: list[Any]) -> tuple | None:
    """The key tuple, or None when any part is null (null keys never match)."""
    if any(is_null(v) for v in values):
        return None
    return tuple(_key_part(v) for v in values)


# --------------------------------------------------------------------------------------
# the reference
# --------------------------------------------------------------------------------------


def _index_source(view: RefView) -> dict[tuple, list[tuple[pd.Timestamp, pd.Timestamp | None, dict]]]:
    """Group the view's source rows by join key.

    Each entry is (event_ts_utc, created_ts_utc_or_None, {source_col: value}).
    Rows with a null key or a null event timestamp are dropped here: they can never
    be a candidate.
    """
    src = view.source
    key_cols = [view.source_column_for_key(k) for k in view.join_keys]
    by_key: dict[tuple, list] = {}
    for pos in range(len(src)):
        row = src.iloc[pos]
        key = _key_of([row[c] for c in key_cols])
        if key is None:
            continue
        event_ts = to_utc(row[view.timestamp_field])
        if event_ts is None:
            continue
        created_ts = None
        if view.created_timestamp_column is not None:
            created_ts = to_utc(row[view.created_timestamp_column])
        values = {c: row[c] for c in view.features}
        by_key.setdefault(key, []).append((event_ts, created_ts, values))
    return by_key


def _is_better(candidate, best, has_created: bool) -> bool:
    """Is ``candidate`` a better winner than ``best``? (greater event ts, then created)."""
    if best is None:
        return True
    c_event, c_created, _ = candidate
    b_event, b_created, _ = best
    if c_event != b_event:
        return c_event > b_event
    if not has_created:
        return False  # arbitrary; the generators never produce such ties
    # A null created timestamp loses to any non-null one.
    if c_created is None:
        return False
    if b_created is None:
        return True
    return c_created > b_created


def reference_pit(
    spine: pd.DataFrame,
    views: list[RefView],
    timestamp_column: str,
    full_feature_names: bool = False,
    filter_by_created_timestamp: bool = False,
) -> pd.DataFrame:
    """The PIT join of ``spine`` with ``views``, computed one spine row at a time."""
    out = spine.copy()
    spine_times = [to_utc(v) for v in spine[timestamp_column].tolist()]

    for view in views:
        by_key = _index_source(view)
        has_created = view.created_timestamp_column is not None
        use_ttl = view.ttl is not None and view.ttl != dt.timedelta(0)
        spine_keys = [spine[k].tolist() for k in view.join_keys]

        columns: dict[str, list[Any]] = {c: [] for c in view.features}
        for pos in range(len(spine)):
            t = spine_times[pos]
            key = _key_of([col[pos] for col in spine_keys])

            best = None
            if t is not None and key is not None:
                for candidate in by_key.get(key, []):
                    event_ts = candidate[0]
                    if event_ts > t:
                        continue
                    if use_ttl and event_ts < t - view.ttl:
                        continue
                    if filter_by_created_timestamp and has_created and (candidate[1] is None or candidate[1] > t):
                        continue
                    if _is_better(candidate, best, has_created):
                        best = candidate

            for c in view.features:
                if best is None:
                    columns[c].append(None)
                else:
                    value = best[2][c]
                    columns[c].append(None if is_null(value) else value)

        for c in view.features:
            out_name = view.output_name(c, full_feature_names)
            if out_name in out.columns:
                raise ValueError(f"reference: duplicate output column {out_name!r}")
            out[out_name] = pd.Series(columns[c], index=out.index, dtype=object)
    return out


def reference_range_spine(views: list[RefView], start: Any, end: Any, timestamp_column: str = "event_timestamp") -> pd.DataFrame:
    """Every distinct (keys, event time) of the views' source rows with start <= event <= end,
    keys a view lacks null; rows with a null key or event time are left out. Ordered by time,
    then keys (nulls last)."""
    start, end = to_utc(start), to_utc(end)
    keys: list[str] = []
    for view in views:
        keys.extend(k for k in view.join_keys if k not in keys)
    rows = set()
    for view in views:
        key_cols = [view.source_column_for_key(k) for k in view.join_keys]
        for pos in range(len(view.source)):
            row = view.source.iloc[pos]
            key = _key_of([row[c] for c in key_cols])
            event_ts = to_utc(row[view.timestamp_field])
            if key is None or event_ts is None or not start <= event_ts <= end:
                continue
            values = dict(zip(view.join_keys, key))
            rows.add((*(values.get(k) for k in keys), event_ts))

    def order(row: tuple) -> tuple:
        return (row[-1], *((v is None, v if v is not None else 0) for v in row[:-1]))

    ordered = sorted(rows, key=order)
    frame = pd.DataFrame({k: [r[i] for r in ordered] for i, k in enumerate(keys)}, dtype=object)
    frame[timestamp_column] = pd.Series([r[-1] for r in ordered], dtype="datetime64[ns, UTC]")
    return frame


# --------------------------------------------------------------------------------------
# the comparator
# --------------------------------------------------------------------------------------

_MISSING = object()


def normalize_value(value: Any) -> Any:
    """A plain-Python form of a cell for comparison.

    null -> _MISSING; numpy scalars -> Python; timestamps -> aware UTC Timestamps;
    Decimal -> float.
    """
    if is_null(value):
        return _MISSING
    if isinstance(value, (pd.Timestamp, dt.datetime, np.datetime64)):
        return to_utc(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, bytes):
        return value
    return value


def values_equal(a: Any, b: Any, rel_tol: float = 1e-6, abs_tol: float = 1e-9) -> bool:
    a, b = normalize_value(a), normalize_value(b)
    if a is _MISSING or b is _MISSING:
        return a is b
    if isinstance(a, pd.Timestamp) or isinstance(b, pd.Timestamp):
        return isinstance(a, pd.Timestamp) and isinstance(b, pd.Timestamp) and a == b
    if isinstance(a, bool) or isinstance(b, bool):
        # bool vs bool; a bool against 0/1 is accepted, against anything else not.
        if isinstance(a, (bool, int, float)) and isinstance(b, (bool, int, float)):
            return float(a) == float(b)
        return False
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return math.isclose(float(a), float(b), rel_tol=rel_tol, abs_tol=abs_tol)
        return False
    if isinstance(a, str) != isinstance(b, str):
        return False
    return a == b


def _fmt(value: Any) -> str:
    n = normalize_value(value)
    if n is _MISSING:
        return "<null>"
    if isinstance(n, pd.Timestamp):
        return n.isoformat()
    return repr(n)


def assert_pit_frames_equal(
    actual: pd.DataFrame,
    expected: pd.DataFrame,
    spine_columns: list[str],
    *,
    check_spine_dtypes: bool = True,
    rel_tol: float = 1e-6,
    max_rows_shown: int = 10,
    context: str = "",
) -> None:
    """Assert that sqlfeat's ``actual`` output equals the reference's ``expected``.

    Rows are compared positionally (the index is not compared here: callers that
    care about it check it separately).  Spine columns must keep their dtype;
    feature columns are compared by value: nulls of any kind are equal, floats are
    compared with a relative tolerance (float32 round trips), timestamps as UTC
    instants.
    """
    problems: list[str] = []
    prefix = f"[{context}] " if context else ""

    if list(actual.columns) != list(expected.columns):
        raise AssertionError(
            f"{prefix}column mismatch:\n  actual:   {list(actual.columns)}\n"
            f"  expected: {list(expected.columns)}"
        )
    if len(actual) != len(expected):
        raise AssertionError(f"{prefix}row count mismatch: actual {len(actual)}, expected {len(expected)}")

    if check_spine_dtypes:
        for c in spine_columns:
            if actual[c].dtype != expected[c].dtype:
                problems.append(
                    f"spine column {c!r} dtype changed: actual {actual[c].dtype}, expected {expected[c].dtype}"
                )

    columns = list(expected.columns)
    a_cols = {c: actual[c].tolist() for c in columns}
    e_cols = {c: expected[c].tolist() for c in columns}
    bad_rows: list[tuple[int, list[str]]] = []
    for pos in range(len(expected)):
        bad = [c for c in columns if not values_equal(a_cols[c][pos], e_cols[c][pos], rel_tol=rel_tol)]
        if bad:
            bad_rows.append((pos, bad))

    if bad_rows:
        n_bad_cells = sum(len(b) for _, b in bad_rows)
        bad_columns = sorted({c for _, b in bad_rows for c in b}, key=columns.index)
        lines = [
            f"{len(bad_rows)} of {len(expected)} rows differ ({n_bad_cells} cells; columns {bad_columns}); "
            f"first {min(max_rows_shown, len(bad_rows))}:"
        ]
        for pos, bad in bad_rows[:max_rows_shown]:
            spine_desc = ", ".join(f"{c}={_fmt(e_cols[c][pos])}" for c in spine_columns)
            lines.append(f"  row {pos}: {spine_desc}")
            for c in bad:
                lines.append(f"      {c}: actual={_fmt(a_cols[c][pos])}  expected={_fmt(e_cols[c][pos])}")
        problems.append("\n".join(lines))

    if problems:
        raise AssertionError(prefix + "\n".join(problems))
