"""What push and direct writes refuse, and how: a DataFrame missing a column or holding a wrong
value, a single parquet file sqlfeat did not create, an unknown push source; and a store that goes
down mid-write leaves every entity's record whole (one row or the other, never a mix)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from online.helpers import DAY0, UTC, open_store
from online.test_push import SCHEMA, events_view, push_source, rows
from sqlfeat import FeatureView, FileSource, PushMode, PushSource
from sqlfeat.definitions import source_from_spec
from sqlfeat.errors import FeatureReferenceError, OnlineStoreError, PushedDataError, UsageError

SQLITE = {"type": "sqlite", "path": "data/online.db"}


def _repo(tmp_path, project, online=SQLITE, objects=None):
    root = tmp_path / "repo"
    (root / "data" / "events").mkdir(parents=True)
    first = pa.Table.from_pandas(rows((1, DAY0 + timedelta(days=1), 10)), schema=SCHEMA, preserve_index=False)
    pq.write_table(first, root / "data" / "events" / "part-0.parquet")
    return open_store(root, project, online, {}, objects or [events_view()])


def test_push_source_round_trip_and_plan(tmp_path, project):
    source = push_source()
    assert source_from_spec(source.to_spec()) == source and source.timestamp_field == "event_time"
    view = events_view()
    assert view.stream_source == source and view.batch_source == source.batch_source
    assert FeatureView.from_spec(view.to_spec()) == view
    store = _repo(tmp_path, project)
    assert store.get_feature_view("events").stream_source == source
    assert "events_push" in {s.name for s in store.list_data_sources()}
    renamed = PushSource(name="events_push_2", batch_source=source.batch_source)
    plan = store.plan(_contents([events_view(renamed)]), partial=True)
    assert any("push source: events_push -> events_push_2" in d for c in plan.changes for d in c.details), plan
    with pytest.raises(Exception, match="batch_source"):
        PushSource(name="p", batch_source=None)


def _contents(objects):
    from sqlfeat.repo import collect

    return collect(objects)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda df: df.drop(columns="user_id"), r"no column 'user_id' \(join key\)"),
        (lambda df: df.drop(columns="event_time"), r"no column 'event_time' \(event timestamp\)"),
        (lambda df: df.drop(columns="score"), r"no column 'score' \(feature\)"),
        (lambda df: df.assign(value=["ten"]), r"column 'value' \(feature of feature view 'events'\) is declared Int64"),
        (lambda df: df.assign(user_id=[None]), r"join key column 'user_id' has 1 null"),
        (lambda df: df.assign(event_time=["yesterday"]), r"'event_time' \(event timestamp .*\) holds text that is not an ISO 8601"),
        (lambda df: df.assign(event_time=[1.5]), r"'event_time' \(event timestamp .*\) is double, not a timestamp"),
    ],
)
def test_bad_frames_are_refused_naming_the_problem(tmp_path, project, change, message):
    store = _repo(tmp_path, project)
    frame = change(rows((1, DAY0 + timedelta(days=2), 11)))
    for call in (lambda: store.write_to_online_store("events", frame), lambda: store.push("events_push", frame),
                 lambda: store.write_to_offline_store("events", frame)):  # fmt: skip
        with pytest.raises(PushedDataError, match=message):
            call()
    assert len(list((store.repo_path / "data" / "events").iterdir())) == 1, "nothing written offline"


def test_mixed_naive_and_aware_timestamps_are_refused(tmp_path, project):
    store = _repo(tmp_path, project)
    frame = rows((1, DAY0, 1), (2, DAY0, 2))
    frame["event_time"] = pd.Series([datetime(2024, 1, 2), datetime(2024, 1, 2, tzinfo=UTC)], dtype=object)
    with pytest.raises(PushedDataError, match="mixes naive and time-zone-aware"):
        store.push("events_push", frame)
    # naive only: UTC, as everywhere in sqlfeat
    frame["event_time"] = pd.to_datetime(["2024-01-05 10:00", "2024-01-05 10:00"])
    store.write_to_online_store("events", frame)
    assert store.get_online_features(["events:value"], [{"user_id": 1}]).to_dict()["value"] == [1]
    record = store.online_store.read(_layout(store), ["value"], ["1"])
    assert record.event_ts == [int(datetime(2024, 1, 5, 10, tzinfo=UTC).timestamp() * 1_000_000)]


def test_iso_text_timestamps_are_read_each_from_its_own_offset(tmp_path, project):
    # JSON carries times as text (the feature server's /push): an offset is honoured, none is UTC.
    store = _repo(tmp_path, project)
    frame = rows((1, DAY0, 1), (2, DAY0, 2))
    frame["event_time"] = ["2024-01-05T18:00:00+08:00", "2024-01-05 10:00:00"]
    store.write_to_online_store("events", frame)
    for user in (1, 2):
        record = store.online_store.read(_layout(store), ["value"], [str(user)])
        assert record.event_ts == [int(datetime(2024, 1, 5, 10, tzinfo=UTC).timestamp() * 1_000_000)], user


def _layout(store):
    from online.helpers import layout

    return layout(store, "events")


def test_offline_write_refuses_unknown_columns_and_single_files(tmp_path, project):
    store = _repo(tmp_path, project)
    with pytest.raises(PushedDataError, match=r"columns \['extra'\] .* would be lost"):
        store.write_to_offline_store("events", rows((1, DAY0, 1)).assign(extra=1))
    # a single file sqlfeat did not create is never rewritten
    single = FileSource(name="one", path="data/one.parquet", timestamp_field="event_time", created_timestamp_column="created")
    pq.write_table(pa.Table.from_pandas(rows((1, DAY0, 1)), schema=SCHEMA, preserve_index=False), store.repo_path / "data" / "one.parquet")
    before = (store.repo_path / "data" / "one.parquet").read_bytes()
    view = FeatureView(name="one", entities=["user"], schema=list(events_view().schema), source=single)
    store.apply([view])
    with pytest.raises(UsageError, match=r"single file data/one.parquet.*path='data/one/\*.parquet'"):
        store.write_to_offline_store("one", rows((1, DAY0, 2)))
    assert (store.repo_path / "data" / "one.parquet").read_bytes() == before


def test_unknown_push_source_and_offline_only_views(tmp_path, project):
    store = _repo(tmp_path, project)
    with pytest.raises(FeatureReferenceError, match="push source 'nope' is not registered"):
        store.push("nope", rows((1, DAY0, 1)))
    with pytest.raises(UsageError, match="PushMode"):
        store.push("events_push", rows((1, DAY0, 1)), to="online")
    store.push("events_push", rows((4, DAY0 + timedelta(days=5), 40)), to=PushMode.OFFLINE)
    assert store.get_online_features(["events:value"], [{"user_id": 4}]).to_dict()["value"] == [None]
    assert len(list((store.repo_path / "data" / "events").iterdir())) == 2


def test_redis_killed_mid_push_leaves_records_whole(tmp_path, project, own_redis):
    import redis

    port, start, servers = own_redis
    from sqlfeat.online import push as push_module

    store = _repo(tmp_path, project, {"type": "redis", "connection_string": f"127.0.0.1:{port}"})
    users = 20_000
    old = rows(*[(u, DAY0 + timedelta(days=1), u) for u in range(users)])
    store.write_to_online_store("events", old)
    new = rows(*[(u, DAY0 + timedelta(days=2), 100_000 + u) for u in range(users)])
    calls = []
    original = store.online_store.write_batch

    def write_then_kill(layout, batch):
        calls.append(batch.num_rows)
        if len(calls) == 2:
            servers[-1].kill()
            servers[-1].wait()
        return original(layout, batch)

    store.online_store.write_batch = write_then_kill
    saved, push_module.PUSH_BATCH_ROWS = push_module.PUSH_BATCH_ROWS, 5_000
    try:
        with pytest.raises(OnlineStoreError, match=rf"(?s)redis online store at 127.0.0.1:{port}.*events.*stopped after 5,000 of 20,000"):
            store.write_to_online_store("events", new)
    finally:
        push_module.PUSH_BATCH_ROWS = saved
    start()
    client = redis.Redis(port=port)
    fresh = 0
    for user_id in range(users):
        record = client.hgetall(f"{project}:events:{user_id}")
        value, text = int(record[b"value"]), record[b"value_text"].decode()
        assert text == str(value), f"user {user_id} mixes two rows"
        fresh += value >= 100_000
    assert 5_000 <= fresh < users
    store.online_store.write_batch = original
    store.write_to_online_store("events", new)  # a rerun converges
    assert store.get_online_features(["events:value"], [{"user_id": 7}]).to_dict()["value"] == [100_007]


def test_redis_killed_inside_one_write(tmp_path, project, own_redis):
    """The kill lands while Redis runs the write scripts of one batch (the moment a first new value
    is visible): whatever it interrupted, every record holds one row, never a mix."""
    import threading

    import redis

    port, start, servers = own_redis
    store = _repo(tmp_path, project, {"type": "redis", "connection_string": f"127.0.0.1:{port}"})
    users = 40_000
    store.write_to_online_store("events", rows(*[(u, DAY0 + timedelta(days=1), u) for u in range(users)]))
    new = rows(*[(u, DAY0 + timedelta(days=2), 100_000 + u) for u in range(users)])
    watcher = redis.Redis(port=port)

    def kill_on_first_new_value() -> None:
        while True:
            try:
                if int(watcher.hget(f"{project}:events:0", "value")) >= 100_000:
                    break
            except redis.exceptions.ConnectionError:
                return
        servers[-1].kill()

    killer = threading.Thread(target=kill_on_first_new_value)
    killer.start()
    try:
        store.write_to_online_store("events", new)
        failed = None
    except OnlineStoreError as err:
        failed = err
    killer.join()
    servers[-1].wait()
    if failed is not None:
        assert f"127.0.0.1:{port}" in str(failed) and "'events'" in str(failed)
    start()
    client = redis.Redis(port=port)
    fresh = 0
    for user_id in range(users):
        record = client.hgetall(f"{project}:events:{user_id}")
        value, text = int(record[b"value"]), record[b"value_text"].decode()
        assert text == str(value), f"user {user_id} mixes two rows"
        fresh += value >= 100_000
    assert fresh >= 1 and (failed is not None or fresh == users)
    store.write_to_online_store("events", new)  # a rerun converges
    assert all(int(client.hget(f"{project}:events:{u}", "value")) == 100_000 + u for u in range(0, users, 997))


def test_password_is_not_printed(tmp_path, project):
    from sqlfeat.online.redis import RedisOnlineStore
    from online.conftest import free_port

    store = _repo(tmp_path, project, {"type": "redis", "connection_string": f"127.0.0.1:{free_port()},password=sekret-pw"})
    with pytest.raises(OnlineStoreError) as failure:
        store.write_to_online_store("events", rows((1, DAY0, 1)))
    assert "sekret-pw" not in str(failure.value) and "redis online store at 127.0.0.1" in str(failure.value)
    assert isinstance(store.online_store, RedisOnlineStore)
    import asyncio

    with pytest.raises(OnlineStoreError) as failure:  # the async read fails the same way
        asyncio.run(store.get_online_features_async(["events:value"], [{"user_id": 1}, {"user_id": 2}]))
    assert "sekret-pw" not in str(failure.value) and "reading feature view 'events'" in str(failure.value)


def test_dynamodb_stopped_mid_push(tmp_path, project, monkeypatch):
    import os

    from moto.server import ThreadedMotoServer

    from online.conftest import free_port
    from sqlfeat.online import push as push_module

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", os.environ.get("AWS_ACCESS_KEY_ID", "testing"))
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"))
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    online = {"type": "dynamodb", "region": "us-east-1", "table_name": f"sqlfeat_{project}",
              "endpoint_url": f"http://127.0.0.1:{port}"}  # fmt: skip
    try:
        store = _repo(tmp_path, project, online)
        original = store.online_store.write_batch
        calls = []

        def write_then_stop(layout, batch):
            calls.append(batch.num_rows)
            if len(calls) == 2:
                server.stop()
            return original(layout, batch)

        monkeypatch.setattr(store.online_store, "write_batch", write_then_stop)
        monkeypatch.setattr(push_module, "PUSH_BATCH_ROWS", 100)
        with pytest.raises(OnlineStoreError, match=rf"(?s)dynamodb.*{port}.*stopped after 100 of 300 entities"):
            store.write_to_online_store("events", rows(*[(u, DAY0 + timedelta(days=2), u) for u in range(300)]))
    finally:
        server.stop()


def test_aggregated_views_take_raw_events_offline_only(tmp_path, project):
    from sqlfeat import Aggregation

    batch = push_source().batch_source
    view = FeatureView(name="value_sum", entities=["user"], source=PushSource(name="raw_push", batch_source=batch),
                       aggregations=[Aggregation("value", "sum", timedelta(days=30))])  # fmt: skip
    store = _repo(tmp_path, project, objects=[events_view(), view])
    events = rows((1, DAY0 + timedelta(days=2), 5)).drop(columns=["value_text", "score"])
    with pytest.raises(PushedDataError, match="windowed aggregates.*PushMode.OFFLINE"):
        store.write_to_online_store("value_sum", events)
    store.write_to_offline_store("value_sum", events)
    spine = pd.DataFrame({"user_id": [1], "event_timestamp": [DAY0 + timedelta(days=3)]})
    assert store.get_historical_features(spine, ["value_sum:value_sum_30d"]).to_df()["value_sum_30d"].tolist() == [15]
