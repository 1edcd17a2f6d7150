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
