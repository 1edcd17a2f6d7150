"""``GET /metrics``: Prometheus text (prometheus_client).

``sqlfeat_server_requests_total{endpoint, status}``, ``sqlfeat_server_request_seconds{endpoint}``
(a latency histogram, sub-millisecond buckets), ``sqlfeat_server_entities{endpoint}`` (entity rows
per request) and ``sqlfeat_server_online_store_errors_total{code}`` (a read the online store or
registry failed: 503s). With several workers, ``run.py`` sets ``PROMETHEUS_MULTIPROC_DIR`` before
the workers start, and every worker answers with the sum over all of them.
"""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from sqlfeat.server.endpoint import Endpoint, ServerState

BUCKETS = (0.0005, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter("sqlfeat_server_requests", "HTTP requests answered, by endpoint and status", ["endpoint", "status"])
LATENCY = Histogram("sqlfeat_server_request_seconds", "time to answer a request, by endpoint", ["endpoint"], buckets=BUCKETS)
ENTITIES = Histogram("sqlfeat_server_entities", "entity rows per request", ["endpoint"],
                     buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000, 10000))  # fmt: skip
STORE_ERRORS = Counter("sqlfeat_server_online_store_errors", "requests the online store or the registry failed (503)", ["code"])

_children: dict[tuple[str, int], tuple] = {}


def observe(endpoint: str, status: int, seconds: float, code: str | None = None) -> None:
    """Count one answered request and its latency."""
    child = _children.get((endpoint, status))
    if child is None:
        child = _children[(endpoint, status)] = (REQUESTS.labels(endpoint, str(status)), LATENCY.labels(endpoint))
    child[0].inc()
    child[1].observe(seconds)
    if status == 503 and code:
        STORE_ERRORS.labels(code).inc()


def entities(endpoint: str, rows: int) -> None:
    ENTITIES.labels(endpoint).observe(rows)


def render() -> bytes:
    if os.environ.get(MULTIPROCESS):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def worker_exited(pid: int) -> None:
    """Forget a stopped worker's live gauges (counters and histograms keep their totals)."""
    if os.environ.get(MULTIPROCESS):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


async def metrics(request: Request, state: ServerState) -> Response:
    return Response(render(), media_type=CONTENT_TYPE_LATEST)


ENDPOINTS = [Endpoint("/metrics", "GET", metrics, "metrics", summary="Prometheus metrics (text format)")]
