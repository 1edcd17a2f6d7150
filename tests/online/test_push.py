"""Push and direct writes on every online store: pushed values are served online and read by
get_historical_features, an older row never overwrites a newer one, bad DataFrames are refused
naming the problem, and the async read answers what the sync one does."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from online.helpers import DAY0, T, UTC, open_store, user
from sqlfeat import FeatureView, Field, FileSource, PushMode, PushSource
from sqlfeat.errors import FeatureReferenceError
from sqlfeat.types import Float64, Int64, String

SCHEMA = pa.schema([("user_id", pa.int64()), ("event_time", pa.timestamp("us", tz="UTC")),
                    ("created", pa.timestamp("us", tz="UTC")), ("value", pa.int64()),
                    ("value_text", pa.string()), ("score", pa.float64())])  # fmt: skip


def rows(*items: tuple) -> pd.DataFrame:
    """``(user_id, event_time, value)`` or ``(..., created)`` as a DataFrame in the view's columns."""
    frame = pd.DataFrame({
        "user_id": [i[0] for i in items], "event_time": [i[1] for i in items],
        "created": [i[3] if len(i) > 3 else i[1] for i in items], "value": [i[2] for i in items],
        "value_text": [str(i[2]) for i in items], "score": [i[2] / 2 for i in items],
    })  # fmt: skip
    return frame


def push_source() -> PushSource:
    batch = FileSource(name="events", path="data/events/*.parquet", timestamp_field="event_time",
                       created_timestamp_column="created")  # fmt: skip
    return PushSource(name="events_push", batch_source=batch)


def events_view(source=None) -> FeatureView:
    schema = [Field("value", Int64), Field("value_text", String), Field("score", Float64)]
    return FeatureView(name="events", entities=[user], schema=schema, source=source or push_source())


@pytest.fixture
def store(tmp_path, project, online_config):
    root = tmp_path / "repo"
    (root / "data" / "events").mkdir(parents=True)
    first = pa.Table.from_pandas(rows((1, DAY0 + timedelta(days=1), 10), (2, DAY0 + timedelta(days=1), 20)),
                                 schema=SCHEMA, preserve_index=False)  # fmt: skip
    pq.write_table(first, root / "data" / "events" / "part-0.parquet")
    store = open_store(root, project, online_config, {}, [events_view()])
    yield store
    store.close()


def online_values(store, users, features=("events:value", "events:value_text")):
    return store.get_online_features(list(features), [{"user_id": u} for u in users]).to_dict()


def test_push_online_and_offline_is_served_and_retrieved(store):
    files_before = {p.name: p.read_bytes() for p in (store.repo_path / "data" / "events").iterdir()}
    now = datetime.now(UTC).replace(microsecond=0)
    store.push("events_push", rows((1, now, 11), (3, now, 30)), to=PushMode.ONLINE_AND_OFFLINE)
    got = online_values(store, [1, 2, 3])
    assert got["value"] == [11, None, 30] and got["value_text"] == ["11", None, "30"]
    # offline: one new parquet file next to the old one, which is untouched
    folder = store.repo_path / "data" / "events"
    assert len(list(folder.iterdir())) == len(files_before) + 1
    assert all((folder / name).read_bytes() == data for name, data in files_before.items())
    spine = pd.DataFrame({"user_id": [1, 2, 3], "event_timestamp": [now + timedelta(seconds=1)] * 3})
    training = store.get_historical_features(spine, ["events:value"]).to_df().sort_values("user_id")
    assert training["value"].tolist() == [11, 20, 30]
    # the materialization watermark did not move
    assert store.registry.watermark("events", store.online_target) is None


def test_write_to_online_store_never_regresses(store):
    newer, older = DAY0 + timedelta(days=3), DAY0 + timedelta(days=2)
    store.write_to_online_store("events", rows((1, newer, 3)))
    store.write_to_online_store("events", rows((1, older, 2)))
    assert online_values(store, [1])["value"] == [3]
    # same event time: the later created time wins; without a created time the stored row stays
    store.write_to_online_store("events", rows((1, newer, 4, newer + timedelta(seconds=1))))
    assert online_values(store, [1])["value"] == [4]
    store.write_to_online_store("events", rows((1, newer, 5, newer)))
    assert online_values(store, [1])["value"] == [4]
    # several rows of one entity in one push: the newest is written, whatever their order
    store.write_to_online_store("events", rows((2, newer + timedelta(days=2), 9), (2, newer + timedelta(days=1), 8)))
    assert online_values(store, [2])["value"] == [9]
    # materializing the older offline rows afterwards does not overwrite pushed ones
    store.materialize(DAY0, T)
    assert online_values(store, [1, 2])["value"] == [4, 9]


def test_async_read_equals_sync(store):
    now = datetime.now(UTC)
    store.write_to_online_store("events", rows((1, now, 7), (2, now, 8)))
    features = ["events:value", "events:value_text", "events:score"]
    entity_rows = [{"user_id": u} for u in (1, 2, 3, 1)]
    loop = asyncio.new_event_loop()  # one loop, as a server has: the async client lives in it
    try:
        for full in (False, True):
            sync = store.get_online_features(features, entity_rows, full_feature_names=full)
            got = loop.run_until_complete(store.get_online_features_async(features, entity_rows, full_feature_names=full))
            assert got.to_dict() == sync.to_dict()
            assert got.to_dict(include_event_timestamps=True) == sync.to_dict(include_event_timestamps=True)
        single = loop.run_until_complete(store.get_online_features_async(["events:value"], [{"user_id": 2}]))
        assert single.to_dict()["value"] == [8]
        store.close_online()  # closes the async client in its loop
    finally:
        loop.close()
    # a call in another loop (asyncio.run) gets a client of its own
    again = asyncio.run(store.get_online_features_async(["events:value"], [{"user_id": 1}]))
    assert again.to_dict()["value"] == [7]


def test_field_mapped_columns_and_entityless_views(store):
    """A DataFrame may name columns as the source does (field_mapping's source columns); a view
    without entities takes pushes into its one record."""
    mapped = FileSource(name="mapped", path="data/mapped/*.parquet", timestamp_field="at",
                        field_mapping={"raw_value": "value", "uid": "user_id", "when": "at"})  # fmt: skip
    view = FeatureView(name="mapped", entities=[user], schema=[Field("value", Int64)],
                       source=PushSource(name="mapped_push", batch_source=mapped))  # fmt: skip
    (store.repo_path / "data" / "mapped").mkdir()
    first = pa.table({"uid": pa.array([1], pa.int64()), "when": pa.array([DAY0], pa.timestamp("us", tz="UTC")),
                      "raw_value": pa.array([1], pa.int64())})  # fmt: skip
    pq.write_table(first, store.repo_path / "data" / "mapped" / "first.parquet")
    total = FeatureView(name="total", entities=[], schema=[Field("value", Int64)], source=events_view().source)
    store.apply([view, total])
    now = datetime.now(UTC)
    store.push("mapped_push", pa.table({"uid": [2], "when": [now], "raw_value": [22]}), to=PushMode.ONLINE_AND_OFFLINE)
    assert store.get_online_features(["mapped:value"], [{"user_id": 2}]).to_dict()["value"] == [22]
    spine = pd.DataFrame({"user_id": [1, 2], "event_timestamp": [now + timedelta(seconds=1)] * 2})
    assert store.get_historical_features(spine, ["mapped:value"]).to_df().sort_values("user_id")["value"].tolist() == [1, 22]
    # the view without entities: every entity row reads the newest pushed row
    store.write_to_online_store("total", rows((1, now, 5), (2, now + timedelta(seconds=1), 6)).drop(columns="user_id"))
    assert store.get_online_features(["total:value"], [{"user_id": 9}, {}]).to_dict()["value"] == [6, 6]
    with pytest.raises(FeatureReferenceError, match="no feature view reads push source"):
        store.apply([PushSource(name="lonely", batch_source=mapped)])
        store.push("lonely", rows((1, now, 1)))
