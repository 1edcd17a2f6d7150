"""Windowed sums stay exact whatever came before the window, on every warehouse and strategy.

A plan that subtracts running totals (prefix sums probed at t and t - w) is only as precise as
the history it carries: a 1e17 a month ago swallows the 0.25s of this week, an infinite value
makes every later total infinite, and integer totals overflow 64 bits long before any window
does. These are the inputs that would show it.
"""

from __future__ import annotations

import math
from datetime import timedelta

import pandas as pd
import pytest
from conftest import write_repo
from test_aggregations import reference

from sqlfeat import Aggregation, Entity, FeatureStore, FeatureView, ValueType

DAY = timedelta(days=1)
BASE = pd.Timestamp("2024-03-01", tz="UTC")
AGGREGATIONS = [
    Aggregation("amount", "sum", 3 * DAY),
    Aggregation("amount", "mean", 3 * DAY),
    Aggregation("amount", "count", 3 * DAY),
    Aggregation("amount", "sum", 10 * DAY),
    Aggregation("points", "sum", 3 * DAY),
    Aggregation("points", "mean", 3 * DAY),
]


def _events(extreme: float) -> pd.DataFrame:
    """User 1: ``extreme`` on day 0, then small floats; user 2: only small floats (nothing to
    guard); user 3: integers near 2**62 early on (their total passes 2**63), small ones later."""
    rows = [(1, 0, extreme, 1), (2, 0, 0.5, 1), (3, 0, 0.0, 3 * 10**18), (3, 1, 0.0, 3 * 10**18), (3, 2, 0.0, 3 * 10**18),
            (3, 3, 0.0, 3 * 10**18)]  # fmt: skip
    for day in range(15, 25):
        rows += [(1, day, 0.25 * (day % 3 + 1), day), (2, day, 0.1 * day, day), (3, day, 1.5, day)]
    rows.append((1, 20, None, None))  # a null inside a window: not counted, not summed
    return pd.DataFrame({
        "user_id": [r[0] for r in rows],
        "event_time": [BASE + pd.Timedelta(days=r[1], hours=6) for r in rows],
        "amount": pd.array([r[2] for r in rows], dtype="Float64").astype("float64"),
        "points": pd.array([r[3] for r in rows], dtype="Int64"),
    })  # fmt: skip


def _spine() -> pd.DataFrame:
    times = [BASE + pd.Timedelta(days=d, hours=h) for d in (0, 5, 16, 18, 21, 24, 27, 40) for h in (6, 7)]
    return pd.DataFrame({
        "user_id": [u for u in (1, 2, 3) for _ in times],
        "event_timestamp": times * 3,
    })  # fmt: skip


def _check(store: FeatureStore, events: pd.DataFrame, strategy: str) -> None:
    spine = _spine()
    features = [f"stats:{a.name}" for a in AGGREGATIONS]
    result = store.get_historical_features(spine, features, strategy=strategy).to_df()
    result = result.sort_values(["user_id", "event_timestamp"], kind="stable").reset_index(drop=True)
    spine = spine.sort_values(["user_id", "event_timestamp"], kind="stable").reset_index(drop=True)
    for aggregation in AGGREGATIONS:
        got, want = result[aggregation.name].tolist(), reference(spine, events, aggregation)
        for i, (g, w) in enumerate(zip(got, want)):
            where = (aggregation.name, spine.loc[i, "user_id"], spine.loc[i, "event_timestamp"], g, w)
            if w is None or (isinstance(w, float) and math.isnan(w)):
                assert g is None or pd.isna(g), where
            elif isinstance(w, float) and math.isinf(w):
                assert g == w, where
            else:
                assert g == pytest.approx(w, rel=1e-9, abs=1e-12), where


def _store(tmp_path, warehouse, events: pd.DataFrame) -> FeatureStore:
    repo = write_repo(tmp_path / "repo", offline_store=warehouse.offline_store)
    source = warehouse.source(repo, f"precision_{tmp_path.name[-10:]}", events, timestamp_field="event_time")
    user = Entity(name="user_id", value_type=ValueType.INT64)
    store = FeatureStore(repo_path=repo)
    store.apply([user, FeatureView(name="stats", entities=[user], source=source, aggregations=AGGREGATIONS)])
    return store


def test_a_huge_value_before_the_window_does_not_swallow_it(warehouse, tmp_path):
    events = _events(1e17)
    store = _store(tmp_path, warehouse, events)
    try:
        _check(store, events, warehouse.strategy)
    finally:
        store.close()


@pytest.mark.parametrize("extreme", [math.inf, -math.inf])
@pytest.mark.parametrize("strategy", ["asof", "carry", "window"])
def test_an_infinite_value_leaves_later_windows_finite(tmp_path, strategy, extreme):
    # DuckDB only: warehouses differ on loading infinities, and the running-total plan is DuckDB's.
    events = _events(extreme)
    store = _store(tmp_path, _duckdb(), events)
    try:
        _check(store, events, strategy)
    finally:
        store.close()


def _duckdb():
    from warehouses import Harness

    return Harness("duckdb", {"type": "duckdb"})
