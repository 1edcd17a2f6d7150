"""The same definitions, switched only by offline_store.type, give the same rows everywhere: from a
table source or a query source, for a DataFrame spine, a spine table or a spine query."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from sqlfeat import Entity, FeatureStore, FeatureView, Field, ValueType
from sqlfeat.types import Bool, Float32, Int64, String

SOURCE = pd.DataFrame({
    "user_id": [1, 1, 1, 2, 4],
    "event_time": pd.to_datetime(
        ["2024-01-01", "2024-01-05", "2024-01-05", "2023-11-01", "2024-01-02"], utc=True),
    "created": pd.to_datetime(
        ["2024-01-01 01:00", "2024-01-05 01:00", "2024-01-05 02:00", "2023-11-01 01:00", "2024-01-02 01:00"], utc=True),
    "click_count": [10, 20, 21, 7, 3],
    "avg_dwell": pd.Series([1.5, 2.5, 2.75, 1.0, None], dtype="float32"),
    "category": ["a", "b", "c", None, "d"],
    "premium": [True, False, True, None, False],
})
SPINE_UTC = ["2024-01-04 23:59:00", "2024-01-05 00:00:00", "2023-12-01 00:00:00", "2023-12-01 00:00:01",
             "2024-01-05 00:00:00", "2024-01-05 00:00:00", "2024-01-05 00:00:00"]
SPINE_USERS = [1, 1, 2, 2, 3, 4, 1]
EXPECTED = {
    "click_count": [10, 21, 7, None, None, 3, 21],
    "avg_dwell": [1.5, 2.75, 1.0, None, None, None, 2.75],
    "category": ["a", "c", None, None, None, "d", "c"],
    "premium": [True, True, None, None, None, False, True],
}


def unique(tmp_path, prefix: str) -> str:
    return f"{prefix}_{tmp_path.name[-12:].replace('-', '_')}"


@pytest.fixture(params=["table_source", "query_source"])
def store(warehouse, tmp_path, request):
    from conftest import write_repo

    repo = write_repo(tmp_path / "repo", offline_store=warehouse.offline_store)
    source = warehouse.source(
        repo, unique(tmp_path, "clicks"), SOURCE, query=request.param == "query_source",
        timestamp_field="event_time", created_timestamp_column="created",
    )
    user = Entity(name="user_id", value_type=ValueType.INT64)
    view = FeatureView(
        name="user_clicks", entities=[user], ttl=timedelta(days=30), source=source,
        schema=[Field(name="click_count", dtype=Int64), Field(name="avg_dwell", dtype=Float32),
                Field(name="category", dtype=String), Field(name="premium", dtype=Bool)],
    )
    s = FeatureStore(repo_path=repo)
    s.apply([user, view])
    yield s
    s.close()


ZONES = ["Asia/Shanghai", "America/Los_Angeles", "UTC", "Europe/Paris", "Pacific/Kiritimati"]


def spine_times(zone: str | None) -> pd.Series | pd.DatetimeIndex:
    times = pd.to_datetime(SPINE_UTC, utc=True)
    if zone == "several":  # each row in its own zone: pandas keeps them as objects
        return pd.Series([t.tz_convert(ZONES[i % len(ZONES)]) for i, t in enumerate(times)], dtype=object)
    return times.tz_convert(zone) if zone else times.tz_localize(None)


@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai", None, "several"])
def test_same_rows_on_every_warehouse(store, warehouse, zone):
    # "several": an aware column in several zones was refused ("holds ['Timestamp'], not timestamps").
    spine = pd.DataFrame({
        "user_id": SPINE_USERS, "event_timestamp": spine_times(zone), "label": range(len(SPINE_USERS)),
    })
    job = store.get_historical_features(spine, [f"user_clicks:{f}" for f in EXPECTED], strategy=warehouse.strategy)
    result = job.to_df()
    pd.testing.assert_frame_equal(result[spine.columns], spine)
    for feature, expected in EXPECTED.items():
        got = [None if pd.isna(v) else v for v in result[feature]]
        assert got == pytest.approx(expected) if feature == "avg_dwell" else got == expected, feature
    table = job.to_arrow()
    assert [str(table.schema.field(f).type) for f in EXPECTED] == ["int64", "float", "string", "bool"]


@pytest.mark.parametrize("spine_kind", ["spine_table", "spine_query"])
def test_same_rows_from_a_spine_in_the_warehouse(store, warehouse, tmp_path, spine_kind):
    # PostgreSQL refused a query (source or spine) read as an unaliased subquery.
    spine = pd.DataFrame({
        "user_id": SPINE_USERS, "event_timestamp": pd.to_datetime(SPINE_UTC, utc=True), "label": range(len(SPINE_USERS)),
    })
    entity_df = warehouse.spine(store, unique(tmp_path, "spine"), spine, query=spine_kind == "spine_query")
    job = store.get_historical_features(entity_df, [f"user_clicks:{f}" for f in EXPECTED], strategy=warehouse.strategy)
    result = job.to_df().sort_values("label").reset_index(drop=True)
    assert result["label"].tolist() == list(range(len(SPINE_USERS)))
    assert result["user_id"].tolist() == SPINE_USERS
    for feature, expected in EXPECTED.items():
        got = [None if pd.isna(v) else v for v in result[feature]]
        assert got == pytest.approx(expected) if feature == "avg_dwell" else got == expected, feature


def test_checks_read_table_and_query_sources_on_every_warehouse(store):
    # `sqlfeat check` queries the source relation itself (profiles, duplicates, leakage).
    from datetime import datetime, timezone

    from sqlfeat.checks import data, leakage
    from sqlfeat.checks.definitions import CheckedViews, check_schema

    checked = CheckedViews({v.name: v for v in store.list_feature_views()}, {e.name: e for e in store.list_entities()})
    results = check_schema(checked, store)
    results += data.check(checked, store, datetime(2024, 2, 1, tzinfo=timezone.utc))
    results += leakage.check(checked, store, 5)
    assert {r.check for r in results} >= {"schema", "keys_not_null", "unique_rows", "freshness", "leakage"}
    assert [r.message for r in results if r.status != "pass"] == []
