"""On-demand features online, on every online store: computed after the read from the entity
rows' request fields, with the same evaluator offline uses, so online equals offline at the
materialization time (nulls and zero divisors included)."""

from __future__ import annotations

import math
import sys
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from sqlfeat import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
from sqlfeat.errors import EntityRowError
from sqlfeat.types import Int64

from .helpers import DAY0, T, write_repo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from on_demand_defs import FEATURES, pandas_view, python_view, sql_view  # noqa: E402

user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)
clicks = FeatureView(name="clicks", entities=[user], ttl=timedelta(days=60),
                     schema=[Field(name="clicks", dtype=Int64), Field(name="impressions", dtype=Int64)],
                     source=FileSource(path="data/clicks.parquet", timestamp_field="event_time"))  # fmt: skip


def table() -> pa.Table:
    return pa.table({
        "user_id": pa.array([1, 1, 2, 3], pa.int64()),
        "event_time": pa.array([DAY0, DAY0 + timedelta(days=4), DAY0 + timedelta(days=1), DAY0 + timedelta(days=2)],
                               pa.timestamp("us", tz="UTC")),
        "clicks": pa.array([10, 21, 0, 5], pa.int64()), "impressions": pa.array([100, 0, 0, None], pa.int64()),
    })  # fmt: skip


@pytest.fixture
def store(tmp_path, project, online_config):
    repo = write_repo(tmp_path / "repo", project, online_config, {"clicks": table()})
    store = FeatureStore(repo_path=repo)
    store.apply([user, clicks, sql_view(clicks), pandas_view(clicks), python_view(clicks)])
    store.materialize_incremental(T)
    yield store
    store.close()


def same(a, b) -> bool:
    if a is None or b is None or a is pd.NA or b is pd.NA or (isinstance(a, float) and math.isnan(a)):
        return (a is None or a is pd.NA or (isinstance(a, float) and math.isnan(a))) and (
            b is None or b is pd.NA or (isinstance(b, float) and math.isnan(b)))
    return a == pytest.approx(b)


def test_online_equals_offline_at_the_materialization_time(store):
    rows = [{"user_id": 1, "bonus": 2}, {"user_id": 2, "bonus": 3}, {"user_id": 3, "bonus": None}, {"user_id": 9, "bonus": 5}]
    online = store.get_online_features(FEATURES, rows, as_of=T).to_dict()
    spine = pd.DataFrame({"user_id": [r["user_id"] for r in rows], "event_timestamp": pd.Timestamp(T),
                          "bonus": pd.Series([r["bonus"] for r in rows], dtype="Int64")})  # fmt: skip
    offline = store.get_historical_features(spine, FEATURES).to_df()
    names = [f.split(":")[1] for f in FEATURES]
    assert list(online) == ["user_id", *names]
    for name in names:
        assert all(same(a, b) for a, b in zip(online[name], offline[name])), (name, online[name], list(offline[name]))
    assert online["ctr"] == [None, None, None, None]  # 21/0, 0/0, 5/null, no record
    assert online["half"] == [10.5, 0.0, 2.5, None]
    assert online["plus"] == [23, 3, None, None]


def test_full_feature_names_and_registry_round_trip(store):
    fresh = FeatureStore(repo_path=store.repo_path)  # functions re-created from the registry's source text
    got = fresh.get_online_features(["pandas_ratios:plus_pd", "ratios:ctr_safe"], [{"user_id": 1, "bonus": 1}],
                                    full_feature_names=True, as_of=T).to_dict()  # fmt: skip
    assert got == {"user_id": [1], "pandas_ratios__plus_pd": [22], "ratios__ctr_safe": [None]}
    fresh.close()


def test_missing_request_field_names_it_and_the_view(store):
    with pytest.raises(EntityRowError, match="'ratios'.*'bonus'"):
        store.get_online_features(["ratios:plus"], [{"user_id": 1}], as_of=T)


def test_feature_service_with_on_demand_views_online_and_offline(store):
    from sqlfeat import FeatureService

    service = FeatureService(name="scoring", features=[clicks[["clicks"]], store.get_on_demand_feature_view("ratios")])
    store.apply([service])
    rows = [{"user_id": 1, "bonus": 2}, {"user_id": 2, "bonus": 3}]
    for asked in (service, store.get_feature_service("scoring")):
        online = store.get_online_features(asked, rows, as_of=T).to_dict()
        assert list(online) == ["user_id", "clicks", "ctr", "half", "ctr_safe", "plus", "scaled"]
        assert online["plus"] == [23, 3] and online["half"] == [10.5, 0.0]
        spine = pd.DataFrame({"user_id": [1, 2], "event_timestamp": pd.Timestamp(T), "bonus": [2, 3]})
        offline = store.get_historical_features(spine, asked).to_df()
        assert list(offline["plus"]) == [23, 3] and list(offline["clicks"]) == [21, 0]


def test_on_demand_views_are_never_materialized(store):
    from sqlfeat.errors import FeatureReferenceError

    with pytest.raises(FeatureReferenceError, match="'ratios' is an on-demand feature view"):
        store.materialize_incremental(T, feature_views=["ratios"])
