"""API keys (from an environment variable, never printed) and request limits, against a real
``sqlfeat serve`` configured by feature_store.yaml, with CLI flags overriding it."""

from __future__ import annotations

import httpx
import pytest

from tests.server.conftest import Server, served_repo

KEY = "k3y-" + "0123456789abcdef" * 2
OTHER = "k3y-" + "fedcba9876543210" * 2
SETTINGS = {
    "host": "127.0.0.2",  # overridden by --host below: the flag wins
    "workers": 1,
    "auth": {"api_keys": ["${SQLFEAT_TEST_API_KEY}", OTHER]},
    "limits": {"max_body_bytes": 2_000, "max_entities": 5, "max_features": 2},
}
READ = {"features": ["clicks:click_count"], "entities": {"user_id": [1]}}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from served_repo(tmp_path_factory, SETTINGS, "--host", "127.0.0.1", env={"SQLFEAT_TEST_API_KEY": KEY})


@pytest.fixture(scope="module")
def client(server: Server):
    with httpx.Client(base_url=server.url, timeout=10) as http:
        yield http


def test_the_startup_line_and_the_log_never_show_a_key(server, client):
    client.post("/get-online-features", json=READ, headers={"X-API-Key": "wrong-key-1234567890"})
    log = server.log()
    assert "API keys required (X-API-Key)" in log and "http://127.0.0.1:" in log
    assert KEY not in log and OTHER not in log


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "nope"}, {"Authorization": "Bearer nope"}, {"X-API-Key": KEY[:-1]}])
def test_a_missing_or_wrong_key_is_401(client, headers):
    response = client.post("/get-online-features", json=READ, headers=headers)
    assert response.status_code == 401 and response.json()["error"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"
    assert KEY not in response.text


@pytest.mark.parametrize("headers", [{"X-API-Key": KEY}, {"x-api-key": OTHER}, {"Authorization": f"Bearer {KEY}"}])
def test_a_configured_key_is_accepted(client, headers):
    response = client.post("/get-online-features", json=READ, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["results"][1]["values"] == [10]


def test_metrics_need_a_key_health_and_docs_do_not(client):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"X-API-Key": KEY}).status_code == 200
    assert client.get("/health").status_code == 200
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["apiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}


@pytest.mark.parametrize(
    "body, status, code, words",
    [
        ({"features": ["clicks:click_count"], "entities": {"user_id": list(range(6))}}, 413, "too_many_entities",
         "6 entity rows; this server serves at most 5"),
        ({"features": ["clicks:click_count", "clicks:dwell", "profile:country"], "entities": {"user_id": [1]}}, 413,
         "too_many_features", "at most 2"),
        ({"features": ["clicks:click_count"], "entities": {"user_id": [1] * 1_000}}, 413, "body_too_large",
         "at most 2,000 (feature_server.limits.max_body_bytes)"),
    ],
)  # fmt: skip
def test_limits(client, body, status, code, words):
    response = client.post("/get-online-features", json=body, headers={"X-API-Key": KEY})
    assert response.status_code == status and response.json()["error"] == code, response.text
    assert words in response.json()["message"]


def test_a_chunked_body_over_the_limit_is_refused(client):
    def chunks():
        yield b'{"features": ["clicks:click_count"], "entities": {"user_id": ['
        for _ in range(500):
            yield b"1, 1, 1, 1, "
        yield b"1]}}"

    response = client.post("/get-online-features", content=chunks(), headers={"X-API-Key": KEY})
    assert response.status_code == 413 and response.json()["error"] == "body_too_large"
