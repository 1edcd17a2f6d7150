"""A Redis that goes down while the server runs: reads answer 503 naming the store (never its
password), /health stays 200, and reads recover by themselves when Redis is back."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid

import httpx
import pytest

from tests.online.conftest import free_port, unavailable
from tests.server.conftest import Server, materialize, write_repo

PASSWORD = "outage-secret-" + uuid.uuid4().hex[:12]
READ = {"features": ["clicks:click_count"], "entities": {"user_id": [1]}}


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    """A redis-server of this module's own, with a password, that tests stop and restart."""
    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed (apt-get install redis-server)")
    import redis

    port, data = free_port(), tmp_path_factory.mktemp("redis")
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
               "--appendfsync", "always", "--dir", str(data), "--requirepass", PASSWORD]  # fmt: skip
    servers: list[subprocess.Popen] = []

    def start() -> None:
        servers.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        client = redis.Redis(port=port, password=PASSWORD, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    pytest.fail(f"redis-server on port {port} did not start")
                time.sleep(0.05)

    def stop() -> None:
        servers[-1].terminate()
        servers[-1].wait()

    start()
    yield port, start, stop
    for server in servers:
        if server.poll() is None:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory, redis_server):
    port, _, _ = redis_server
    online = {"type": "redis", "connection_string": f"127.0.0.1:{port},password=${{OUTAGE_REDIS_PASSWORD}}"}
    root = write_repo(tmp_path_factory.mktemp("outage") / "repo", "outage", online)
    import os

    os.environ["OUTAGE_REDIS_PASSWORD"] = PASSWORD
    try:
        materialize(root)
        running = Server(root)
    finally:
        os.environ.pop("OUTAGE_REDIS_PASSWORD", None)
    yield running
    running.stop()


def test_store_down_is_503_naming_it_then_recovers(server: Server, redis_server):
    port, start, stop = redis_server
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert client.post("/get-online-features", json=READ).json()["results"][1]["values"] == [10]
        stop()
        began = time.monotonic()
        response = client.post("/get-online-features", json=READ)
        assert response.status_code == 503, response.text
        assert time.monotonic() - began < 10  # fails fast, does not hang the worker
        answer = response.json()
        assert answer["error"] == "online_store_unavailable" and response.headers["retry-after"] == "1"
        assert f"redis online store at 127.0.0.1:{port}" in answer["message"]
        assert PASSWORD not in response.text and "Traceback" not in response.text
        assert client.get("/health").status_code == 200  # liveness does not depend on the store
        metrics = client.get("/metrics").text
        assert 'sqlfeat_server_online_store_errors_total{code="online_store_unavailable"} 1.0' in metrics
        start()
        response = client.post("/get-online-features", json=READ)
        assert response.status_code == 200, response.text
        assert response.json()["results"][1]["values"] == [10]
    assert PASSWORD not in server.log()
