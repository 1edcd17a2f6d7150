"""``POST /push`` and ``POST /write-to-online-store`` against one real ``sqlfeat serve`` over the
machine's Redis: Feast's request bodies, rows read back through ``/get-online-features`` and
offline, the no-regress rule, and every bad request a 4xx naming the problem."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from tests.server.conftest import Server, delete_project_keys, redis_online

NOW = datetime.now(timezone.utc).replace(microsecond=0)
DEFINITIONS = '''
from datetime import timedelta
from sqlfeat import Entity, FeatureView, Field, FileSource, PushSource, ValueType
from sqlfeat.types import Float64, Int64

user = Entity(name="user_id", value_type=ValueType.INT64)
batch = FileSource(name="events", path="data/events/*.parquet", timestamp_field="event_time")
events = FeatureView(
    name="events", entities=[user], ttl=timedelta(days=30),
    schema=[Field(name="clicks", dtype=Int64), Field(name="score", dtype=Float64)],
    source=PushSource(name="events_push", batch_source=batch),
)
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from sqlfeat import FeatureStore

    project = f"srvw_{uuid.uuid4().hex[:8]}"
    root = tmp_path_factory.mktemp("serve_writes") / "repo"
    (root / "data" / "events").mkdir(parents=True)
    config = {"project": project, "registry": "data/registry.json", "offline_store": {"type": "duckdb"},
              "online_store": redis_online(project)}  # fmt: skip
    (root / "feature_store.yaml").write_text(yaml.safe_dump(config))
    (root / "definitions.py").write_text(DEFINITIONS)
    pq.write_table(pa.table({
        "user_id": pa.array([1], pa.int64()), "event_time": pa.array([NOW - timedelta(days=1)], pa.timestamp("us", tz="UTC")),
        "clicks": pa.array([1], pa.int64()), "score": pa.array([0.5]),
    }), root / "data" / "events" / "part-0.parquet")  # fmt: skip
    with FeatureStore(repo_path=root) as store:
        store.apply()
    running = Server(root)
    try:
        yield running, root
    finally:
        running.stop()
        delete_project_keys(project)


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server[0].url, timeout=20) as http:
        yield http


def at(delta: timedelta, zone: timezone = timezone.utc) -> str:
    return (NOW + delta).astimezone(zone).isoformat()


def online(client, user: int) -> dict:
    body = {"features": ["events:clicks", "events:score"], "entities": {"user_id": [user]}}
    response = client.post("/get-online-features", json=body)
    assert response.status_code == 200, response.text
    key, clicks, score = response.json()["results"]
    return {"clicks": clicks["values"][0], "score": score["values"][0], "status": clicks["statuses"][0]}


def test_push_online_then_read_it_back(client):
    shanghai = timezone(timedelta(hours=8))
    df = {"user_id": [10, 11], "event_time": [at(-timedelta(hours=2), shanghai), at(-timedelta(hours=2))],
          "clicks": [7, 8], "score": [1.5, None]}  # fmt: skip
    response = client.post("/push", json={"push_source_name": "events_push", "df": df, "to": "online"})
    assert response.status_code == 200, response.text
    assert response.json()["rows"] == 2
    assert online(client, 10) == {"clicks": 7, "score": 1.5, "status": "PRESENT"}
    assert online(client, 11)["clicks"] == 8 and online(client, 11)["score"] is None


def test_an_older_row_never_overwrites_a_newer_one(client):
    newer = {"user_id": [20], "event_time": [at(-timedelta(hours=1))], "clicks": [2], "score": [2.0]}
    older = {"user_id": [20], "event_time": [at(-timedelta(hours=5))], "clicks": [1], "score": [1.0]}
    assert client.post("/write-to-online-store", json={"feature_view_name": "events", "df": newer}).status_code == 200
    assert client.post("/write-to-online-store", json={"feature_view_name": "events", "df": older}).status_code == 200
    assert online(client, 20)["clicks"] == 2


def test_push_offline_appends_to_the_batch_source(client, server):
    from sqlfeat import FeatureStore

    root = server[1]
    before = sorted(p.name for p in (root / "data" / "events").iterdir())
    df = {"user_id": [30], "event_time": [at(-timedelta(hours=3))], "clicks": [30], "score": [3.0]}
    response = client.post("/push", json={"push_source_name": "events_push", "df": df, "to": "online_and_offline"})
    assert response.status_code == 200, response.text
    after = sorted(p.name for p in (root / "data" / "events").iterdir())
    assert set(before) < set(after), "a new parquet file, the old ones untouched"
    assert online(client, 30)["clicks"] == 30
    import pandas as pd

    spine = pd.DataFrame({"user_id": [30, 1], "event_timestamp": [NOW, NOW]})
    with FeatureStore(repo_path=root) as store:
        got = store.get_historical_features(spine, ["events:clicks"]).to_df()
    assert got.sort_values("user_id")["clicks"].tolist() == [1, 30]


@pytest.mark.parametrize(
    ("path", "body", "status", "code", "named"),
    [
        ("/push", {"push_source_name": "nope", "df": {"user_id": [1]}}, 404, "unknown_feature", "nope"),
        ("/push", {"push_source_name": "events_push", "df": {"user_id": [1], "event_time": [at(timedelta())],
                                                              "clicks": [1]}}, 422, "bad_rows", "score"),
        ("/push", {"push_source_name": "events_push", "df": {"user_id": [1], "event_time": ["soon"], "clicks": [1],
                                                              "score": [1.0]}}, 422, "bad_rows", "ISO 8601"),
        ("/push", {"push_source_name": "events_push", "df": {"user_id": [1], "event_time": [at(timedelta())],
                                                              "clicks": ["many"], "score": [1.0]}}, 422, "bad_rows", "clicks"),
        ("/push", {"push_source_name": "events_push", "to": "sideways", "df": {"user_id": [1]}}, 422, "wrong_type", "sideways"),
        ("/push", {"push_source": "events_push", "df": {"user_id": [1]}}, 422, "unknown_field", "push_source_name"),
        ("/push", {"push_source_name": "events_push", "df": {"user_id": [1, 2], "clicks": [1]}}, 422, "bad_rows", "lengths"),
        ("/push", {"push_source_name": "events_push", "df": [1]}, 422, "wrong_type", "df"),
        ("/write-to-online-store", {"feature_view_name": "nope", "df": {"user_id": [1]}}, 404, "unknown_feature", "nope"),
        ("/write-to-online-store", {"df": {"user_id": [1]}}, 422, "missing_field", "feature_view_name"),
    ],
)
def test_bad_writes_are_4xx_naming_the_problem(client, path, body, status, code, named):
    response = client.post(path, json=body)
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["error"] == code and named in payload["message"], payload


def test_a_refused_push_writes_nothing(client):
    df = {"user_id": [40, 41], "event_time": [at(-timedelta(hours=1)), "later"], "clicks": [4, 4], "score": [4.0, 4.0]}
    assert client.post("/push", json={"push_source_name": "events_push", "df": df}).status_code == 422
    assert online(client, 40)["status"] == "NOT_FOUND"


def test_openapi_describes_the_write_bodies(client):
    paths = client.get("/openapi.json").json()["paths"]
    schema = paths["/push"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["push_source_name", "df"]
    assert "feature_view_name" in paths["/write-to-online-store"]["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]
