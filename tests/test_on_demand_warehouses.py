"""On-demand features on every warehouse: SQL expressions compiled into the point-in-time query
and pandas/python functions applied after it give the same rows everywhere, nulls and zero
divisors included (``/`` is true division; a zero divisor gives null)."""

from __future__ import annotations

import math
from datetime import timedelta

import pandas as pd
import pytest
from on_demand_defs import FEATURES, pandas_view, python_view, sql_view

from sqlfeat import Entity, FeatureStore, FeatureView, Field, ValueType
from sqlfeat.errors import EntityDataFrameError
from sqlfeat.types import Int64

SOURCE = pd.DataFrame({
    "user_id": [1, 1, 2, 3],
    "event_time": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-01-02", "2024-01-03"], utc=True),
    "clicks": [10, 21, 0, 5],
    "impressions": pd.Series([100, 0, 0, None], dtype="Int64"),
})
SPINE = pd.DataFrame({
    "user_id": [1, 1, 2, 3, 4],
    "event_timestamp": pd.to_datetime(["2024-01-02", "2024-01-06", "2024-01-03", "2024-01-04", "2024-01-04"], utc=True),
    "bonus": pd.Series([1, 2, 3, None, 5], dtype="Int64"),
})
N = None
EXPECTED = {
    "ctr": [0.1, N, N, N, N], "half": [5.0, 10.5, 0.0, 2.5, N], "ctr_safe": [0.1, N, N, N, N],
    "plus": [11, 23, 3, N, N], "scaled": [151.0, 2.0, 3.0, N, 5.0],
    "ctr_pd": [0.1, N, N, N, N], "plus_pd": [11, 23, 3, N, N], "plus_py": [11, 23, 3, N, N],
}  # fmt: skip


def same(got, expected) -> bool:
    if expected is None:
        return got is None or got is pd.NA or (isinstance(got, float) and math.isnan(got))
    return got == pytest.approx(expected)


@pytest.fixture
def store(warehouse, tmp_path):
    from conftest import write_repo

    repo = write_repo(tmp_path / "repo", offline_store=warehouse.offline_store)
    source = warehouse.source(repo, f"odfv_{tmp_path.name[-12:].replace('-', '_')}", SOURCE, timestamp_field="event_time")
    user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)
    view = FeatureView(name="clicks", entities=[user], ttl=timedelta(days=30), source=source,
                       schema=[Field(name="clicks", dtype=Int64), Field(name="impressions", dtype=Int64)])  # fmt: skip
    s = FeatureStore(repo_path=repo)
    s.apply([user, view, sql_view(view), pandas_view(view), python_view(view)])
    yield s
    s.close()


def check(frame: pd.DataFrame) -> None:
    for feature, expected in EXPECTED.items():
        got = list(frame[feature])
        assert all(same(g, e) for g, e in zip(got, expected)), (feature, got, expected)


@pytest.mark.parametrize("spine_kind", ["dataframe", "table"])
def test_on_demand_features_on_every_warehouse(store, warehouse, spine_kind):
    entity_df = SPINE if spine_kind == "dataframe" else warehouse.spine(store, "odfv_spine", SPINE)
    job = store.get_historical_features(entity_df, FEATURES, strategy=warehouse.strategy)
    frame = job.to_df()
    if spine_kind == "table":
        frame = frame.sort_values(["event_timestamp", "user_id"]).reset_index(drop=True)
        expected_order = SPINE.sort_values(["event_timestamp", "user_id"]).index
        frame = frame.set_axis(expected_order).sort_index()
    check(frame)
    assert not [c for c in frame.columns if c.startswith("__sqlfeat")]  # hidden inputs are dropped
    assert list(frame.columns[-len(EXPECTED):]) == list(EXPECTED)


def test_sql_only_training_set_stays_in_the_warehouse(store, warehouse):
    sql = store.get_historical_features(SPINE, FEATURES[:5], strategy=warehouse.strategy)
    name = sql.to_table(f"odfv_train_{abs(hash(warehouse.strategy)) % 1000}" if warehouse.name == "duckdb" else
                        f"{warehouse.namespace}.odfv_train")  # fmt: skip
    assert name


def test_missing_request_field_names_it(store, warehouse):
    with pytest.raises(EntityDataFrameError, match="'bonus'.*'ratios'|'ratios'.*'bonus'"):
        store.get_historical_features(SPINE.drop(columns=["bonus"]), ["ratios:plus"])
