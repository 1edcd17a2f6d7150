"""``POST /get-online-features`` in Feast's JSON, every 4xx, /health, /metrics, /openapi.json,
against one real ``sqlfeat serve`` over the machine's Redis."""

from __future__ import annotations

import httpx
import pytest

from tests.server.conftest import CLICKS_AT, PROFILE_AT, Server, served_repo


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from served_repo(tmp_path_factory)


@pytest.fixture(scope="module")
def client(server: Server):
    with httpx.Client(base_url=server.url, timeout=10) as http:
        yield http


def read(client, body, status=200):
    response = client.post("/get-online-features", json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def stamp(value) -> str:
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    micros = value.microsecond
    return text + ("Z" if not micros else f".{micros // 1000:03d}Z" if micros % 1000 == 0 else f".{micros:06d}Z")


def test_feast_json_shape(client):
    body = read(client, {"features": ["clicks:click_count", "clicks:dwell", "profile:country"],
                         "entities": {"user_id": [1, 2, 3, 5]}})  # fmt: skip
    assert body["metadata"] == {"feature_names": ["user_id", "click_count", "dwell", "country"]}
    key, count, dwell, country = body["results"]
    # join keys: the values given, PRESENT, Feast's zero timestamp
    assert key == {"values": [1, 2, 3, 5], "statuses": ["PRESENT"] * 4, "event_timestamps": ["1970-01-01T00:00:00Z"] * 4}
    assert count["values"] == [10, 20, 30, None]
    assert count["statuses"] == ["PRESENT", "PRESENT", "PRESENT", "NOT_FOUND"]
    clicked = stamp(CLICKS_AT)
    assert clicked.endswith(".123456Z")  # microseconds: 6 digits, as protobuf's JSON writes them
    assert count["event_timestamps"] == [clicked, clicked, clicked, "1970-01-01T00:00:00Z"]
    assert dwell["values"] == ["NaN", 2.5, None, None]  # NaN as protobuf's JSON writes it
    assert dwell["statuses"] == ["PRESENT", "PRESENT", "NULL_VALUE", "NOT_FOUND"]
    assert country["values"] == ["JP", None, "DE", None]
    assert country["statuses"] == ["PRESENT", "OUTSIDE_MAX_AGE", "PRESENT", "NOT_FOUND"]
    assert stamp(PROFILE_AT).endswith(".250Z") and country["event_timestamps"][0] == stamp(PROFILE_AT)


def test_request_time_features_take_request_fields_from_entities(client):
    # Feast's shape: a request field travels in `entities` beside the join keys
    body = read(client, {"features": ["boosted:boosted_clicks"], "entities": {"user_id": [1, 5], "boost": [2.0, 0.5]}})
    assert body["metadata"]["feature_names"] == ["user_id", "boosted_clicks"]
    assert body["results"][-1]["values"] == [20.0, None]
    refused = client.post("/get-online-features", json={"features": ["boosted:boosted_clicks"], "entities": {"user_id": [1]}})
    assert 400 <= refused.status_code < 500 and "boost" in refused.json()["message"], refused.text


def test_full_feature_names(client):
    body = read(client, {"features": ["clicks:click_count", "profile:country"], "entities": {"user_id": [4]},
                         "full_feature_names": True})  # fmt: skip
    assert body["metadata"]["feature_names"] == ["user_id", "clicks__click_count", "profile__country"]
    assert [r["values"] for r in body["results"]] == [[4], [40], [None]]


def test_feature_service(client):
    body = read(client, {"feature_service": "scoring", "entities": {"user_id": [1]}})
    assert body["metadata"]["feature_names"] == ["user_id", "click_count", "country"]
    assert [r["values"] for r in body["results"]] == [[1], [10], ["JP"]]


@pytest.mark.parametrize(
    "body, status, code, words",
    [
        ({"features": ["clicks:clickcount"], "entities": {"user_id": [1]}}, 404, "unknown_feature", "feature 'clickcount' is not in feature view 'clicks'"),
        ({"features": ["nope:x"], "entities": {"user_id": [1]}}, 404, "unknown_feature", "'nope'"),
        ({"feature_service": "scorin", "entities": {"user_id": [1]}}, 404, "unknown_feature", "feature service 'scorin'"),
        ({"features": ["clicks:click_count"], "entities": {"account": [1]}}, 422, "bad_entities", "no join key 'user_id'"),
        ({"features": ["clicks:click_count"], "entities": {"user_id": ["1"]}}, 422, "bad_entities", "must be Int64, got str '1'"),
        ({"features": ["clicks:click_count"], "entities": {"user_id": [1.5]}}, 422, "bad_entities", "must be Int64"),
        ({"features": ["clicks:click_count"], "entities": {"user_id": [True]}}, 422, "bad_entities", "must be Int64"),
        ({"features": ["clicks:click_count"], "entities": {"user_id": [None]}}, 422, "bad_entities", "is None"),
        ({"features": ["clicks:click_count"], "entities": {"user_id": 1}}, 422, "wrong_type", "entities.user_id must be a list"),
        ({"features": ["clicks:click_count"], "entities": {"user_id": [1], "x": [1, 2]}}, 422, "bad_entities", "different lengths"),
        ({"features": ["clicks:click_count"], "entities": [1]}, 422, "wrong_type", "`entities` must be an object"),
        ({"features": ["clicks:click_count"]}, 422, "missing_field", "no `entities`"),
        ({"entities": {"user_id": [1]}}, 422, "missing_field", "neither of `features` and `feature_service`"),
        ({"features": ["clicks:click_count"], "feature_service": "scoring", "entities": {"user_id": [1]}}, 422,
         "missing_field", "both"),
        ({"features": "clicks:click_count", "entities": {"user_id": [1]}}, 422, "wrong_type", "`features` must be"),
        ({"features": [], "entities": {"user_id": [1]}}, 422, "wrong_type", "non-empty list"),
        ({"features": ["clicks:click_count"], "entities": {"user_id": [1]}, "full_feature_names": "yes"}, 422,
         "wrong_type", "`full_feature_names` must be true or false"),
        ({"features": ["clicks:click_count"], "entitys": {"user_id": [1]}}, 422, "unknown_field", "did you mean 'entities'"),
        ([1, 2], 400, "bad_request", "must be a JSON object"),
    ],
)  # fmt: skip
def test_bad_requests_are_4xx_naming_the_problem(client, body, status, code, words):
    answer = read(client, body, status)
    assert answer["error"] == code and answer["status"] == status
    assert words in answer["message"], answer["message"]
    assert "Traceback" not in answer["message"]


@pytest.mark.parametrize("raw, words", [(b'{"features": [', "not valid JSON"), (b"", "empty"), (b"\xff\xfe", "not valid JSON")])
def test_malformed_json(client, raw, words):
    response = client.post("/get-online-features", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"] == "malformed_json"
    assert words in response.json()["message"]


def test_unknown_path_and_method_answer_json(client):
    response = client.get("/get-online-feature")
    assert response.status_code == 404 and "see /docs" in response.json()["message"]
    response = client.get("/get-online-features")
    assert response.status_code == 405 and response.json()["error"] == "method_not_allowed"


def test_health_and_description(client):
    assert client.get("/health").json()["status"] == "ok"
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.") and "post" in spec["paths"]["/get-online-features"]
    assert "/get-online-features" in client.get("/docs").text


def test_metrics_count_requests_by_endpoint_and_status(client):
    read(client, {"features": ["clicks:click_count"], "entities": {"user_id": [1]}})
    read(client, {"features": ["clicks:nope"], "entities": {"user_id": [1]}}, 404)
    text = client.get("/metrics").text
    from prometheus_client.parser import text_string_to_metric_families

    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}  # fmt: skip
    assert samples[("sqlfeat_server_requests_total", (("endpoint", "get-online-features"), ("status", "200")))] >= 1
    assert samples[("sqlfeat_server_requests_total", (("endpoint", "get-online-features"), ("status", "404")))] >= 1
    assert samples[("sqlfeat_server_request_seconds_count", (("endpoint", "get-online-features"),))] >= 2
    assert ("sqlfeat_server_request_seconds_bucket", (("endpoint", "get-online-features"), ("le", "0.001"))) in samples


def test_sigterm_shuts_down_gracefully(server):
    """Last in the module: SIGTERM stops the server cleanly, closing the store (lifespan shutdown)."""
    # uvicorn re-raises the signal once shut down: the exit is "killed by SIGTERM", after the lifespan
    assert server.stop() in (0, -15)
    log = server.log()
    assert "Application shutdown complete" in log and "Traceback" not in log, log
