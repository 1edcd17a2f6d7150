"""Windowed aggregations equal a per-row pandas reference, on every warehouse (rule 5)."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from conftest import write_repo

from sqlfeat import Aggregation, Entity, FeatureStore, FeatureView, Field, ValueType
from sqlfeat.errors import DefinitionError, SchemaMismatchError
from sqlfeat.types import Float64, Int64, String

DAY = timedelta(days=1)
AGGREGATIONS = [
    Aggregation("click_id", "count", 30 * DAY, name="clicks_30d"),
    Aggregation("click_id", "count", timedelta(hours=6)),
    Aggregation("dwell_seconds", "sum", 7 * DAY),
    Aggregation("dwell_seconds", "mean", 7 * DAY),
    Aggregation("dwell_seconds", "min", DAY),
    Aggregation("dwell_seconds", "max", 30 * DAY),
    Aggregation("dwell_seconds", "stddev", 30 * DAY),
    Aggregation("clicks", "sum", 3 * DAY),
    Aggregation("category", "count_distinct", 7 * DAY),
    Aggregation("category", "last", 2 * DAY),
]


def reference(spine: pd.DataFrame, events: pd.DataFrame, aggregation: Aggregation) -> list:
    """Per spine row: the window's rows by the letter of rule 5, then the function by hand."""
    out = []
    times = pd.to_datetime(events["event_time"], utc=True)
    for user, t in zip(spine["user_id"], pd.to_datetime(spine["event_timestamp"], utc=True)):
        rows = events[(events["user_id"] == user) & (times > t - aggregation.time_window) & (times <= t)]
        values = rows[aggregation.column].dropna()
        f = aggregation.function
        if f == "count":
            out.append(len(values))
        elif f == "count_distinct":
            out.append(values.nunique())
        elif len(values) == 0 and f != "last":
            out.append(None)
        elif f == "sum":
            out.append(values.sum())
        elif f == "mean":
            out.append(values.mean())
        elif f == "min":
            out.append(values.min())
        elif f == "max":
            out.append(values.max())
        elif f == "stddev":
            out.append(values.std(ddof=1) if len(values) > 1 else None)
        elif f == "last":
            newest = rows.assign(_t=times[rows.index]).sort_values(["_t", "created"]).tail(1)
            out.append(newest[aggregation.column].iloc[0] if len(newest) else None)
    return out


def events_frame(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 400
    base = pd.Timestamp("2024-03-01", tz="UTC")
    seconds = rng.integers(0, 40 * 86_400, n)
    seconds[:20] = (seconds[:20] // 86_400) * 86_400  # events on exact day boundaries: on a window's edge
    frame = pd.DataFrame({
        "user_id": rng.integers(1, 8, n).astype("int64"),
        "event_time": base + pd.to_timedelta(seconds, unit="s"),
        "created": base + pd.to_timedelta(seconds + rng.permutation(n), unit="s"),
        "click_id": np.arange(n, dtype="int64"),
        "clicks": rng.integers(0, 5, n).astype("int64"),
        "dwell_seconds": np.where(rng.random(n) < 0.1, np.nan, rng.gamma(2, 10, n)),
        "category": rng.choice(["a", "b", "c", "d"], n).astype(object),
    })
    frame.loc[rng.random(n) < 0.05, "category"] = None
    return frame


def spine_frame(events: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed + 1)
    at_events = events.sample(30, random_state=seed)[["user_id", "event_time"]]
    at_edges = at_events.assign(event_time=at_events["event_time"] + pd.Timedelta(days=7))  # event exactly at t - 7d
    random = pd.DataFrame({
        "user_id": rng.integers(1, 10, 40).astype("int64"),  # users 8, 9: never seen, empty windows
        "event_time": pd.Timestamp("2024-03-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 45 * 86_400, 40), unit="s"),
    })
    spine = pd.concat([at_events, at_edges, random], ignore_index=True).rename(columns={"event_time": "event_timestamp"})
    return pd.concat([spine, spine.head(5)], ignore_index=True)  # duplicate rows too


@pytest.fixture
def store(warehouse, tmp_path):
    events = events_frame(7)
    repo = write_repo(tmp_path / "repo", offline_store=warehouse.offline_store)
    source = warehouse.source(repo, f"events_{tmp_path.name[-10:]}", events, timestamp_field="event_time",
                              created_timestamp_column="created")
    user = Entity(name="user_id", value_type=ValueType.INT64)
    stats = FeatureView(name="user_click_stats", entities=[user], source=source, aggregations=AGGREGATIONS)
    latest = FeatureView(name="user_latest", entities=[user], ttl=timedelta(days=3), source=source,
                         schema=[Field(name="category", dtype=String)])
    s = FeatureStore(repo_path=repo)
    s.apply([user, stats, latest])
    s.events = events
    yield s
    s.close()


def test_aggregates_equal_the_reference_everywhere(store, warehouse):
    spine = spine_frame(store.events, 7)
    features = [f"user_click_stats:{a.name}" for a in AGGREGATIONS] + ["user_latest:category"]
    result = store.get_historical_features(spine, features, full_feature_names=True, strategy=warehouse.strategy).to_df()
    for aggregation in AGGREGATIONS:
        got = result[f"user_click_stats__{aggregation.name}"].tolist()
        want = reference(spine, store.events, aggregation)
        for i, (g, w) in enumerate(zip(got, want)):
            if w is None or (isinstance(w, float) and math.isnan(w)):
                assert g is None or pd.isna(g), (aggregation.name, i, g, w)
            elif isinstance(w, (float, np.floating)):
                assert g == pytest.approx(w, rel=1e-9), (aggregation.name, i, g, w)
            else:
                assert g == w, (aggregation.name, i, g, w)
    assert result["user_latest__category"].notna().any()


def test_result_types_are_inferred_and_registered(store):
    types = {f.name: f.dtype for f in store.get_feature_view("user_click_stats").features}
    assert types["clicks_30d"] is Int64 and types["dwell_seconds_mean_7d"] is Float64
    assert types["clicks_sum_3d"] is Int64 and types["dwell_seconds_sum_7d"] is Float64
    assert types["category_last_2d"] is String and types["click_id_count_6h"] is Int64


def test_default_names_say_column_function_and_window():
    assert Aggregation("dwell_seconds", "mean", timedelta(days=7)).name == "dwell_seconds_mean_7d"
    assert Aggregation("x", "max", timedelta(hours=36)).name == "x_max_36h"
    assert Aggregation("x", "count", timedelta(minutes=90)).name == "x_count_90m"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"column": "x", "function": "median", "time_window": DAY}, "unknown function 'median'"),
        ({"column": "x", "function": "sum", "time_window": timedelta(0)}, "time_window must be a positive timedelta"),
    ],
)
def test_bad_aggregations_are_named(kwargs, message):
    with pytest.raises(DefinitionError, match=message):
        Aggregation(**kwargs)


def test_sum_of_a_string_column_is_refused_at_apply(make_repo):
    repo = make_repo({"events": events_frame(1)})
    from sqlfeat import FileSource

    user = Entity(name="user_id", value_type=ValueType.INT64)
    view = FeatureView(name="stats", entities=[user], aggregations=[Aggregation("category", "sum", DAY)],
                       source=FileSource(path="data/events.parquet", timestamp_field="event_time"))
    with pytest.raises(SchemaMismatchError, match="'stats'.*'category_sum_1d' takes sum of column 'category'"):
        FeatureStore(repo_path=repo).apply([user, view])


def test_online_aggregates_equal_offline_at_materialization_time(make_repo):
    from datetime import datetime, timezone

    from sqlfeat import FileSource

    events = events_frame(3)
    store = FeatureStore(repo_path=make_repo({"events": events}))
    user = Entity(name="user_id", value_type=ValueType.INT64)
    stats = FeatureView(name="user_click_stats", entities=[user], aggregations=AGGREGATIONS,
                        source=FileSource(path="data/events.parquet", timestamp_field="event_time",
                                          created_timestamp_column="created"))
    store.apply([user, stats])
    at = datetime(2024, 3, 20, 12, tzinfo=timezone.utc)
    store.materialize_incremental(at)
    users = list(range(1, 10))  # 8 and 9 have no events: counts 0, the rest null
    features = [f"user_click_stats:{a.name}" for a in AGGREGATIONS]
    online = store.get_online_features(features, [{"user_id": u} for u in users], as_of=at).to_dict()
    spine = pd.DataFrame({"user_id": users, "event_timestamp": [pd.Timestamp(at)] * len(users)})
    offline = store.get_historical_features(spine, features).to_df()
    for aggregation in AGGREGATIONS:
        for got, want in zip(online[aggregation.name], offline[aggregation.name]):
            assert (got is None and pd.isna(want)) or got == pytest.approx(want), aggregation.name
    assert store.check_consistency().views[0].mismatched == 0
    store.close()
