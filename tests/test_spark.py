"""Spark specifics the shared suites do not cover: SparkSource's three forms, the session's UTC
time zone, config errors, errors naming the table or column, to_table, staged spines dropped."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import write_repo
from sqlfeat import Entity, FeatureStore, FeatureView, Field, FileSource, SparkSource, ValueType
from sqlfeat.definitions import source_from_spec
from sqlfeat.errors import ConfigError, DefinitionError, SchemaMismatchError, SqlfeatError, WarehouseError
from sqlfeat.types import Int64

user = Entity(name="user_id", value_type=ValueType.INT64)
SPINE = pd.DataFrame({"user_id": [1, 1, 2], "event_timestamp": pd.to_datetime(
    ["2024-01-01 11:59:59.999999", "2024-01-01 12:00:00.000000", "2024-01-03 00:00:00.000000"], utc=True)})  # fmt: skip


def view(source, name: str = "clicks") -> FeatureView:
    return FeatureView(name=name, entities=[user], ttl=timedelta(days=1), source=source,
                       schema=[Field(name="clicks", dtype=Int64)])  # fmt: skip


def values(column: pd.Series) -> list:
    return [None if pd.isna(v) else v for v in column]


def naive_clicks(path) -> None:
    """Events at 12:00 *naive*: read as UTC, whatever the machine's or Spark's zone."""
    table = pa.table({
        "user_id": pa.array([1, 2], pa.int64()),
        "ts": pa.array([pd.Timestamp("2024-01-01 12:00"), pd.Timestamp("2024-01-02 12:00")], pa.timestamp("us")),
        "clicks": pa.array([5, 7], pa.int64()),
    })  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of table=..., query=... or path=..."),
        ({"table": "db.t", "path": "data/x"}, "exactly one of"),
        ({"path": "data/x", "file_format": "csv"}, "file_format must be one of parquet, orc"),
        ({"table": "db.t", "file_format": "parquet"}, "file_format goes with path"),
    ],
)
def test_spark_source_takes_one_of_table_query_or_path(kwargs, message):
    with pytest.raises(DefinitionError, match=message):
        SparkSource(timestamp_field="ts", **kwargs)


def test_spark_source_round_trips_through_the_registry_spec():
    for source in (
        SparkSource(table="db.clicks", timestamp_field="ts", created_timestamp_column="c", field_mapping={"n": "clicks"}),
        SparkSource(query="SELECT * FROM db.clicks", name="q", timestamp_field="ts"),
        SparkSource(path="data/clicks", file_format="ORC", timestamp_field="ts", partition_column="day"),
    ):
        again = source_from_spec(source.to_spec())
        assert again == source and again.to_spec() == source.to_spec()
    assert SparkSource(path="data/clicks", timestamp_field="ts").file_format == "parquet"


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"spark_conf": {"spark.sql.session.timeZone": "Europe/Paris"}}, ConfigError, "sets it to UTC itself"),
        ({"remote": "http://host:15002"}, ConfigError, "offline_store.remote must be a Spark Connect URL"),
        ({"materialize_partitions": 4}, ConfigError, "needs materialize_on_executors"),
    ],
)
def test_bad_spark_settings_name_the_key(tmp_path, spark_harness, options, error, message):
    repo = write_repo(tmp_path, offline_store={**spark_harness.offline_store, **options})
    with pytest.raises(error, match=message):
        FeatureStore(repo_path=repo).offline_store  # noqa: B018


def test_session_time_zone_is_utc_even_when_the_running_session_said_otherwise(tmp_path, spark_harness):
    from sqlfeat.warehouses import spark

    with spark.connect(spark_harness.offline_store, tmp_path) as store:
        store.session.conf.set("spark.sql.session.timeZone", "America/New_York")
    repo = write_repo(tmp_path / "repo", offline_store=spark_harness.offline_store)
    naive_clicks(repo / "data" / "clicks.parquet")
    store = FeatureStore(repo_path=repo)
    assert store.offline_store.session.conf.get("spark.sql.session.timeZone") == "UTC"
    store.apply([user, view(FileSource(path="data/clicks.parquet", timestamp_field="ts"))])
    result = store.get_historical_features(SPINE, ["clicks:clicks"]).to_df()
    assert values(result["clicks"]) == [None, 5, 7], "12:00 naive is 12:00 UTC: 1us earlier it is not there yet"


def test_path_table_and_query_sources_read_the_same_rows(tmp_path, spark_harness):
    repo = write_repo(tmp_path / "repo", offline_store=spark_harness.offline_store)
    naive_clicks(repo / "data" / "files" / "part-0.parquet")
    store = FeatureStore(repo_path=repo)
    table = f"{spark_harness.namespace}.clicks_{tmp_path.name[-8:]}"
    store.offline_store.write_arrow(pq.read_table(repo / "data" / "files" / "part-0.parquet"), table)
    sources = {
        "by_path": SparkSource(path="data/files", timestamp_field="ts"),
        "by_table": SparkSource(table=table, timestamp_field="ts"),
        "by_query": SparkSource(query=f"SELECT * FROM {spark_harness.quoted(table)} WHERE clicks > 0", name="q",
                                timestamp_field="ts"),
    }  # fmt: skip
    store.apply([user, *(view(source, name) for name, source in sources.items())])
    result = store.get_historical_features(SPINE, [f"{name}:clicks" for name in sources], full_feature_names=True).to_df()
    for name in sources:
        assert values(result[f"{name}__clicks"]) == [None, 5, 7], name


def test_missing_table_and_column_are_named(tmp_path, spark_harness):
    repo = write_repo(tmp_path, offline_store=spark_harness.offline_store)
    store = FeatureStore(repo_path=repo)
    missing = SparkSource(table=f"{spark_harness.namespace}.no_such_table", timestamp_field="ts")
    with pytest.raises(SchemaMismatchError, match="no_such_table.*cannot be read.*TABLE_OR_VIEW_NOT_FOUND"):
        store.apply([user, view(missing)])
    frame = pd.DataFrame({"user_id": [1], "ts": pd.to_datetime(["2024-01-01"], utc=True), "other": [3]})
    source = spark_harness.source(repo, f"wrong_{tmp_path.name[-8:]}", frame, timestamp_field="ts")
    with pytest.raises(SchemaMismatchError, match="has no column 'clicks' \\(feature 'clicks'\\)"):
        store.apply([user, view(source)])


def _spines(store) -> list[str]:
    return [t.name for t in store.offline_store.session.catalog.listTables() if t.name.startswith("__sqlfeat_spine")]


def test_to_table_writes_a_managed_table_and_spines_are_dropped_even_on_failure(tmp_path, spark_harness):
    repo = write_repo(tmp_path, offline_store=spark_harness.offline_store)
    name = f"clicks_{tmp_path.name[-8:]}"
    frame = pd.DataFrame({"user_id": [1], "ts": pd.to_datetime(["2024-01-01 12:00"], utc=True), "clicks": [5]})
    source = spark_harness.source(repo, name, frame, timestamp_field="ts")
    store = FeatureStore(repo_path=repo)
    store.apply([user, view(source)])
    job = store.get_historical_features(SPINE, ["clicks:clicks"])
    target = f"{spark_harness.namespace}.train_{tmp_path.name[-8:]}"
    assert job.to_table(target) == target
    written = store.offline_store.fetch_arrow(f"SELECT * FROM {spark_harness.quoted(target)} ORDER BY event_timestamp")
    assert written.column("clicks").to_pylist() == [None, 5, None]
    with pytest.raises(WarehouseError, match="TABLE_OR_VIEW_ALREADY_EXISTS|already exists"):
        job.to_table(target, replace=False)
    job.to_table(target)  # replace=True: DROP, then CREATE TABLE AS
    assert store.offline_store.fetch_arrow(f"SELECT * FROM {spark_harness.quoted(target)}").num_rows == 3
    assert _spines(store) == []
    store.offline_store.execute(f"DROP TABLE {spark_harness.quoted(f'{spark_harness.namespace}.{name}')}", "dropping")
    with pytest.raises(SqlfeatError, match=name):
        job.to_df()
    assert _spines(store) == []


def test_a_connect_token_and_secret_spark_conf_values_are_never_printed():
    from sqlfeat.redact import redact
    from sqlfeat.warehouses.spark import _register_secrets

    _register_secrets({"remote": "sc://spark.internal:15002/;user_id=ml;token=tok-4f9a1c77",
                       "spark_conf": {"spark.hadoop.fs.s3a.secret.key": "s3cr3t-value-9", "spark.master": "yarn"}})  # fmt: skip
    text = redact("sc://spark.internal:15002/;user_id=ml;token=tok-4f9a1c77 refused; s3a key s3cr3t-value-9; master yarn")
    assert "tok-4f9a1c77" not in text and "s3cr3t-value-9" not in text
    assert "user_id=ml" in text and "master yarn" in text


def test_executor_writes_into_a_local_sqlite_file_are_refused(tmp_path, spark_harness):
    from datetime import datetime, timezone

    offline = {**spark_harness.offline_store, "materialize_on_executors": True}
    repo = write_repo(tmp_path / "repo", offline_store=offline)  # online_store: sqlite
    naive_clicks(repo / "data" / "clicks.parquet")
    store = FeatureStore(repo_path=repo)
    store.apply([user, view(FileSource(path="data/clicks.parquet", timestamp_field="ts"))])
    with pytest.raises(ConfigError, match="online_store type sqlite is a local file"):
        store.materialize_incremental(datetime(2024, 2, 1, tzinfo=timezone.utc))
    assert store.registry.materialization("clicks") is None
