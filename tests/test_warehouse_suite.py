"""The same definitions, switched only by offline_store.type, give the same rows everywhere."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from sqlfeat import Entity, FeatureStore, FeatureView, Field, ValueType
from sqlfeat.types import Bool, Float32, Int64, String

SOURCE = pd.DataFrame({
    "user_id": [1, 1, 1, 2, 4],
    "event_time": pd.to_datetime(
        ["2024-01-01", "2024-01-05", "2024-01-05", "2023-11-01", "2024-01-02"], utc=True),
    "created": pd.to_datetime(
        ["2024-01-01 01:00", "2024-01-05 01:00", "2024-01-05 02:00", "2023-11-01 01:00", "2024-01-02 01:00"], utc=True),
    "click_count": [10, 20, 21, 7, 3],
    "avg_dwell": pd.Series([1.5, 2.5, 2.75, 1.0, None], dtype="float32"),
    "category": ["a", "b", "c", None, "d"],
    "premium": [True, False, True, None, False],
})
SPINE_UTC = ["2024-01-04 23:59:00", "2024-01-05 00:00:00", "2023-12-01 00:00:00", "2023-12-01 00:00:01",
             "2024-01-05 00:00:00", "2024-01-05 00:00:00", "2024-01-05 00:00:00"]
SPINE_USERS = [1, 1, 2, 2, 3, 4, 1]
EXPECTED = {
    "click_count": [10, 21, 7, None, None, 3, 21],
    "avg_dwell": [1.5, 2.75, 1.0, None, None, None, 2.75],
    "category": ["a", "c", None, None, None, "d", "c"],
    "premium": [True, True, None, None, None, False, True],
}


@pytest.fixture
def store(warehouse, tmp_path):
    from conftest import write_repo

    repo = write_repo(tmp_path / "repo", offline_store=warehouse.offline_store)
    name = f"clicks_{tmp_path.name[-12:].replace('-', '_')}"
    source = warehouse.source(repo, name, SOURCE, timestamp_field="event_time", created_timestamp_column="created")
    user = Entity(name="user_id", value_type=ValueType.INT64)
    view = FeatureView(
        name="user_clicks", entities=[user], ttl=timedelta(days=30), source=source,
        schema=[Field(name="click_count", dtype=Int64), Field(name="avg_dwell", dtype=Float32),
                Field(name="category", dtype=String), Field(name="premium", dtype=Bool)],
    )
    s = FeatureStore(repo_path=repo)
    s.apply([user, view])
    yield s
    s.close()


@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai", None])
def test_same_rows_on_every_warehouse(store, warehouse, zone):
    times = pd.to_datetime(SPINE_UTC, utc=True)
    spine = pd.DataFrame({
        "user_id": SPINE_USERS,
        "event_timestamp": times.tz_convert(zone) if zone else times.tz_localize(None),
        "label": range(len(SPINE_USERS)),
    })
    job = store.get_historical_features(spine, [f"user_clicks:{f}" for f in EXPECTED], strategy=warehouse.strategy)
    result = job.to_df()
    pd.testing.assert_frame_equal(result[spine.columns], spine)
    for feature, expected in EXPECTED.items():
        got = [None if pd.isna(v) else v for v in result[feature]]
        assert got == pytest.approx(expected) if feature == "avg_dwell" else got == expected, feature
    table = job.to_arrow()
    assert [str(table.schema.field(f).type) for f in EXPECTED] == ["int64", "float", "string", "bool"]
