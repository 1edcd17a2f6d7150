"""``sqlfeat serve`` started for real: a feature repo materialized into Redis, the server in a
subprocess on a free port (one per test module), spoken to over HTTP with httpx.

The machine's Redis (``SQLFEAT_TEST_REDIS``, DB ``REDIS_DB``) holds the values under a project
name of the module's own, deleted afterwards; outage tests start their own ``redis-server``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from tests.online.conftest import REDIS, free_port, unavailable

REDIS_DB = 13  # this suite's own database on the machine's Redis
NOW = datetime.now(timezone.utc).replace(microsecond=0)
# event times with microseconds (123456) and milliseconds (250000): the Timestamp JSON formats
CLICKS_AT = NOW - timedelta(hours=1) + timedelta(microseconds=123456)
PROFILE_AT = NOW - timedelta(days=2) + timedelta(microseconds=250000)
OLD_AT = NOW - timedelta(days=400)

DEFINITIONS = '''
from datetime import timedelta
from sqlfeat import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from sqlfeat.types import Float64, Int64, String

user = Entity(name="user_id", value_type=ValueType.INT64)
clicks = FeatureView(
    name="clicks", entities=[user], ttl=timedelta(days=30),
    schema=[Field(name="click_count", dtype=Int64), Field(name="dwell", dtype=Float64)],
    source=FileSource(path="data/clicks.parquet", timestamp_field="event_time"),
)
profile = FeatureView(
    name="profile", entities=[user], ttl=timedelta(days=90),
    schema=[Field(name="country", dtype=String)],
    source=FileSource(path="data/profile.parquet", timestamp_field="event_time"),
)
scoring = FeatureService(name="scoring", features=[clicks[["click_count"]], profile])

from sqlfeat import OnDemandFeatureView, RequestSource
request = RequestSource(name="request", schema=[Field(name="boost", dtype=Float64)])
boosted = OnDemandFeatureView(name="boosted", sources=[clicks, request],
                              schema=[Field(name="boosted_clicks", dtype=Float64, expression="click_count * boost")])
'''


def write_repo(root: Path, project: str, online: dict, server: dict | None = None) -> Path:
    """Users 1-4: 1 has everything; 2's profile is past its TTL; 3's dwell is null; 4 has only
    clicks; 5 nothing. dwell of user 1 is NaN (JSON: "NaN")."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    config = {"project": project, "registry": "data/registry.json", "offline_store": {"type": "duckdb"},
              "online_store": online, **({"feature_server": server} if server else {})}  # fmt: skip
    (root / "feature_store.yaml").write_text(yaml.safe_dump(config))
    (root / "definitions.py").write_text(DEFINITIONS)
    ts = pa.timestamp("us", tz="UTC")
    pq.write_table(pa.table({
        "user_id": pa.array([1, 2, 3, 4], pa.int64()), "event_time": pa.array([CLICKS_AT] * 4, ts),
        "click_count": pa.array([10, 20, 30, 40], pa.int64()), "dwell": pa.array([float("nan"), 2.5, None, 4.0]),
    }), root / "data" / "clicks.parquet")  # fmt: skip
    pq.write_table(pa.table({
        "user_id": pa.array([1, 2, 3], pa.int64()), "event_time": pa.array([PROFILE_AT, OLD_AT, PROFILE_AT], ts),
        "country": pa.array(["JP", "FR", "DE"]),
    }), root / "data" / "profile.parquet")  # fmt: skip
    return root


def materialize(root: Path) -> None:
    from sqlfeat import FeatureStore

    with FeatureStore(repo_path=root) as store:
        store.apply()
        store.materialize(NOW - timedelta(days=500), NOW)


class Server:
    """``sqlfeat serve`` in a subprocess; ``url``, ``log()`` (its output so far), ``stop()``."""

    def __init__(self, root: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.output = root.parent / f"server-{self.port}.log"
        command = [sys.executable, "-c", "from sqlfeat.cli import main; main()", "--chdir", str(root), "serve",
                   "--port", str(self.port), *args]  # fmt: skip
        with open(self.output, "wb") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        self._wait()

    def _wait(self) -> None:
        import httpx

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"sqlfeat serve exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"sqlfeat serve did not answer /health within 30 s:\n{self.log()}")

    def log(self) -> str:
        return self.output.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def redis_online(project: str) -> dict:
    try:
        import redis

        host, _, port = REDIS.rpartition(":")
        redis.Redis(host=host, port=int(port), db=REDIS_DB, socket_connect_timeout=2).ping()
    except Exception as err:  # noqa: BLE001 - unreachable for any reason
        unavailable(f"Redis at {REDIS} is unreachable: {err}")
    return {"type": "redis", "connection_string": f"{REDIS},db={REDIS_DB}"}


def delete_project_keys(project: str) -> None:
    import redis

    host, _, port = REDIS.rpartition(":")
    client = redis.Redis(host=host, port=int(port), db=REDIS_DB)
    keys = list(client.scan_iter(match=f"{project}:*", count=1_000))
    if keys:
        client.unlink(*keys)
    client.close()


def served_repo(tmp_path_factory, server: dict | None = None, *args: str, env: dict | None = None) -> Iterator[Server]:
    """A module's repo in the machine's Redis and its running server, torn down afterwards."""
    project = f"srv_{uuid.uuid4().hex[:8]}"
    root = write_repo(tmp_path_factory.mktemp("serve") / "repo", project, redis_online(project), server)
    saved = {k: os.environ.get(k) for k in env or {}}
    os.environ.update(env or {})
    try:
        materialize(root)
    finally:
        for key, value in saved.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
    try:
        running = Server(root, *args, env=env)
        try:
            yield running
        finally:
            running.stop()
    finally:
        delete_project_keys(project)
