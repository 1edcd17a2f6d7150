"""One behaviour suite, run against every online store (sqlite, redis, dynamodb)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa
import pytest

from online.helpers import (
    DAY0,
    TYPED_SCHEMA,
    USERS,
    UTC,
    T,
    layout,
    open_store,
    pair_table,
    pair_view,
    simple_table,
    simple_view,
    typed_table,
    typed_view,
    write_tables,
)
from sqlfeat.online.consistency import same


def assert_identical(online, offline, where: str) -> None:
    """Same value and same Python type (ints stay ints, ...), recursively into arrays."""
    assert same(offline, online), f"{where}: offline {offline!r} != online {online!r}"
    if offline is not None:
        assert type(online) is type(offline), f"{where}: {type(online).__name__} != {type(offline).__name__}"
    if isinstance(offline, list):
        for index, (a, b) in enumerate(zip(online, offline)):
            assert_identical(a, b, f"{where}[{index}]")


@pytest.fixture
def repo(tmp_path, project, online_config):
    def factory(tables: dict[str, pa.Table], views: list):
        return open_store(tmp_path / "repo", project, online_config, tables, views)

    return factory


def test_every_dtype_round_trips_with_nulls_and_arrays(repo):
    store = repo({"typed": typed_table(), "pair": pair_table()}, [typed_view(), pair_view()])
    report = store.materialize_incremental(T)
    assert [run.rows for run in report.runs] == [USERS, 14]

    truth = store.offline_store.fetch_arrow(store.compile_latest_values("typed", T)).sort_by("user_id").to_pylist()
    entity_rows = [{"user_id": row["user_id"]} for row in truth] + [{"user_id": 999}]
    got = store.get_online_features([f"typed:{f.name}" for f in TYPED_SCHEMA], entity_rows, as_of=T).to_dict()
    assert list(got) == ["user_id", *[f.name for f in TYPED_SCHEMA]]
    assert got["user_id"] == [row["user_id"] for row in entity_rows]
    for field in TYPED_SCHEMA:
        for index, row in enumerate(truth):
            assert_identical(got[field.name][index], row[field.name], f"user {row['user_id']} {field.name}")
        assert got[field.name][-1] is None, "an unknown entity reads as null"
    by_user = {row["user_id"]: i for i, row in enumerate(truth)}
    assert got["i64"][by_user[2]] == -1 and got["s"][by_user[2]] == "corrected", "newest created time wins"
    assert all(got[f.name][by_user[3]] is None for f in TYPED_SCHEMA)
    assert got["f64"][by_user[5]] != got["f64"][by_user[5]], "NaN stays NaN"
    assert got["ai"][by_user[7]] == [] and got["by"][by_user[7]] == b"" and got["s"][by_user[7]] == ""
    assert got["ai"][by_user[1]] == [13, None, -13] and got["af"][by_user[1]][1] == float("inf")

    pairs = store.offline_store.fetch_arrow(store.compile_latest_values("pair", T)).to_pylist()
    keys = [{"user_id": p["user_id"], "shop": p["shop"]} for p in pairs]
    online = store.get_online_features(["pair:spend"], keys, as_of=T).to_dict()
    assert online["spend"] == [p["spend"] for p in pairs], "composite keys with ',' and '\\' stay distinct"
    assert online["shop"] == [p["shop"] for p in pairs]


def test_online_equals_offline_at_materialization_time(repo):
    views = [typed_view(ttl=timedelta(days=2)), pair_view(), simple_view(ttl=timedelta(days=20))]
    rows = [(u, DAY0 + timedelta(days=d, hours=u), u * 100 + d) for u in range(1, 30) for d in (1, 5, 14 + u % 5)]
    store = repo({"typed": typed_table(), "pair": pair_table(), "simple": simple_table(rows)}, views)
    store.materialize_incremental(T)
    report = store.check_consistency()
    assert report.ok, report.summary()
    assert {v.view: (v.entities, v.matched) for v in report.views} == {
        "typed": (USERS, USERS), "pair": (14, 14), "simple": (29, 29),
    }  # fmt: skip

    # A value the warehouse never had is caught as a mismatch.
    simple = layout(store, "simple")
    batch = pa.record_batch({
        "user_id": pa.array([4], pa.int64()), "__sqlfeat_event_ts": pa.array([T], pa.timestamp("us", tz="UTC")),
        "__sqlfeat_created_ts": pa.array([T], pa.timestamp("us", tz="UTC")), "value": pa.array([-7], pa.int64()),
        "value_text": pa.array(["-7"]),
    })  # fmt: skip
    store.online_store.write_batch(simple, batch)
    broken = store.check_consistency(["simple"])
    assert not broken.ok and broken.views[0].mismatched == 1 and "offline=" in broken.summary()


def test_ttl_is_enforced_at_read_time(repo):
    ttl = timedelta(days=1)
    first, second = DAY0 + timedelta(days=1), DAY0 + timedelta(days=3)
    tables = {"simple": simple_table([(1, first, 10), (2, second, 20)]), "forever": simple_table([(1, first, 11)])}
    store = repo(tables, [simple_view(ttl=ttl), simple_view(name="forever")])
    store.materialize_incremental(T)
    rows = [{"user_id": 1}, {"user_id": 2}]
    features = ["simple:value", "forever:value_text"]

    def read(as_of: datetime | None):
        return store.get_online_features(features, rows, as_of=as_of).to_dict()["value"]

    assert read(first + ttl) == [10, None], "inclusive bound: exactly ttl old still reads; user 2's row is later"
    assert read(first + ttl + timedelta(microseconds=1)) == [None, None]
    assert read(second) == [None, 20], "as of its event time exactly, a record reads"
    assert read(second - timedelta(microseconds=1)) == [None, None], "as of before it, it is not that time's value"
    assert read(second + ttl) == [None, 20]
    assert read(second + ttl + timedelta(microseconds=1)) == [None, None]
    assert read(None) == [None, None], "years old: expired now (Feast 0.67 would return them)"
    # Per-view records: one view's TTL never hides another's values for the same entity.
    assert store.get_online_features(features, rows).to_dict()["value_text"] == ["11", None]


def test_incremental_first_run_is_full_history_then_only_new_rows(repo, tmp_path):
    old = datetime(2020, 1, 31, tzinfo=UTC)  # far older than now - ttl: past the TTL online
    rows = [(1, old, 1), (2, old, 2), (3, old - timedelta(days=400), 3)]
    store = repo({"simple": simple_table(rows)}, [simple_view(ttl=timedelta(days=30))])
    first_end = datetime(2020, 2, 1, tzinfo=UTC)
    first = store.materialize_incremental(first_end)
    assert first.runs[0].start is None and first.rows == 3

    later = datetime(2020, 2, 15, tzinfo=UTC)
    write_tables(tmp_path / "repo", {"simple": simple_table(rows + [(2, later, 22), (4, later, 4)])})
    second_end = datetime(2020, 3, 1, tzinfo=UTC)
    second = store.materialize_incremental(second_end)
    assert second.runs[0].start == first_end and second.rows == 2, "only rows after the watermark"
    got = store.get_online_features(["simple:value"], [{"user_id": u} for u in (1, 2, 3, 4)], as_of=second_end)
    assert got.to_dict()["value"] == [1, 22, None, 4]
    assert store.get_online_features(["simple:value"], [{"user_id": 3}], as_of=old).to_dict()["value"] == [None]
    record = store.registry.materialization("simple")
    assert record["watermark"] == second_end.isoformat() and record["rows"] == 2
    assert record["store"] == store.config.online_store["type"]
    assert store.check_consistency().ok


def test_out_of_order_backfill_never_regresses(repo, tmp_path):
    day = lambda n: DAY0 + timedelta(days=n)
    rows = [(1, day(10), 10), (1, day(20), 20), (2, day(5), 5)]
    store = repo({"simple": simple_table(rows)}, [simple_view()])
    store.materialize(day(15), day(25))
    store.materialize(day(0), day(14))  # older rows arrive last
    read = lambda: store.get_online_features(["simple:value_text", "simple:value"], [{"user_id": 1}, {"user_id": 2}]).to_dict()
    assert read()["value"] == [20, 5]
    assert store.registry.materialization("simple")["watermark"] == day(25).isoformat()

    # Same event time: the later created time wins, whatever order the runs come in.
    newer = simple_table([(1, day(20), 21)], created=[day(20) + timedelta(hours=1)])
    write_tables(tmp_path / "repo", {"simple": newer})
    store.materialize(day(15), day(25))
    older = simple_table([(1, day(20), 19)], created=[day(20) - timedelta(hours=1)])
    write_tables(tmp_path / "repo", {"simple": older})
    store.materialize(day(15), day(25))
    assert read() == {"user_id": [1, 2], "value_text": ["21", "5"], "value": [21, 5]}

    # The same rows again (a rerun) change nothing and fail nothing.
    store.materialize(day(15), day(25))
    assert read()["value"] == [21, 5]


def test_teardown_removes_one_view_only(repo):
    rows = [(u, DAY0 + timedelta(days=1), u) for u in range(1, 40)]
    tables = {"simple": simple_table(rows), "other": simple_table(rows)}
    store = repo(tables, [simple_view(), simple_view(name="other")])
    store.materialize_incremental(T)
    simple = layout(store, "simple")
    store.online_store.teardown(simple)
    store.online_store.teardown(simple)  # nothing left: still fine
    got = store.get_online_features(["simple:value", "other:value_text"], [{"user_id": 1}, {"user_id": 39}]).to_dict()
    assert got == {"user_id": [1, 39], "value": [None, None], "value_text": ["1", "39"]}


def test_large_reads_across_views_keep_the_row_order(repo):
    """More keys than one read request holds (Redis script chunk, DynamoDB's 100), two views."""
    rows = [(u, DAY0 + timedelta(days=1), u) for u in range(1, 551)]
    store = repo({"simple": simple_table(rows), "other": simple_table(rows[::2])}, [simple_view(), simple_view(name="other")])
    store.materialize_incremental(T)
    wanted = [{"user_id": u} for u in range(560, 0, -1)]  # reversed, with 9 unknown users first
    got = store.get_online_features(["simple:value", "other:value_text"], wanted).to_dict()
    assert got["value"] == [u if u <= 550 else None for u in range(560, 0, -1)]
    assert got["value_text"] == [str(u) if u <= 550 and u % 2 == 1 else None for u in range(560, 0, -1)]


def test_a_field_added_after_materializing_reads_as_null_until_rematerialized(repo):
    from sqlfeat import Field
    from sqlfeat.types import Int64

    rows = [(u, DAY0 + timedelta(days=1), u) for u in range(1, 4)]
    store = repo({"simple": simple_table(rows)}, [simple_view()])
    store.materialize_incremental(T)
    view = simple_view()
    grown = type(view)(name="simple", entities=view.entities, source=view.source,
                       schema=[*view.schema, Field("user_id_copy", Int64)])  # fmt: skip
    table = simple_table(rows).append_column("user_id_copy", pa.array([1, 2, 3], pa.int64()))
    write_tables(store.repo_path, {"simple": table})
    assert store.apply([grown]).views_to_rematerialize == []
    got = store.get_online_features(["simple:value", "simple:user_id_copy"], [{"user_id": 2}], as_of=T).to_dict()
    assert got == {"user_id": [2], "value": [2], "user_id_copy": [None]}
    assert not store.check_consistency().ok, "consistency notices the field is missing online"
    store.materialize(DAY0, T)
    assert store.check_consistency().ok
