"""A FeatureService served online, on every online store: projections read the view's records
(stored once, under the view's name) with the entity row's mapped columns, and give the same
values as the point-in-time join at the materialization time."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pytest

from sqlfeat import Entity, FeatureService, FeatureStore, FeatureView, Field, FileSource, ValueType
from sqlfeat.errors import EntityRowError
from sqlfeat.types import Float64, Int64

from .helpers import DAY0, T, write_repo

location = Entity(name="location", join_keys=["location_id"], value_type=ValueType.INT64)
stats = FeatureView(
    name="location_stats", entities=[location], ttl=timedelta(days=60),
    schema=[Field("temperature", Float64), Field("visits", Int64)],
    source=FileSource(path="data/weather.parquet", timestamp_field="event_time"),
)  # fmt: skip
trips = FeatureService(name="trips", features=[
    stats[["temperature"]].with_name("origin").with_join_key_map({"location_id": "origin_id"}),
    stats.with_name("destination").with_join_key_map({"location_id": "destination_id"}),
])  # fmt: skip


def weather() -> pa.Table:
    return pa.table({
        "location_id": pa.array([1, 2, 3, 1], pa.int64()),
        "event_time": pa.array([DAY0, DAY0, DAY0, DAY0 + timedelta(days=3)], pa.timestamp("us", tz="UTC")),
        "temperature": [10.0, 20.0, 30.0, 11.0], "visits": [1, 2, 3, 4],
    })  # fmt: skip


@pytest.fixture
def store(tmp_path, project, online_config):
    repo = write_repo(tmp_path / "repo", project, online_config, {"weather": weather()})
    store = FeatureStore(repo_path=repo)
    store.apply([location, stats, trips])
    store.materialize_incremental(T)
    yield store
    store.close()


def test_service_reads_one_view_under_two_entity_columns(store):
    rows = [{"origin_id": 1, "destination_id": 2}, {"origin_id": 3, "destination_id": 9}]
    for service in (trips, store.get_feature_service("trips")):
        got = store.get_online_features(service, rows, full_feature_names=True, as_of=T).to_dict()
        assert got == {
            "origin_id": [1, 3], "destination_id": [2, 9], "origin__temperature": [11.0, 30.0],
            "destination__temperature": [20.0, None], "destination__visits": [2, None],
        }  # fmt: skip


def test_online_service_equals_offline_at_the_materialization_time(store):
    import pandas as pd

    rows = [{"origin_id": o, "destination_id": d} for o in (1, 2, 3, 4) for d in (3, 1)]
    online = store.get_online_features(trips, rows, full_feature_names=True, as_of=T).to_dict()
    spine = pd.DataFrame(rows).assign(event_timestamp=pd.Timestamp(T))
    offline = store.get_historical_features(spine, trips, full_feature_names=True).to_df()
    for column in ("origin__temperature", "destination__temperature", "destination__visits"):
        assert [None if pd.isna(v) else v for v in offline[column]] == online[column], column


def test_each_projection_keeps_its_own_event_times(store):
    # Two projections of one view read different records: each column's __ts is its record's.
    rows = [{"origin_id": 1, "destination_id": 2}]
    got = store.get_online_features(trips, rows, full_feature_names=True, as_of=T).to_dict(True)
    day0, day3 = int(DAY0.timestamp()), int((DAY0 + timedelta(days=3)).timestamp())
    assert got["origin__temperature__ts"] == [day3]
    assert got["destination__temperature__ts"] == [day0]
    assert got["destination__visits__ts"] == [day0]


def test_a_missing_mapped_column_is_named(store):
    with pytest.raises(EntityRowError, match="no join key 'destination_id'"):
        store.get_online_features(trips, [{"origin_id": 1}], full_feature_names=True, as_of=T)
