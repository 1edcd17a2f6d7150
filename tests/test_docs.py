"""The docs' examples are executed, so they cannot drift from what sqlfeat does."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from sqlfeat import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
from sqlfeat.types import Int64

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.fixture
def store(make_repo):
    source = pd.DataFrame({
        "user_id": [1, 1, 1, 2],
        "event_time": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-01-05", "2023-11-01"], utc=True),
        "created": pd.to_datetime(["2024-01-01 01:00", "2024-01-05 01:00", "2024-01-05 02:00", "2023-11-01 01:00"], utc=True),
        "click_count": [10, 20, 21, 7],
    })
    store = FeatureStore(repo_path=make_repo({"user_clicks": source}))
    user = Entity(name="user_id", value_type=ValueType.INT64)
    store.apply([user, FeatureView(
        name="user_clicks_30d", entities=[user], ttl=timedelta(days=30),
        schema=[Field(name="click_count", dtype=Int64)],
        source=FileSource(path="data/user_clicks.parquet", timestamp_field="event_time", created_timestamp_column="created"),
    )])
    return store


SPINE_UTC = ["2024-01-04 23:59:00", "2024-01-05 00:00:00", "2023-12-01 00:00:00", "2023-12-01 00:00:01", "2024-01-05 00:00:00"]
EXPECTED = [10, 21, 7, None, None]


@pytest.mark.parametrize("strategy", ["asof", "window"])
@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai", None])
def test_concepts_worked_example(store, strategy, zone):
    times = pd.to_datetime(SPINE_UTC, utc=True)
    times = times.tz_convert(zone) if zone else times.tz_localize(None)
    spine = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "event_timestamp": times})
    result = store.get_historical_features(spine, ["user_clicks_30d:click_count"], strategy=strategy).to_df()
    got = [None if pd.isna(v) else int(v) for v in result["click_count"]]
    assert got == EXPECTED


def test_concepts_sql_is_the_compilers_output():
    golden = (Path(__file__).parent / "golden" / "duckdb" / "seed_window.sql").read_text()
    assert f"```sql\n{golden}```" in (DOCS / "concepts.md").read_text()


def test_warehouses_page_is_generated_from_the_compiler():
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_generate", DOCS / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (DOCS / "warehouses.md").read_text() == module.render(), "run `python docs/generate.py`"
    assert (DOCS / "aggregations.md").read_text() == module.render_aggregations(), "run `python docs/generate.py`"
    assert (DOCS / "configuration.md").read_text() == module.render_configuration(), "run `python docs/generate.py`"


@pytest.mark.parametrize("strategy", ["asof", "window"])
def test_aggregations_worked_example(make_repo, strategy):
    from sqlfeat import Aggregation

    events = pd.DataFrame({
        "user_id": [1, 1, 1, 1],
        "event_time": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-01-06", "2024-01-10"], utc=True),
        "click_id": [1, 2, 3, 4],
        "dwell_seconds": [10.0, 20.0, None, 40.0],
    })
    store = FeatureStore(repo_path=make_repo({"click_events": events}))
    user = Entity(name="user_id", value_type=ValueType.INT64)
    store.apply([user, FeatureView(
        name="user_click_stats", entities=[user],
        source=FileSource(path="data/click_events.parquet", timestamp_field="event_time"),
        aggregations=[Aggregation("click_id", "count", timedelta(days=7)),
                      Aggregation("dwell_seconds", "mean", timedelta(days=7))],
    )])
    spine = pd.DataFrame({"user_id": [1] * 4, "event_timestamp": pd.to_datetime(
        ["2024-01-06", "2024-01-08", "2024-01-12", "2024-02-01"], utc=True)})
    result = store.get_historical_features(
        spine, ["user_click_stats:click_id_count_7d", "user_click_stats:dwell_seconds_mean_7d"], strategy=strategy
    ).to_df()
    assert result["click_id_count_7d"].tolist() == [3, 2, 2, 0]
    assert result["dwell_seconds_mean_7d"].tolist()[:3] == [15.0, 20.0, 40.0]
    assert pd.isna(result["dwell_seconds_mean_7d"].iloc[3])
