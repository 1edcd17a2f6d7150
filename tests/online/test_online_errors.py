"""Bad input and unreachable stores: each a SqlfeatError whose message names the thing and a fix."""

from __future__ import annotations

from datetime import timedelta

import pytest

from online.conftest import free_port
from online.helpers import DAY0, T, open_store, pair_table, pair_view, simple_table, simple_view, user
from sqlfeat import FeatureStore, FeatureView
from sqlfeat.errors import ConfigError, EntityRowError, FeatureReferenceError, OnlineStoreError, SqlfeatError, UsageError

SQLITE = {"type": "sqlite", "path": "data/online.db"}


@pytest.fixture
def store(tmp_path, project) -> FeatureStore:
    tables = {"simple": simple_table([(1, DAY0, 1)]), "pair": pair_table()}
    store = open_store(tmp_path / "repo", project, SQLITE, tables, [simple_view(), pair_view()])
    store.materialize_incremental(T)
    return store


@pytest.mark.parametrize(
    ("features", "rows", "error", "message"),
    [
        (["simple:nope"], [{"user_id": 1}], FeatureReferenceError, "feature 'nope' is not in feature view 'simple'"),
        (["simpel:value"], [{"user_id": 1}], FeatureReferenceError, "Did you mean 'simple'?"),
        (["simple"], [{"user_id": 1}], FeatureReferenceError, "not of the form 'view:feature'"),
        (["simple:value"], [{"uid": 1}], EntityRowError,
         "entity row 0 has no join key 'user_id', which feature view 'simple' needs; it has ['uid']"),
        (["pair:spend"], [{"user_id": 1, "shop": "a"}, {"user_id": 1}], EntityRowError, "entity row 1 has no join key 'shop'"),
        (["simple:value"], [{"user_id": "1"}], EntityRowError,
         "join key 'user_id' of feature view 'simple' must be Int64, got str '1'; pass int('1')"),
        (["pair:spend"], [{"user_id": 1, "shop": 7}], EntityRowError, "join key 'shop' of feature view 'pair' must be String"),
        (["simple:value"], [{"user_id": None}], EntityRowError, "join key 'user_id' is None"),
        (["simple:value"], [{"user_id": True}], EntityRowError, "must be Int64, got bool True"),
        (["simple:value"], [1], EntityRowError, "entity row 0 is 1; pass a dict like {'user_id': 42}"),
    ],
)  # fmt: skip
def test_bad_requests_name_the_problem(store, features, rows, error, message):
    with pytest.raises(error) as raised:
        store.get_online_features(features, rows)
    assert message in str(raised.value)
    assert isinstance(raised.value, SqlfeatError)


def test_entity_rows_as_columns_and_numpy_keys(store):
    import numpy as np

    by_columns = store.get_online_features(["simple:value"], {"user_id": [1, 2]}, as_of=T).to_dict()
    by_rows = store.get_online_features(["simple:value"], [{"user_id": np.int64(1)}, {"user_id": 2}], as_of=T).to_dict()
    assert by_columns == by_rows == {"user_id": [1, 2], "value": [1, None]}
    import pandas as pd

    by_frame = store.get_online_features(["simple:value"], pd.DataFrame({"user_id": [1, 2]}), as_of=T).to_dict()
    assert by_frame == by_rows
    frame = store.get_online_features(["simple:value"], [{"user_id": 1}], as_of=T, full_feature_names=True).to_df()
    assert list(frame.columns) == ["user_id", "simple__value"] and frame.iloc[0, 1] == 1


def test_offline_only_views_are_refused(tmp_path, project):
    hidden = FeatureView(name="hidden", entities=[user], schema=list(simple_view().schema),
                         source=simple_view().source, online=False)  # fmt: skip
    store = open_store(tmp_path / "repo", project, SQLITE, {"simple": simple_table([(1, DAY0, 1)])}, [hidden])
    with pytest.raises(FeatureReferenceError, match="'hidden' has online=False"):
        store.get_online_features(["hidden:value"], [{"user_id": 1}])
    with pytest.raises(FeatureReferenceError, match="'hidden' has online=False"):
        store.materialize(DAY0, T, ["hidden"])
    assert store.materialize_incremental(T).runs == [], "offline-only views are skipped"


def test_bad_ranges_and_unknown_views(store):
    with pytest.raises(UsageError, match="is after end_date"):
        store.materialize(T, DAY0)
    with pytest.raises(FeatureReferenceError, match="feature view 'nope' is not registered"):
        store.materialize_incremental(T, ["nope"])


@pytest.mark.parametrize(
    ("online", "error", "message"),
    [
        ({"type": "memcached"}, ConfigError, "online_store type 'memcached' is not supported; use one of ['dynamodb', 'redis', 'sqlite']"),
        ({"type": "base"}, ConfigError, "is not supported"),
        ({"type": "redis", "connection_string": "localhost"}, ConfigError, "must look like 'host:port'"),
        ({"type": "redis", "connection_string": "127.0.0.1:1,dbx=2"}, ConfigError, "option 'dbx' is not supported"),
        ({"type": "dynamodb"}, ConfigError, "online_store.region is required"),
        ({"type": "dynamodb", "region": "us-east-1", "write_mode": "fast"}, ConfigError, "'conditional' or 'batch'"),
    ],
)  # fmt: skip
def test_bad_online_store_config(tmp_path, project, online, error, message):
    with pytest.raises(error) as raised:  # when feature_store.yaml is read, or at the first connection
        store = open_store(tmp_path / "repo", project, online, {"simple": simple_table([(1, DAY0, 1)])}, [simple_view()])
        store.get_online_features(["simple:value"], [{"user_id": 1}])
    assert message in str(raised.value)


@pytest.mark.parametrize("kind", ["redis", "dynamodb"])
def test_unreachable_store_is_a_clear_error_and_moves_no_watermark(tmp_path, project, kind, monkeypatch):
    port = free_port()  # nothing listens there
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    online = {
        "redis": {"type": "redis", "connection_string": f"127.0.0.1:{port}"},
        "dynamodb": {"type": "dynamodb", "region": "us-east-1", "endpoint_url": f"http://127.0.0.1:{port}"},
    }[kind]
    store = open_store(tmp_path / "repo", project, online, {"simple": simple_table([(1, DAY0, 1)])}, [simple_view()])
    with pytest.raises(OnlineStoreError) as raised:
        store.materialize_incremental(T)
    assert f"127.0.0.1:{port}" in str(raised.value) and "no watermark moved" in str(raised.value)
    assert store.registry.materialization("simple") is None
    with pytest.raises(OnlineStoreError, match=f"{kind} online store .*127.0.0.1:{port}.* failed reading feature view 'simple'"):
        store.get_online_features(["simple:value"], [{"user_id": 1}])


def test_registry_apply_resets_watermarks_on_breaking_changes(store):
    assert store.registry.materialization("simple")["watermark"] == T.isoformat()
    view = simple_view()
    retyped = FeatureView(name="simple", entities=view.entities, source=view.source, ttl=timedelta(days=1),
                          schema=[f for f in view.schema if f.name != "value_text"])  # fmt: skip
    plan = store.apply([retyped])
    assert plan.views_to_rematerialize == ["simple"]
    assert store.registry.materialization("simple") is None
    report = store.materialize_incremental(T)
    runs = {run.view: run for run in report.runs}
    assert runs["simple"].start is None and runs["pair"].rows == 0, "after a breaking change the next run rebuilds the full history"
    assert store.check_consistency(["simple"]).ok


def test_a_watermark_belongs_to_its_store(store, tmp_path, project):
    """Pointing the repo at another online store must not inherit the old store's watermarks."""
    import yaml

    assert store.registry.materialization("simple")["store_at"].endswith("online.db")
    config_path = tmp_path / "repo" / "feature_store.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["online_store"] = {"type": "sqlite", "path": "data/elsewhere.db"}
    config_path.write_text(yaml.safe_dump(config))
    moved = FeatureStore(repo_path=tmp_path / "repo")
    assert moved.check_consistency(["simple"]).ok is False, "nothing materialized in the new store yet"
    report = moved.materialize_incremental(T, ["simple"])
    assert report.runs[0].start is None and report.rows == 1
    assert moved.get_online_features(["simple:value"], [{"user_id": 1}], as_of=T).to_dict()["value"] == [1]
