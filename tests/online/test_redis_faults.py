"""Redis dies in the middle of a materialization.

A test-owned ``redis-server`` (append-only file, fsync on every write, so what it acknowledged
survives a SIGKILL) is killed between two batches; afterwards no entity may hold a mix of old and
new values, the watermark must not have moved, and a rerun must reach full consistency.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from online.helpers import DAY0, T, open_store, simple_table, simple_view
from sqlfeat.online import materialize as materialization
from sqlfeat.errors import OnlineStoreError
from sqlfeat.registry import Registry

USERS = 400


def test_redis_killed_between_batches(tmp_path, project, own_redis):
    import redis

    port, start, servers = own_redis
    old = [(u, DAY0 + timedelta(days=1, seconds=u), u) for u in range(1, USERS + 1)]
    new = [(u, DAY0 + timedelta(days=2, seconds=u), 1_000 + u) for u in range(1, USERS + 1)]
    online = {"type": "redis", "connection_string": f"127.0.0.1:{port}"}
    store = open_store(tmp_path / "repo", project, online, {"simple": simple_table(old + new)}, [simple_view()])
    first_end = DAY0 + timedelta(days=1, hours=12)
    store.materialize(DAY0, first_end)

    def kill_after_first_batch(report, run) -> None:
        if run is not None and run.batches == 1:
            servers[-1].kill()
            servers[-1].wait()

    with pytest.raises(OnlineStoreError, match="no watermark moved") as failure:
        materialization.materialize_incremental(
            store, T, batch_rows=100, on_progress=kill_after_first_batch
        )
    assert f"127.0.0.1:{port}" in str(failure.value) and "simple" in str(failure.value)
    on_disk = Registry(store.config.registry_path, store.project).materialization("simple")
    assert on_disk["watermark"] == first_end.isoformat(), "a failed run must not move the watermark"

    start()  # the same port and append-only file: what Redis acknowledged is back
    client = redis.Redis(port=port)
    states = []
    for user in range(1, USERS + 1):
        record = client.hgetall(f"{project}:simple:{user}")
        value, text = int(record[b"value"]), record[b"value_text"].decode()
        assert text == str(value), f"user {user} mixes two rows: value {value}, value_text {text!r}"
        assert value in (user, 1_000 + user)
        states.append(value > 1_000)
    assert 0 < sum(states) < USERS, "the kill landed mid-run: some entities new, the rest still old"

    store.materialize_incremental(T)
    report = store.check_consistency()
    assert report.ok and report.views[0].matched == USERS, report.summary()
    values = store.get_online_features(["simple:value"], [{"user_id": u} for u in range(1, USERS + 1)], as_of=T)
    assert values.to_dict()["value"] == [1_000 + u for u in range(1, USERS + 1)]


def test_redis_killed_in_the_middle_of_a_batch(tmp_path, project, own_redis):
    """The kill lands while a batch's script calls are still streaming (a watcher thread fires
    as soon as Redis has run the first one)."""
    import threading
    import time

    import redis

    port, start, servers = own_redis
    users = 30_000
    old = [(u, DAY0 + timedelta(days=1), u) for u in range(1, users + 1)]
    new = [(u, DAY0 + timedelta(days=2), 1_000_000 + u) for u in range(1, users + 1)]
    online = {"type": "redis", "connection_string": f"127.0.0.1:{port}"}
    store = open_store(tmp_path / "repo", project, online, {"simple": simple_table(old + new)}, [simple_view()])
    first_end = DAY0 + timedelta(days=1, hours=12)
    store.materialize(DAY0, first_end)
    watcher = redis.Redis(port=port)
    watcher.config_resetstat()
    done = threading.Event()

    def kill_once_writing() -> None:
        while not done.is_set():
            if watcher.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0) >= 1:
                servers[-1].kill()
                return
            time.sleep(0.0005)

    thread = threading.Thread(target=kill_once_writing, daemon=True)
    thread.start()
    with pytest.raises(OnlineStoreError, match="no watermark moved"):
        store.materialize_incremental(T)
    done.set()
    thread.join()
    servers[-1].wait()
    on_disk = Registry(store.config.registry_path, store.project).data["materializations"]["simple"]
    assert on_disk["watermark"] == first_end.isoformat()

    start()
    client = redis.Redis(port=port)
    pipe = client.pipeline(transaction=False)
    for user in range(1, users + 1):
        pipe.hmget(f"{project}:simple:{user}", ["value", "value_text", ":ts"])
    fresh = 0
    for user, (value, text, stamp) in enumerate(pipe.execute(), start=1):
        assert text.decode() == value.decode(), f"user {user} mixes two rows"
        is_new = int(value) > 1_000_000
        assert int(stamp) == int((DAY0 + timedelta(days=2 if is_new else 1)).timestamp() * 1e6)
        fresh += is_new
    assert 0 < fresh < users, f"{fresh} of {users} entities were updated before the kill"

    store.materialize_incremental(T)
    assert store.check_consistency(sample=2_000).ok
