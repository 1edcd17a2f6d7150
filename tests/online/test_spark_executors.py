"""Materialization written by Spark's executors (``materialize_on_executors``) into the machine's
Redis: the same records as the driver path, every dtype, and no regress on out-of-order runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml

from online.helpers import DAY0, USERS, T, open_store, pair_table, pair_view, simple_table, simple_view, typed_table, typed_view
from online.helpers import write_tables

PARTITIONS = 3


@pytest.fixture
def spark_repo(tmp_path, project, redis_address, spark_harness):
    """A repo whose offline store is the test run's Spark session, writing online from 3 tasks."""
    from online.conftest import _delete_redis_keys

    online = {"type": "redis", "connection_string": redis_address}
    offline = {**spark_harness.offline_store, "materialize_on_executors": True, "materialize_partitions": PARTITIONS}

    def factory(tables, views, name="spark", offline_store=offline, prefix=""):
        store = open_store(tmp_path / name, prefix + project, online, tables, [])
        config = yaml.safe_load((tmp_path / name / "feature_store.yaml").read_text())
        config["offline_store"] = offline_store
        (tmp_path / name / "feature_store.yaml").write_text(yaml.safe_dump(config))
        store.close()
        from sqlfeat import FeatureStore

        store = FeatureStore(repo_path=tmp_path / name)
        store.apply(views)
        return store

    yield factory
    _delete_redis_keys(redis_address, project)
    _delete_redis_keys(redis_address, f"d{project}")


def test_executors_write_what_the_driver_path_writes(spark_repo):
    tables = {"typed": typed_table(), "pair": pair_table()}
    views = [typed_view(), pair_view()]
    spark = spark_repo(tables, views)
    report = spark.materialize_incremental(T)
    # One WriteResult per partition came back from the executors: they did the writing.
    assert [run.batches for run in report.runs] == [PARTITIONS, PARTITIONS]
    assert report.rows == USERS + 14
    assert spark.check_consistency().ok

    driver = spark_repo(tables, views, name="driver", offline_store={"type": "duckdb"}, prefix="d")
    assert driver.materialize_incremental(T).rows == USERS + 14
    features = [f"typed:{f.name}" for f in typed_view().schema]
    rows = [{"user_id": u} for u in range(1, USERS + 2)]
    got = spark.get_online_features(features, rows, as_of=T).to_dict()
    want = driver.get_online_features(features, rows, as_of=T).to_dict()
    assert got.keys() == want.keys()
    for name in want:
        assert repr(got[name]) == repr(want[name]), name  # repr: NaN equals NaN, types compared
    assert got["i64"][1] == -1, "user 2's late correction (same event time, later created) wins"


def test_executor_writes_never_regress(spark_repo, tmp_path):
    day = lambda n: DAY0 + timedelta(days=n)  # noqa: E731
    store = spark_repo({"simple": simple_table([(1, day(10), 10), (1, day(20), 20), (2, day(5), 5)])}, [simple_view()])
    store.materialize(day(15), day(25))
    store.materialize(day(0), day(14))  # older rows arrive last: user 1 keeps 20
    read = lambda: store.get_online_features(["simple:value"], [{"user_id": 1}, {"user_id": 2}]).to_dict()["value"]  # noqa: E731
    assert read() == [20, 5]
    write_tables(tmp_path / "spark", {"simple": simple_table([(1, day(20), 19)], created=[day(20) - timedelta(hours=1)])})
    store.materialize(day(15), day(25))  # same event time, older created time: kept out
    assert read() == [20, 5]
    assert store.registry.materialization("simple")["watermark"] == day(25).isoformat()


def test_a_failing_executor_write_moves_no_watermark(spark_repo, tmp_path):
    from sqlfeat.errors import WarehouseError

    store = spark_repo({"simple": simple_table([(1, DAY0, 1)])}, [simple_view()])
    config = yaml.safe_load((tmp_path / "spark" / "feature_store.yaml").read_text())
    config["online_store"]["connection_string"] = "127.0.0.1:1"  # nothing listens there
    (tmp_path / "spark" / "feature_store.yaml").write_text(yaml.safe_dump(config))
    from sqlfeat import FeatureStore

    broken = FeatureStore(repo_path=tmp_path / "spark")
    with pytest.raises(WarehouseError) as failed:
        broken.materialize_incremental(T)
    # The executor's own error (the online store it could not reach), then what did not happen.
    assert "OnlineStoreError: redis online store at 127.0.0.1:1" in str(failed.value)
    assert "Materialization stopped in feature view 'simple' after 0 rows; no watermark moved" in str(failed.value)
    assert broken.registry.materialization("simple") is None

