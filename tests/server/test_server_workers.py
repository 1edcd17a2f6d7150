"""``--workers 2``: two processes behind one port, each with its own store; /metrics sums both
(prometheus_client's multiprocess mode), and SIGTERM stops them all cleanly."""

from __future__ import annotations

import httpx
import pytest

from tests.server.conftest import Server, served_repo

READ = {"features": ["clicks:click_count"], "entities": {"user_id": [2]}}
REQUESTS = 40


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from served_repo(tmp_path_factory, None, "--workers", "2")


def test_two_workers_serve_and_metrics_count_every_request(server: Server):
    for _ in range(REQUESTS):  # a new connection each time: the kernel spreads them over the workers
        response = httpx.post(server.url + "/get-online-features", json=READ, timeout=10)
        assert response.status_code == 200 and response.json()["results"][1]["values"] == [20]
    line = 'sqlfeat_server_requests_total{endpoint="get-online-features",status="200"}'
    for _ in range(5):  # whichever worker answers /metrics, it reports the sum over both
        counts = [row for row in httpx.get(server.url + "/metrics", timeout=10).text.splitlines() if row.startswith(line)]
        assert counts == [f"{line} {float(REQUESTS)}"], counts
    assert "2 workers" in server.log()


def test_sigterm_stops_every_worker(server: Server):
    assert server.stop() in (0, -15)
    log = server.log()
    assert log.count("Application shutdown complete") == 2 and "Traceback" not in log, log
