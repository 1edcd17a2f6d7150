"""Saved datasets on every warehouse: the training set written inside the warehouse, recorded
with its SQL, features, fingerprints and row count, read back typed; nothing sqlfeat did not
write is ever replaced."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from conftest import write_repo
from reference import assert_pit_frames_equal

from sqlfeat import (
    Entity,
    FeatureService,
    FeatureStore,
    FeatureView,
    Field,
    SavedDatasetBigQueryStorage,
    SavedDatasetDuckDBStorage,
    SavedDatasetFileStorage,
    SavedDatasetPostgreSQLStorage,
    SavedDatasetSnowflakeStorage,
    SavedDatasetSparkStorage,
    ValueType,
)
from sqlfeat.errors import OutputPathError, RegistryError, UsageError
from sqlfeat.types import Float64, Int64

STORAGE = {
    "duckdb": SavedDatasetDuckDBStorage, "postgres": SavedDatasetPostgreSQLStorage,
    "bigquery": SavedDatasetBigQueryStorage, "snowflake": SavedDatasetSnowflakeStorage, "spark": SavedDatasetSparkStorage,
}  # fmt: skip
T0 = pd.Timestamp("2024-03-01", tz="UTC")
USER = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)


@pytest.fixture
def store(warehouse, tmp_path):
    offline = dict(warehouse.offline_store)
    if warehouse.name == "duckdb":
        offline["database"] = "data/warehouse.duckdb"  # a table outlives the connection
    repo = write_repo(tmp_path / "repo", offline_store=offline)
    clicks = pd.DataFrame({
        "user_id": [1, 1, 2, 3], "event_time": [T0, T0 + timedelta(hours=2), T0 + timedelta(hours=1), T0],
        "clicks": [10, 11, 20, 30], "dwell": [1.5, None, 2.5, 3.5],
    })  # fmt: skip
    source = warehouse.source(repo, f"clicks_{tmp_path.name[-10:]}", clicks, timestamp_field="event_time")
    view = FeatureView(name="clicks", entities=[USER], source=source, ttl=timedelta(days=1),
                       schema=[Field(name="clicks", dtype=Int64), Field(name="dwell", dtype=Float64)])  # fmt: skip
    store = FeatureStore(repo_path=repo)
    store.apply([USER, view, FeatureService(name="ranking", features=[view])])
    store.table = lambda name: (f"{warehouse.namespace}.{name}_{tmp_path.name[-8:]}" if warehouse.namespace
                                else f"{name}_{tmp_path.name[-8:]}")  # fmt: skip
    store.storage = lambda name: STORAGE[warehouse.name](store.table(name))
    yield store
    store.close()


SPINE = pd.DataFrame({
    "user_id": [1, 1, 2, 4], "event_timestamp": [T0 + timedelta(hours=h) for h in (1, 3, 1, 1)], "label": [1, 0, 1, 0],
})  # fmt: skip


def sort(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["user_id", "event_timestamp"]).reset_index(drop=True)


def test_a_training_set_is_written_recorded_and_read_back(store, warehouse):
    job = store.get_historical_features(SPINE, store.get_feature_service("ranking"), strategy=warehouse.strategy)
    expected = job.to_df()
    dataset = store.create_saved_dataset(from_=job, name="train", storage=store.storage("train"), tags={"run": "1"},
                                         feature_service=store.get_feature_service("ranking"))  # fmt: skip
    assert dataset.row_count == 4 and dataset.features == ["clicks:clicks", "clicks:dwell"]
    assert dataset.join_keys == ["user_id"] and dataset.feature_service_name == "ranking"
    registry = store.registry
    store.refresh_registry()
    loaded = FeatureStore(repo_path=store.repo_path).get_saved_dataset("train")
    assert loaded.sql == dataset.sql and "SELECT" in loaded.sql.upper()
    assert loaded.registry_fingerprint and loaded.feature_view_fingerprints == {
        "clicks": registry.fingerprint_of("feature_views", "clicks")
    }
    assert loaded.created_timestamp is not None and loaded.tags == {"run": "1"}
    assert loaded.min_event_timestamp == SPINE["event_timestamp"].min()
    got = loaded.to_df()
    assert str(got["clicks"].dtype) == "Int64" and got["dwell"].isna().sum() == expected["dwell"].isna().sum()
    assert_pit_frames_equal(sort(got[list(expected.columns)]), sort(expected), list(SPINE.columns), check_spine_dtypes=False)
    assert [d.name for d in store.list_saved_datasets()] == ["train"]


def test_an_existing_table_is_replaced_only_when_sqlfeat_saved_it_and_the_call_allows(store, warehouse):
    job = store.get_historical_features(features=["clicks:clicks"], start_date=T0.to_pydatetime(),
                                        end_date=(T0 + timedelta(hours=1)).to_pydatetime(), strategy=warehouse.strategy)  # fmt: skip
    store.create_saved_dataset(from_=job, name="ranged", storage=store.storage("ranged"))
    assert store.get_saved_dataset("ranged").row_count == 3  # (1, T0), (3, T0), (2, T0+1h)
    with pytest.raises(OutputPathError, match=f"table '{store.table('ranged')}' already holds saved dataset 'ranged'; pass allow_overwrite=True"):
        store.create_saved_dataset(from_=job, name="again", storage=store.storage("ranged"))
    wider = store.get_historical_features(features=["clicks:clicks"], start_date=T0.to_pydatetime(),
                                          end_date=(T0 + timedelta(hours=2)).to_pydatetime(), strategy=warehouse.strategy)  # fmt: skip
    replaced = store.create_saved_dataset(from_=wider, name="ranged", storage=store.storage("ranged"), allow_overwrite=True)
    assert replaced.row_count == 4 and len(store.get_saved_dataset("ranged").to_df()) == 4
    # a table sqlfeat did not write is never replaced, whatever the call says
    foreign = store.table("foreign")
    store.offline_store.create_table(foreign, "SELECT 1 AS x")
    for allow in (False, True):
        with pytest.raises(OutputPathError, match=f"table '{foreign}' already exists and sqlfeat did not save a dataset there"):
            store.create_saved_dataset(from_=job, name="other", storage=store.storage("foreign"), allow_overwrite=allow)
    assert store.offline_store.table_exists(foreign) and "other" not in [d.name for d in store.list_saved_datasets()]


def test_storage_of_another_warehouse_is_refused(store, warehouse):
    job = store.get_historical_features(SPINE, ["clicks:clicks"])
    other = SavedDatasetPostgreSQLStorage("t") if warehouse.name != "postgres" else SavedDatasetBigQueryStorage("d.t")
    with pytest.raises(UsageError, match="but the offline store is"):
        store.create_saved_dataset(from_=job, name="x", storage=other)
    with pytest.raises(RegistryError, match="no saved dataset named 'nope'"):
        store.get_saved_dataset("nope")


def test_duckdb_saves_parquet_files_and_refuses_tables_that_would_vanish(make_repo):
    from sqlfeat import FileSource

    repo = make_repo({"clicks": pd.DataFrame({"user_id": [1], "event_time": [T0], "clicks": [5]})})
    store = FeatureStore(repo_path=repo)
    view = FeatureView(name="clicks", entities=[USER], schema=[Field(name="clicks", dtype=Int64)],
                       source=FileSource(path="data/clicks.parquet", timestamp_field="event_time"))  # fmt: skip
    store.apply([USER, view])
    job = store.get_historical_features(SPINE, ["clicks:clicks"])
    with pytest.raises(UsageError, match="would vanish with the in-memory DuckDB database"):
        store.create_saved_dataset(from_=job, name="t", storage=SavedDatasetDuckDBStorage("t"))
    dataset = store.create_saved_dataset(from_=job, name="t", storage=SavedDatasetFileStorage(path="data/train.parquet"))
    assert (repo / "data" / "train.parquet").exists() and dataset.row_count == 4
    got = sort(store.get_saved_dataset("t").to_df())
    assert got["clicks"].isna().tolist() == [False, False, True, True] and got["label"].tolist() == [1, 0, 1, 0]
    with pytest.raises(OutputPathError, match="file 'data/clicks.parquet' already exists and sqlfeat did not save"):
        store.create_saved_dataset(from_=job, name="u", storage=SavedDatasetFileStorage(path="data/clicks.parquet"))
    assert pd.read_parquet(repo / "data" / "clicks.parquet")["clicks"].tolist() == [5]
