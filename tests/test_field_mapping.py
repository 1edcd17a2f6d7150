"""``field_mapping`` renames source columns for features, join keys and, as in Feast, the
timestamp fields: ``timestamp_field`` and ``created_timestamp_column`` may name a column by its
mapped name. Every warehouse and strategy: retrieval, materialization, online read."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from sqlfeat import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
from sqlfeat.errors import DefinitionError, SchemaMismatchError
from sqlfeat.types import Int64

UTC = timezone.utc
T0 = datetime(2024, 3, 1, tzinfo=UTC)
# raw column names; the view sees event_time, created, user_id and click_count
RAW = pd.DataFrame({
    "uid": [1, 1, 1, 2],
    "ts_raw": [T0 - timedelta(days=3), T0 - timedelta(days=1), T0 - timedelta(days=1), T0 - timedelta(days=2)],
    "made_raw": [T0 - timedelta(days=3), T0 - timedelta(hours=20), T0 - timedelta(hours=22), T0 - timedelta(days=2)],
    "cc": [5, 21, 20, 7],
})
MAPPING = {"uid": "user_id", "ts_raw": "event_time", "made_raw": "created", "cc": "click_count"}
user = Entity(name="user_id", value_type=ValueType.INT64)


def test_timestamp_fields_may_use_their_mapped_names(warehouse, tmp_path):
    from conftest import write_repo

    repo = write_repo(tmp_path / "repo", offline_store=warehouse.offline_store)
    name = f"mapped_{tmp_path.name[-12:].replace('-', '_')}"
    source = warehouse.source(repo, name, RAW, timestamp_field="event_time", created_timestamp_column="created",
                              field_mapping=MAPPING)  # fmt: skip
    assert (source.event_time_column, source.created_time_column) == ("ts_raw", "made_raw")
    view = FeatureView(name="clicks", entities=[user], ttl=timedelta(days=30), source=source,
                       schema=[Field(name="click_count", dtype=Int64)])  # fmt: skip
    store = FeatureStore(repo_path=repo)
    store.apply([user, view])
    spine = pd.DataFrame({"user_id": [1, 1, 2], "event_timestamp": [T0, T0 - timedelta(days=2), T0 - timedelta(days=3)]})
    result = store.get_historical_features(spine, ["clicks:click_count"], strategy=warehouse.strategy).to_df()
    # user 1 at T0: two rows at T0-1d; the later created (T0-20h) wins: 21
    assert [None if pd.isna(v) else v for v in result["click_count"]] == [21, 5, None]
    store.materialize(T0 - timedelta(days=10), T0)
    online = store.get_online_features(["clicks:click_count"], [{"user_id": 1}, {"user_id": 2}], as_of=T0).to_dict()
    assert online["click_count"] == [21, 7]


def test_a_mapped_timestamp_name_that_is_no_timestamp_names_both(make_repo):
    frame = RAW.assign(ts_raw=RAW["cc"])
    repo = make_repo({"raw": frame})
    source = FileSource(path="data/raw.parquet", timestamp_field="event_time", field_mapping={"ts_raw": "event_time"})
    view = FeatureView(name="clicks", entities=[Entity(name="uid")], source=source, schema=[Field(name="cc", dtype=Int64)])
    with pytest.raises(SchemaMismatchError, match="timestamp_field 'event_time' \\(source column 'ts_raw'\\) has type BIGINT"):
        FeatureStore(repo_path=repo).apply([view])


def test_a_feature_reading_the_timestamp_column_is_refused():
    source = FileSource(path="data/raw.parquet", timestamp_field="event_time", field_mapping={"ts_raw": "event_time"})
    with pytest.raises(DefinitionError, match="field 'ts_raw' is the source's timestamp column"):
        FeatureView(name="clicks", entities=[], source=source, schema=[Field(name="ts_raw", dtype=Int64)])
