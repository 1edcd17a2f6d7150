"""Feature views without entities (a global daily statistic), on every online store and from
every warehouse: they materialize as one record and serve their value for any entity row, as
Feast does (its dummy entity ``__dummy_id``)."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pyarrow as pa
import pytest

from online.helpers import DAY0, T, open_store, simple_table, simple_view, user, write_tables
from sqlfeat import FeatureStore, FeatureView, Field, FileSource
from sqlfeat.online.base import ENTITYLESS_KEY, batch_keys, entity_key
from sqlfeat.online.response import FieldStatus
from sqlfeat.types import Float64, Int64

DAYS = 6


def global_table(days: int = DAYS, offset: int = 0) -> pa.Table:
    """One row per day: the platform's total orders and mean basket that day."""
    return pa.table({
        "day": pa.array([DAY0 + timedelta(days=d) for d in range(days)], pa.timestamp("us", tz="UTC")),
        "created": pa.array([DAY0 + timedelta(days=d, hours=1) for d in range(days)], pa.timestamp("us", tz="UTC")),
        "total_orders": pa.array([100 * (d + 1) + offset for d in range(days)], pa.int64()),
        "mean_basket": pa.array([None if d == 2 else 10.5 + d for d in range(days)], pa.float64()),
    })  # fmt: skip


def global_view(ttl: timedelta | None = timedelta(days=2)) -> FeatureView:
    source = FileSource(name="global_stats", path="data/global_stats.parquet", timestamp_field="day",
                        created_timestamp_column="created")  # fmt: skip
    return FeatureView(name="global_stats", entities=[], ttl=ttl, source=source,
                       schema=[Field("total_orders", Int64), Field("mean_basket", Float64)])  # fmt: skip


USER_ROWS = [(u, DAY0 + timedelta(days=d, hours=u), u * 10 + d) for u in (1, 2, 3) for d in (1, 4)]


@pytest.fixture
def store(tmp_path, project, online_config) -> FeatureStore:
    tables = {"global_stats": global_table(), "simple": simple_table(USER_ROWS)}
    return open_store(tmp_path / "repo", project, online_config, tables, [user, global_view(), simple_view()])


def test_the_key_of_a_view_without_entities_is_its_one_record():
    assert entity_key([]) == ENTITYLESS_KEY == ""

    class Layout:
        join_keys = ()

    assert batch_keys(Layout(), pa.record_batch({"x": pa.array([1, 2, 3])})) == [ENTITYLESS_KEY] * 3


def test_an_entityless_view_materializes_and_serves_every_entity_row(store):
    report = store.materialize_incremental(T)  # raised IndexError before, on every store
    assert {run.view: run.rows for run in report.runs} == {"global_stats": 1, "simple": 3}
    last = DAY0 + timedelta(days=DAYS - 1)
    rows = [{"user_id": 1}, {"user_id": 2}, {"user_id": 999}, {"user_id": 1}]
    got = store.get_online_features(["global_stats:total_orders", "simple:value", "global_stats:mean_basket"],
                                    rows, as_of=last + timedelta(days=1)).to_dict()  # fmt: skip
    assert got == {
        "user_id": [1, 2, 999, 1], "total_orders": [600] * 4, "value": [14, 24, None, 14], "mean_basket": [15.5] * 4,
    }  # fmt: skip
    # Only views without entities: any row reads the record, even one with no keys at all.
    alone = store.get_online_features(["global_stats:total_orders"], [{}, {"anything": "x"}], as_of=last)
    assert alone.to_dict() == {"total_orders": [600, 600]}
    # The TTL holds for the one record too: inclusive bound, then null.
    ttl = timedelta(days=2)
    assert store.get_online_features(["global_stats:total_orders"], [{}], as_of=last + ttl).to_dict()["total_orders"] == [600]
    late = store.get_online_features(["global_stats:total_orders"], [{}], as_of=last + ttl + timedelta(microseconds=1))
    assert late.to_dict()["total_orders"] == [None]
    assert late.statuses()["total_orders"] == [FieldStatus.OUTSIDE_MAX_AGE]
    [why] = late.explain_nulls()
    assert why.startswith(f"global_stats (no entities: one record for all) is OUTSIDE_MAX_AGE: its event time {last.isoformat()}")


def test_entityless_online_equals_offline_alone_and_mixed_with_an_entity_view(store):
    as_of = DAY0 + timedelta(days=3, hours=12)  # mean_basket's newest row at that time is day 3's: not null
    store.materialize(DAY0 - timedelta(days=1), as_of)
    report = store.check_consistency()
    assert report.ok, report.summary()
    assert {(v.view, v.entities, v.matched) for v in report.views} == {("global_stats", 1, 1), ("simple", 3, 3)}

    # The same request both ways, mixing the two kinds of view, at the materialization time.
    features = ["simple:value", "global_stats:total_orders", "global_stats:mean_basket"]
    users = [1, 2, 3, 4]
    spine = pd.DataFrame({"user_id": users, "event_timestamp": [pd.Timestamp(as_of)] * len(users)})
    offline = store.get_historical_features(spine, features).to_df()
    online = store.get_online_features(features, [{"user_id": u} for u in users], as_of=as_of).to_dict()
    for feature in ("value", "total_orders", "mean_basket"):
        assert [None if pd.isna(v) else v for v in offline[feature]] == online[feature], feature
    assert online["total_orders"] == [400] * 4 and online["mean_basket"] == [13.5] * 4


def test_an_older_backfill_never_overwrites_the_one_record(store, tmp_path):
    last = DAY0 + timedelta(days=DAYS - 1)
    store.materialize(last - timedelta(hours=1), last + timedelta(days=1))
    store.materialize(DAY0, DAY0 + timedelta(days=2))  # older rows, written after
    read = lambda: store.get_online_features(["global_stats:total_orders"], [{}], as_of=last).to_dict()["total_orders"]
    assert read() == [600]
    # A correction of the newest day (same event time, later created time) replaces it.
    corrected = pa.concat_tables([global_table(), global_table(offset=7).slice(DAYS - 1)]).to_pandas()
    corrected.loc[corrected.index[-1], "created"] += pd.Timedelta(hours=3)
    write_tables(tmp_path / "repo", {"global_stats": pa.Table.from_pandas(corrected, preserve_index=False)})
    store.materialize(last - timedelta(hours=1), last + timedelta(days=1))
    assert read() == [607]


def test_entityless_view_materializes_from_every_warehouse(warehouse, tmp_path):
    """The latest-values SQL of a view without entities (one row, no partition) on each warehouse
    agrees with its point-in-time join, through the default SQLite online store."""
    from conftest import write_repo

    repo = write_repo(tmp_path / "repo", offline_store=warehouse.offline_store)
    name = f"global_{tmp_path.name[-12:].replace('-', '_')}"
    source = warehouse.source(repo, name, global_table().to_pandas(), timestamp_field="day",
                              created_timestamp_column="created")  # fmt: skip
    view = FeatureView(name="global_stats", entities=[], ttl=timedelta(days=2), source=source,
                       schema=[Field("total_orders", Int64), Field("mean_basket", Float64)])  # fmt: skip
    with FeatureStore(repo_path=repo) as store:
        store.apply([view])
        as_of = DAY0 + timedelta(days=4, hours=2)
        assert store.materialize(DAY0, as_of).runs[0].rows == 1
        report = store.check_consistency()
        assert report.ok and report.views[0].matched == 1, report.summary()
        got = store.get_online_features(["global_stats:total_orders"], [{"user_id": 5}], as_of=as_of).to_dict()
        assert got == {"total_orders": [500]}
