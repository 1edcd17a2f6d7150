"""Retrieval jobs: DataFrame and in-warehouse spines, to_df / to_arrow / to_table, job.sql."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pandas as pd
import pytest

from sqlfeat import DuckDBSource, Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
from sqlfeat.errors import EntityDataFrameError, FeatureReferenceError, SchemaMismatchError
from sqlfeat.types import Float32, Int64, String

user = Entity(name="user_id", value_type=ValueType.INT64)
FEATURES = ["user_clicks:click_count", "user_clicks:top_category"]


def clicks_view(source=None) -> FeatureView:
    return FeatureView(
        name="user_clicks", entities=[user], ttl=timedelta(days=30),
        schema=[Field(name="click_count", dtype=Int64), Field(name="avg_dwell_seconds", dtype=Float32),
                Field(name="top_category", dtype=String)],
        source=source or FileSource(path="data/clicks.parquet", timestamp_field="event_time",
                                    created_timestamp_column="created"),
    )


@pytest.fixture
def store(make_repo, clicks_frame):
    s = FeatureStore(repo_path=make_repo({"clicks": clicks_frame}, extra="  database: data/warehouse.duckdb\n"))
    s.apply([user, clicks_view()])
    yield s
    s.close()


SPINE = pd.DataFrame({
    "user_id": [1, 1, 2, 4, 1],
    "event_timestamp": pd.to_datetime(
        ["2024-01-05 01:30", "2024-01-04 00:00", "2024-02-01 00:00", "2024-01-05 00:00", "2024-01-05 01:30"], utc=True),
    "label": [1, 0, 1, 0, 1],
}, index=[10, 11, 12, 13, 10])


def test_dataframe_spine_keeps_columns_index_and_order(store):
    result = store.get_historical_features(SPINE, FEATURES).to_df()
    assert list(result.columns) == ["user_id", "event_timestamp", "label", "click_count", "top_category"]
    assert list(result.index) == [10, 11, 12, 13, 10]
    pd.testing.assert_frame_equal(result[SPINE.columns], SPINE)
    # created-timestamp tie-break picks 21 at 2024-01-05; user 2's 2024-01-10 row is within 30 days.
    assert result["click_count"].tolist()[:3] == [21, 10, 6]
    assert pd.isna(result["click_count"].iloc[3])
    assert result["top_category"].tolist()[:3] == ["music", "news", "games"]


def test_to_arrow_has_declared_types(store):
    table = store.get_historical_features(SPINE, FEATURES).to_arrow()
    assert str(table.schema.field("click_count").type) == "int64"
    assert str(table.schema.field("top_category").type) == "string"
    assert table.num_rows == len(SPINE)


def test_job_sql_is_what_runs(store):
    job = store.get_historical_features(SPINE, FEATURES, strategy="window")
    assert "QUALIFY" in job.sql and "ASOF" not in job.sql
    assert "ASOF LEFT JOIN" in store.get_historical_features(SPINE, FEATURES, strategy="asof").sql


def _warehouse_spine(store) -> None:
    con = store.offline_store.connection
    con.register("spine_df", SPINE.reset_index(drop=True))
    con.execute("CREATE OR REPLACE TABLE training_rows AS SELECT * FROM spine_df")
    con.unregister("spine_df")


def test_sql_spine_stays_in_the_warehouse(store):
    _warehouse_spine(store)
    expected = store.get_historical_features(SPINE, FEATURES).to_df().reset_index(drop=True)
    for entity_df in ("training_rows", "SELECT * FROM training_rows"):
        job = store.get_historical_features(entity_df, FEATURES)
        got = job.to_df().sort_values(["event_timestamp", "user_id", "label"]).reset_index(drop=True)
        want = expected.sort_values(["event_timestamp", "user_id", "label"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(got[want.columns], want, check_dtype=False)


def test_to_table_writes_inside_the_warehouse(store):
    job = store.get_historical_features(SPINE, FEATURES)
    assert job.to_table("training_set") == "training_set"
    rows = store.offline_store.connection.execute(
        "SELECT user_id, label, click_count FROM training_set ORDER BY event_timestamp, user_id, label"
    ).fetchall()
    assert len(rows) == len(SPINE)
    assert (1, 0, 10) in rows and (4, 0, None) in rows


def test_duckdb_table_source(store):
    con = store.offline_store.connection
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.register("clicks_df", pd.read_parquet(store.repo_path / "data" / "clicks.parquet"))
    con.execute("CREATE OR REPLACE TABLE raw.clicks AS SELECT * FROM clicks_df")
    view = clicks_view(DuckDBSource(table="raw.clicks", timestamp_field="event_time", created_timestamp_column="created"))
    store.apply([view])
    result = store.get_historical_features(SPINE, FEATURES).to_df()
    assert result["click_count"].tolist()[:3] == [21, 10, 6]


def test_source_schema_drift_after_apply_is_named(store):
    drifted = pd.read_parquet(store.repo_path / "data" / "clicks.parquet").drop(columns=["top_category"])
    drifted.to_parquet(store.repo_path / "data" / "clicks.parquet")
    with pytest.raises(SchemaMismatchError, match="'user_clicks'.*no column 'top_category'"):
        store.get_historical_features(SPINE, FEATURES)


@pytest.mark.parametrize(
    ("spine", "error", "message"),
    [
        (SPINE.drop(columns=["user_id"]), EntityDataFrameError, "no join key column 'user_id'"),
        (SPINE.rename(columns={"event_timestamp": "ts"}).assign(ts2=SPINE.event_timestamp), EntityDataFrameError, "event_timestamp"),
        (SPINE.drop(columns=["event_timestamp"]), EntityDataFrameError, "needs exactly one timestamp column"),
        (SPINE.assign(event_timestamp=SPINE.event_timestamp.astype(str)), EntityDataFrameError, "'event_timestamp' is not a timestamp"),
        (SPINE.assign(user_id=SPINE.user_id.astype(str)), EntityDataFrameError, "'user_id' is TEXT but feature view 'user_clicks' keys it as BIGINT"),
        (SPINE.assign(click_count=1), EntityDataFrameError, "already has a column 'click_count'"),
    ],
)
def test_bad_spines_are_named(store, spine, error, message):
    with pytest.raises(error, match=message):
        store.get_historical_features(spine, FEATURES)


def test_mixed_naive_and_aware_spine_is_refused(store):
    mixed = SPINE.head(2).astype({"event_timestamp": object})
    mixed.loc[11, "event_timestamp"] = pd.Timestamp("2024-01-04")
    with pytest.raises(EntityDataFrameError, match="mixes naive and time-zone-aware"):
        store.get_historical_features(mixed, FEATURES)


@pytest.mark.parametrize(
    ("features", "message"),
    [
        (["user_clicks:nope"], "feature 'nope' is not in feature view 'user_clicks'"),
        (["user_click:click_count"], "feature view 'user_click'.*not registered.*Did you mean 'user_clicks'"),
        (["click_count"], "not of the form 'view:feature'"),
    ],
)
def test_unknown_features_are_named(store, features, message):
    with pytest.raises(FeatureReferenceError, match=message):
        store.get_historical_features(SPINE, features)


def test_an_unknown_feature_is_a_key_error_as_in_feast(store):
    # Feast code catches KeyError around feature lookups; the message still reads as written.
    with pytest.raises(KeyError) as caught:
        store.get_historical_features(SPINE, ["user_clicks:nope"])
    assert isinstance(caught.value, FeatureReferenceError)
    assert str(caught.value).startswith("feature 'nope' is not in feature view 'user_clicks'; it has [")
    with pytest.raises(KeyError, match="^feature view 'nope' is not registered"):
        store.get_feature_view("nope")


def test_registry_missing_says_run_apply(make_repo):
    store = FeatureStore(repo_path=make_repo())
    with pytest.raises(Exception, match="run `sqlfeat apply`"):
        store.get_historical_features(SPINE, FEATURES)


def test_import_is_light():
    import subprocess
    import sys

    code = "import sys, sqlfeat; print(sorted(m for m in ('duckdb', 'pandas', 'pyarrow', 'sqlglot') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"`import sqlfeat` imported heavy modules: {out}"


def test_duckdb_is_real():
    assert duckdb.__version__
