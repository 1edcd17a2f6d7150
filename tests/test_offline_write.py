"""write_to_offline_store and push(to=OFFLINE) on every warehouse: rows are appended to the view's
batch source table with one INSERT from uploaded Arrow (values never in SQL text), by column
name, and get_historical_features reads them; a DuckDB FileSource gets a new file in its folder."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from conftest import write_repo

from sqlfeat import DuckDBSource, Entity, FeatureStore, FeatureView, Field, PushMode, PushSource, ValueType
from sqlfeat.errors import PushedDataError
from sqlfeat.types import Float64, Int64, String

T0 = pd.Timestamp("2024-03-01", tz="UTC")
USER = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)
WAREHOUSES = ["duckdb", "postgres", "snowflake", "bigquery"]


@pytest.fixture(params=WAREHOUSES)
def store(request, tmp_path):
    name = request.param
    repo = write_repo(tmp_path / "repo", offline_store={"type": "duckdb", "database": "data/warehouse.duckdb"}
                      if name == "duckdb" else request.getfixturevalue(f"{name}_harness").offline_store)  # fmt: skip
    clicks = pd.DataFrame({
        "user_id": [1, 2], "event_time": [T0, T0], "clicks": [10, 20], "dwell": [1.5, 2.5], "note": ["a", "b"],
    })  # fmt: skip
    table = f"clicks_{tmp_path.name[-10:]}"
    if name == "duckdb":
        import duckdb
        import pyarrow as pa

        with duckdb.connect(str(repo / "data" / "warehouse.duckdb")) as connection:
            arrow = pa.Table.from_pandas(clicks, preserve_index=False)  # noqa: F841 - scanned by name
            connection.execute(f'CREATE TABLE "{table}" AS SELECT * FROM arrow')
        batch = DuckDBSource(table=table, timestamp_field="event_time")
    else:
        batch = request.getfixturevalue(f"{name}_harness").source(repo, table, clicks, timestamp_field="event_time")
    push = PushSource(name="clicks_push", batch_source=batch)
    view = FeatureView(name="clicks", entities=[USER], source=push, online=False,
                       schema=[Field(name="clicks", dtype=Int64), Field(name="dwell", dtype=Float64),
                               Field(name="note", dtype=String)])  # fmt: skip
    store = FeatureStore(repo_path=repo)
    store.apply([USER, view])
    yield store
    store.close()


def test_rows_are_appended_and_retrieved(store):
    later = T0 + timedelta(hours=1)
    # columns in another order than the table's; a value that would break SQL if pasted into it
    pushed = pd.DataFrame({"note": ["it's'); DROP TABLE x; --"], "dwell": [None], "clicks": [11], "event_time": [later],
                           "user_id": [1]})  # fmt: skip
    store.write_to_offline_store("clicks", pushed)
    store.push("clicks_push", pd.DataFrame({"user_id": [3], "event_time": [later], "clicks": [30], "dwell": [3.5],
                                            "note": ["c"]}), to=PushMode.OFFLINE)  # fmt: skip
    spine = pd.DataFrame({"user_id": [1, 2, 3], "event_timestamp": [later + timedelta(minutes=1)] * 3})
    got = store.get_historical_features(spine, ["clicks:clicks", "clicks:dwell", "clicks:note"]).to_df()
    got = got.sort_values("user_id").reset_index(drop=True)
    assert got["clicks"].tolist() == [11, 20, 30]
    assert pd.isna(got["dwell"][0]) and got["dwell"][1:].tolist() == [2.5, 3.5]
    assert got["note"].tolist() == ["it's'); DROP TABLE x; --", "b", "c"]
    old = store.get_historical_features(pd.DataFrame({"user_id": [1], "event_timestamp": [T0]}), ["clicks:clicks"]).to_df()
    assert old["clicks"].tolist() == [10], "the rows that were there are untouched"


def test_a_wrong_value_writes_nothing(store):
    with pytest.raises(PushedDataError, match="'clicks'.*declared Int64"):
        store.write_to_offline_store("clicks", pd.DataFrame({"user_id": [5], "event_time": [T0], "clicks": ["many"],
                                                             "dwell": [1.0], "note": ["n"]}))  # fmt: skip
    got = store.get_historical_features(pd.DataFrame({"user_id": [5], "event_timestamp": [T0]}), ["clicks:clicks"]).to_df()
    assert got["clicks"].isna().all()
