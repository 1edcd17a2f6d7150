"""Values come back exact: integers above 2**53 with nulls, booleans with nulls, NaN and infinities
as strict JSON, naive timestamp keys online, and "forever" / "always" sentinel event times."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from conftest import write_repo
from sqlfeat import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
from sqlfeat.cli import cli
from sqlfeat.types import Bool, Float64, Int64, UnixTimestamp

UTC = timezone.utc
user = Entity(name="user_id", value_type=ValueType.INT64)
BIG = 2**60 + 7  # not a float64


def _exact_repo(tmp_path):
    repo = write_repo(tmp_path / "repo")
    table = pa.table({
        "user_id": pa.array([1, 2, 3], pa.int64()),
        "event_time": pa.array([datetime(2024, 1, 1, tzinfo=UTC)] * 3, pa.timestamp("us", tz="UTC")),
        "big": pa.array([BIG, None, -BIG], pa.int64()),
        "flag": pa.array([True, None, False], pa.bool_()),
        "ratio": pa.array([float("nan"), float("inf"), float("-inf")], pa.float64()),
    })  # fmt: skip
    pq.write_table(table, repo / "data" / "exact.parquet")
    view = FeatureView(
        name="exact", entities=[user], source=FileSource(path="data/exact.parquet", timestamp_field="event_time"),
        schema=[Field(name="big", dtype=Int64), Field(name="flag", dtype=Bool), Field(name="ratio", dtype=Float64)],
    )  # fmt: skip
    store = FeatureStore(repo_path=repo)
    store.apply([user, view])
    return store


SPINE = pd.DataFrame({"user_id": [1, 2, 3, 4], "event_timestamp": pd.to_datetime(["2024-01-02"] * 4, utc=True)})


@pytest.mark.parametrize("strategy", ["asof", "window"])
def test_integers_and_booleans_with_nulls_stay_exact_in_to_df(tmp_path, strategy):
    store = _exact_repo(tmp_path)
    frame = store.get_historical_features(SPINE, ["exact:big", "exact:flag"], strategy=strategy).to_df()
    assert str(frame["big"].dtype) == "Int64" and str(frame["flag"].dtype) == "boolean"
    assert frame["big"].tolist()[0] == BIG and frame["big"].tolist()[2] == -BIG
    assert frame["big"].isna().tolist() == [False, True, False, True]
    assert [None if pd.isna(v) else bool(v) for v in frame["flag"]] == [True, None, False, None]


def test_the_cli_parquet_keeps_them_exact(tmp_path):
    store = _exact_repo(tmp_path)
    spine, out = tmp_path / "spine.parquet", tmp_path / "out.parquet"
    SPINE.to_parquet(spine)
    result = CliRunner().invoke(cli, ["--chdir", str(store.repo_path), "get-historical-features", "--entity-df", str(spine),
                                      "-f", "exact:big,exact:flag", "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert table.schema.field("big").type == pa.int64() and table.column("big").to_pylist() == [BIG, None, -BIG, None]
    assert table.column("flag").to_pylist() == [True, None, False, None]


def test_online_json_is_strict_and_lossless(tmp_path):
    store = _exact_repo(tmp_path)
    store.materialize_incremental(datetime(2024, 1, 2, tzinfo=UTC))
    args = ["--chdir", str(store.repo_path), "get-online-features", "-f", "exact:big,exact:ratio", "-e", "user_id=1",
            "-e", "user_id=2", "-e", "user_id=3"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    # stdout is the JSON; why a value is null goes to stderr.
    parsed = json.loads(result.stdout, parse_constant=lambda name: pytest.fail(f"non-JSON constant {name}"))
    assert parsed["big"] == [BIG, None, -BIG] and parsed["big__status"] == ["PRESENT", "NULL_VALUE", "PRESENT"]
    assert parsed["ratio"] == ["NaN", "Infinity", "-Infinity"]
    assert "big of exact for user_id=2 is NULL_VALUE" in result.stderr


def test_a_naive_timestamp_join_key_is_utc_online(tmp_path):
    repo = write_repo(tmp_path / "repo")
    when = datetime(2024, 3, 1, 12, 30, tzinfo=UTC)
    table = pa.table({
        "slot": pa.array([when], pa.timestamp("us", tz="UTC")),
        "event_time": pa.array([datetime(2024, 1, 1, tzinfo=UTC)], pa.timestamp("us", tz="UTC")),
        "demand": pa.array([42], pa.int64()),
    })  # fmt: skip
    pq.write_table(table, repo / "data" / "slots.parquet")
    slot = Entity(name="slot", value_type=ValueType.UNIX_TIMESTAMP)
    view = FeatureView(name="slots", entities=[slot], schema=[Field(name="demand", dtype=Int64)],
                       source=FileSource(path="data/slots.parquet", timestamp_field="event_time"))  # fmt: skip
    store = FeatureStore(repo_path=repo)
    store.apply([slot, view])
    store.materialize_incremental(datetime(2024, 1, 2, tzinfo=UTC))
    aware = store.get_online_features(["slots:demand"], [{"slot": when}]).to_dict()
    naive = store.get_online_features(["slots:demand"], [{"slot": when.replace(tzinfo=None)}]).to_dict()
    assert aware["demand"] == naive["demand"] == [42]


def _sentinel_frame() -> pd.DataFrame:
    times = pd.Series(
        [datetime(1, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC),
         datetime(2024, 1, 5, tzinfo=UTC)], dtype="datetime64[us, UTC]",
    )  # fmt: skip
    return pd.DataFrame({"user_id": [1, 1, 1, 2], "event_time": times, "value": [10, 20, 99, 30]})


def test_sentinel_event_times_neither_crash_nor_leak(warehouse, tmp_path):
    """0001-01-01 ('always') is the oldest row, 9999-12-31 ('forever') is never in the past."""
    repo = write_repo(tmp_path / "repo", offline_store=warehouse.offline_store)
    name = f"sentinels_{tmp_path.name[-12:].replace('-', '_')}"
    source = warehouse.source(repo, name, _sentinel_frame(), timestamp_field="event_time")
    view = FeatureView(name="v", entities=[user], schema=[Field(name="value", dtype=Int64)], source=source)
    store = FeatureStore(repo_path=repo)
    store.apply([user, view])
    spine = pd.DataFrame({"user_id": [1, 1, 2], "event_timestamp": pd.to_datetime(["2023-06-01", "2024-02-01", "2024-02-01"], utc=True)})
    frame = store.get_historical_features(spine, ["v:value"], strategy=warehouse.strategy).to_df()
    assert frame["value"].tolist() == [10, 20, 30]
    if warehouse.name in ("duckdb", "postgres"):
        report = store.materialize_incremental(datetime(2024, 2, 1, tzinfo=UTC))
        assert report.rows == 2
        online = store.get_online_features(["v:value"], [{"user_id": 1}, {"user_id": 2}], as_of=datetime(2024, 2, 1, tzinfo=UTC))
        assert online.to_dict()["value"] == [20, 30]
    store.close()


def test_a_materialization_end_beyond_duckdbs_range_is_one_clear_error(tmp_path):
    from sqlfeat.errors import UsageError

    store = _exact_repo(tmp_path)
    with pytest.raises(UsageError, match="outside the times DuckDB compares in nanoseconds"):
        store.materialize(datetime(2024, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC))


def test_timestamps_features_keep_their_precision(tmp_path):
    """A UnixTimestamp feature comes back as the same instant everywhere (sanity for the clamp)."""
    repo = write_repo(tmp_path / "repo")
    stamp = datetime(2024, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)
    pq.write_table(pa.table({
        "user_id": pa.array([1], pa.int64()), "event_time": pa.array([stamp], pa.timestamp("us", tz="UTC")),
        "seen": pa.array([stamp - timedelta(days=3)], pa.timestamp("us", tz="UTC")),
    }), repo / "data" / "seen.parquet")  # fmt: skip
    view = FeatureView(name="seen", entities=[user], schema=[Field(name="seen", dtype=UnixTimestamp)],
                       source=FileSource(path="data/seen.parquet", timestamp_field="event_time"))  # fmt: skip
    store = FeatureStore(repo_path=repo)
    store.apply([user, view])
    frame = store.get_historical_features(SPINE.head(1), ["seen:seen"]).to_df()
    assert frame["seen"][0] == pd.Timestamp(stamp - timedelta(days=3))
