"""Real online stores for the online suite: SQLite files, the machine's Redis, a moto DynamoDB.

Every test gets its own project name (so its own Redis keys and DynamoDB items) and cleans up.
With CI set (CI=true), a store that cannot be reached fails its tests instead of skipping them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

REDIS = os.environ.get("SQLFEAT_TEST_REDIS", "127.0.0.1:6379")
# dynamodb-batch: write_mode batch (read versions, then BatchWriteItem) instead of conditional puts.
STORES = ("sqlite", "redis", "dynamodb", "dynamodb-batch")


def required() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}


def unavailable(reason: str) -> None:
    if required():
        pytest.fail(f"{reason} (CI is set, so an unreachable online store fails the run)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def redis_address() -> str:
    try:
        import redis
    except ImportError:
        unavailable("redis-py is not installed: pip install 'sqlfeat[redis]'")
    host, _, port = REDIS.rpartition(":")
    try:
        redis.Redis(host=host, port=int(port), socket_connect_timeout=2).ping()
    except redis.exceptions.RedisError as err:
        unavailable(f"Redis at {REDIS} is unreachable: {err}")
    return REDIS


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        unavailable("moto is not installed: pip install 'moto[server]' boto3")
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ["AWS_ACCESS_KEY_ID"] = os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    try:
        server.start()
    except Exception as err:  # noqa: BLE001 - any start failure is "unavailable"
        unavailable(f"the moto server did not start: {err}")
    yield f"http://127.0.0.1:{port}"
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def project() -> str:
    return f"t_{uuid.uuid4().hex[:10]}"


def _delete_redis_keys(address: str, project: str) -> None:
    import redis

    host, _, port = address.rpartition(":")
    client = redis.Redis(host=host, port=int(port))
    keys = list(client.scan_iter(match=f"{project}:*", count=1_000))
    if keys:
        client.unlink(*keys)
    client.close()


@pytest.fixture(params=STORES)
def online_config(request, project) -> Iterator[dict]:
    """The ``online_store`` section for each store, torn down after the test."""
    kind = request.param
    if kind == "sqlite":
        yield {"type": "sqlite", "path": "data/online.db"}
    elif kind == "redis":
        address = request.getfixturevalue("redis_address")
        yield {"type": "redis", "connection_string": address}
        _delete_redis_keys(address, project)
    else:
        endpoint = request.getfixturevalue("moto_endpoint")
        table = f"sqlfeat_{project}"
        mode = "batch" if kind == "dynamodb-batch" else "conditional"
        yield {"type": "dynamodb", "region": "us-east-1", "table_name": table, "endpoint_url": endpoint,
               "write_mode": mode}  # fmt: skip
        import boto3

        client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint)
        try:
            client.delete_table(TableName=table)
        except client.exceptions.ResourceNotFoundException:
            pass


@pytest.fixture
def own_redis(tmp_path):
    """A test-owned ``redis-server`` on a free port (append-only file, fsync on every write, so
    what it acknowledged survives a SIGKILL): yields its port, a ``start()`` that (re)starts it,
    and the servers started; tests kill ``servers[-1]`` to make the store unreachable."""
    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed (apt-get install redis-server)")
    import redis

    port = free_port()
    data = tmp_path / "redis"
    data.mkdir()
    command = [
        "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
        "--appendfsync", "always", "--dir", str(data),
    ]  # fmt: skip
    servers: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        servers.append(server)
        client = redis.Redis(port=port, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return server
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail(f"redis-server on port {port} did not start")
                time.sleep(0.05)

    start()
    yield port, start, servers
    for server in servers:
        if server.poll() is None:
            server.kill()
            server.wait()
