"""Hand-built point-in-time edge cases (docs/concepts.md, the point-in-time rules 1-4).

The first block checks the pandas reference itself on tiny hand-computed examples;
the rest runs sqlfeat on named edge cases.  Expected values come from hand
reasoning (written out in each test) and, where useful, from the reference too.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datagen import EntitySpec, Scenario, ViewSpec, run_sqlfeat  # noqa: E402
from reference import (  # noqa: E402
    RefView,
    assert_pit_frames_equal,
    is_null,
    reference_pit,
    values_equal,
)


@pytest.fixture(autouse=True)
def on_every_warehouse(warehouse, monkeypatch):
    """Every case runs on every warehouse (DuckDB on both PIT strategies) against the reference."""
    import datagen

    monkeypatch.setitem(datagen.HARNESS, "value", warehouse)
    return warehouse


T0 = pd.Timestamp("2024-03-10 06:00:00", tz="UTC")  # one hour before New York's DST switch
H = pd.Timedelta(hours=1)
US = pd.Timedelta(microseconds=1)


def utc(*instants) -> pd.Series:
    return pd.Series(pd.to_datetime(list(instants), utc=True).as_unit("us"))


def in_tz(series: pd.Series, tz: str | None) -> pd.Series:
    """The same instants, rendered in ``tz`` (None: naive UTC wall clock)."""
    s = series.dt.tz_convert("UTC")
    return s.dt.tz_localize(None) if tz is None else s.dt.tz_convert(tz)


def nulls(values) -> list[bool]:
    return [is_null(v) for v in values]


def same(a, b) -> bool:
    return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))


# ======================================================================================
# 1. the reference, checked on hand-computed examples
# ======================================================================================


class TestReference:
    def test_latest_event_at_or_before_t(self):
        spine = pd.DataFrame({"user_id": [1, 1, 2], "event_timestamp": utc(T0, T0 + 2 * H, T0)})
        src = pd.DataFrame(
            {"user_id": [1, 1, 2], "ts": utc(T0 - H, T0 + H, T0 + 30 * pd.Timedelta(minutes=1)), "v": [10, 20, 30]}
        )
        out = reference_pit(spine, [RefView("a", ["user_id"], src, "ts", ["v"])], "event_timestamp")
        # row 0: only the 05:00 event is <= 06:00 -> 10; row 1: 07:00 <= 08:00 -> 20;
        # row 2: user 2's only event (06:30) is after 06:00 -> null
        assert list(out.columns) == ["user_id", "event_timestamp", "v"]
        assert out["v"].tolist()[:2] == [10, 20] and is_null(out["v"].iloc[2])

    def test_ttl_bounds_inclusive(self):
        spine = pd.DataFrame({"user_id": [1, 1, 1], "event_timestamp": utc(T0, T0 + US, T0 - H)})
        src = pd.DataFrame({"user_id": [1, 1], "ts": utc(T0 - 2 * H, T0 - H), "v": [1.5, 2.5]})
        view = RefView("a", ["user_id"], src, "ts", ["v"], ttl=dt.timedelta(hours=1))
        out = reference_pit(spine, [view], "event_timestamp")
        # t=06:00: window [05:00, 06:00] holds 05:00 -> 2.5 (lower bound inclusive)
        # t=06:00+1us: window starts 1us after 05:00 -> nothing
        # t=05:00: 05:00 is exactly t (upper bound inclusive) -> 2.5
        assert same(out["v"].tolist(), [2.5, None, 2.5])

    def test_ttl_zero_and_none_mean_no_ttl(self):
        spine = pd.DataFrame({"user_id": [1, 2, 3], "event_timestamp": utc(T0, T0, T0)})
        src = pd.DataFrame({"user_id": [1, 2, 3], "ts": utc(T0 - 1000 * H, T0 - H, T0 + H), "v": ["x", "y", "z"]})
        for ttl in (None, dt.timedelta(0)):
            out = reference_pit(spine, [RefView("a", ["user_id"], src, "ts", ["v"], ttl=ttl)], "event_timestamp")
            assert same(out["v"].tolist(), ["x", "y", None])
        out = reference_pit(
            spine, [RefView("a", ["user_id"], src, "ts", ["v"], ttl=dt.timedelta(hours=2))], "event_timestamp"
        )
        assert same(out["v"].tolist(), [None, "y", None])

    def test_created_breaks_ties_event_first(self):
        spine = pd.DataFrame({"user_id": [1, 1, 1], "event_timestamp": utc(T0 + 30 * US, T0 + H, T0 - US)})
        src = pd.DataFrame(
            {
                "user_id": [1, 1, 1, 1],
                "ts": utc(T0, T0, T0, T0 + H),
                "created": utc(T0 + 1 * H, T0 + 3 * H, T0 + 2 * H, T0),
                "v": ["A", "B", "C", "D"],
            }
        )
        view = RefView("a", ["user_id"], src, "ts", ["v"], created_timestamp_column="created")
        out = reference_pit(spine, [view], "event_timestamp")
        # three events tie at 06:00: B has the greatest created; D's event is later
        # even though its created is the smallest; before 06:00 there is nothing.
        assert same(out["v"].tolist(), ["B", "D", None])

    def test_timezones_compared_as_utc(self):
        spine_utc = pd.DataFrame({"user_id": [1, 1, 1], "event_timestamp": utc(T0, T0 + H, T0 + 2 * H)})
        src_utc = pd.DataFrame({"user_id": [1, 1], "ts": utc(T0 + H, T0 + 2 * H + US), "v": [1, 2]})
        # naive source (UTC wall clock), Shanghai spine (UTC+8): same instants
        spine_sh = spine_utc.assign(event_timestamp=in_tz(spine_utc["event_timestamp"], "Asia/Shanghai"))
        src_naive = src_utc.assign(ts=in_tz(src_utc["ts"], None))
        a = reference_pit(spine_utc, [RefView("a", ["user_id"], src_utc, "ts", ["v"])], "event_timestamp")
        b = reference_pit(spine_sh, [RefView("a", ["user_id"], src_naive, "ts", ["v"])], "event_timestamp")
        # 06:00 -> nothing; 07:00 -> 1; 08:00 -> 1 (the 2 is 1us later)
        assert same(a["v"].tolist(), [None, 1, 1])
        assert same(b["v"].tolist(), [None, 1, 1])
        # a spine whose naive values are Shanghai wall clock would be 8 hours off: not equal
        spine_wrong = spine_utc.assign(event_timestamp=in_tz(spine_sh["event_timestamp"], "Asia/Shanghai").dt.tz_localize(None))
        c = reference_pit(spine_wrong, [RefView("a", ["user_id"], src_utc, "ts", ["v"])], "event_timestamp")
        assert same(c["v"].tolist(), [2, 2, 2])

    def test_null_keys_and_null_event_ts_never_match(self):
        spine = pd.DataFrame({"user_id": ["u1", None, "u2"], "event_timestamp": utc(T0, T0, T0)}, dtype=object)
        spine["event_timestamp"] = utc(T0, T0, T0)
        src = pd.DataFrame(
            {"user_id": ["u1", None, "u2"], "ts": pd.Series([T0 - H, T0 - H, pd.NaT]).dt.as_unit("us"), "v": [1.0, 2.0, 3.0]}
        )
        out = reference_pit(spine, [RefView("a", ["user_id"], src, "ts", ["v"])], "event_timestamp")
        assert same(out["v"].tolist(), [1.0, None, None])

    def test_winner_null_value_stays_null(self):
        spine = pd.DataFrame({"user_id": [1, 2, 3], "event_timestamp": utc(T0, T0, T0)})
        src = pd.DataFrame({"user_id": [1, 1, 2], "ts": utc(T0 - 2 * H, T0 - H, T0 - H), "v": [5.0, np.nan, 7.0]})
        out = reference_pit(spine, [RefView("a", ["user_id"], src, "ts", ["v"])], "event_timestamp")
        # user 1's latest row has a null value: null, not the older 5.0
        assert same(out["v"].tolist(), [None, 7.0, None])

    def test_composite_keys_mapping_full_names_and_index(self):
        spine = pd.DataFrame(
            {"user_id": [1, 1, 2], "merchant_id": [10, 20, 10], "event_timestamp": utc(T0, T0, T0)}
        ).set_axis(pd.Index(["c", "a", "b"]))
        src = pd.DataFrame(
            {"user_id": [1, 1, 2], "merchant_id": [10, 20, 20], "ts": utc(T0, T0, T0), "raw": [1, 2, 3]}
        )
        view = RefView("um", ["user_id", "merchant_id"], src, "ts", ["raw"], field_mapping={"raw": "amount"})
        out = reference_pit(spine, [view], "event_timestamp", full_feature_names=True)
        assert list(out.columns) == ["user_id", "merchant_id", "event_timestamp", "um__amount"]
        assert list(out.index) == ["c", "a", "b"]
        assert same(out["um__amount"].tolist(), [1, 2, None])
        pd.testing.assert_frame_equal(out[spine.columns], spine)

    def test_key_field_mapping(self):
        spine = pd.DataFrame({"user_id": [1, 2, 3], "event_timestamp": utc(T0, T0, T0)})
        src = pd.DataFrame({"uid": [1, 2], "ts": utc(T0, T0), "v": [True, False]})
        view = RefView("a", ["user_id"], src, "ts", ["v"], field_mapping={"uid": "user_id"})
        out = reference_pit(spine, [view], "event_timestamp")
        assert same(out["v"].tolist(), [True, False, None])

    def test_comparator_reports_mismatch(self):
        spine = pd.DataFrame({"user_id": [1, 2], "event_timestamp": utc(T0, T0)})
        exp = spine.assign(v=pd.Series([1.0, None], dtype=object))
        ok = spine.assign(v=pd.Series([1.0000001, np.nan], dtype="float32"))
        assert_pit_frames_equal(ok, exp, ["user_id", "event_timestamp"])
        bad = spine.assign(v=[1.0, 3.0])
        with pytest.raises(AssertionError, match=r"row 1: user_id=2.*\n.*v: actual=3.0  expected=<null>"):
            assert_pit_frames_equal(bad, exp, ["user_id", "event_timestamp"])
        with pytest.raises(AssertionError, match="dtype changed"):
            assert_pit_frames_equal(
                spine.assign(event_timestamp=spine["event_timestamp"].dt.tz_localize(None), v=[1.0, None]),
                exp,
                ["user_id", "event_timestamp"],
            )
        with pytest.raises(AssertionError, match="column mismatch"):
            assert_pit_frames_equal(exp[["v", "user_id", "event_timestamp"]], exp, ["user_id", "event_timestamp"])


# ======================================================================================
# 2. sqlfeat on named edge cases
# ======================================================================================

USER = EntitySpec("user_id", "user_id", "INT64")
MERCHANT = EntitySpec("merchant", "merchant_id", "INT64")


def view(
    name: str,
    source: pd.DataFrame,
    schema: list[tuple[str, str]],
    *,
    ttl=None,
    created=None,
    entities=(USER,),
    ts="event_time",
    field_mapping=None,
    requested=None,
) -> ViewSpec:
    return ViewSpec(
        name=name,
        entity_names=[e.name for e in entities],
        join_keys=[e.join_key for e in entities],
        source=source,
        timestamp_field=ts,
        created_timestamp_column=created,
        ttl=ttl,
        schema=schema,
        field_mapping=field_mapping or {},
        requested=[f for f, _ in schema] if requested is None else requested,
    )


def scenario(spine, views, entities=(USER,), ts_col="event_timestamp", full=False) -> Scenario:
    return Scenario(
        seed="edge", spine=spine, timestamp_column=ts_col, entities=list(entities), views=views,
        full_feature_names=full,
    )


def run(sc: Scenario, tmp_path, check_reference=True, **kw) -> pd.DataFrame:
    """Run ``sc`` through sqlfeat; also check the result against the reference."""
    spine_before = sc.spine.copy(deep=True)
    _, job = run_sqlfeat(sc, tmp_path / "repo", **kw)
    df = job.to_df()
    pd.testing.assert_frame_equal(sc.spine, spine_before, obj="spine after get_historical_features")
    if check_reference:
        expected = reference_pit(sc.spine, sc.ref_views(), sc.timestamp_column, sc.full_feature_names)
        assert_pit_frames_equal(df, expected, list(sc.spine.columns), context=sc.describe())
    return df


def sqlfeat_error():
    from sqlfeat.errors import SqlfeatError

    return SqlfeatError


def run_expecting_error(sc: Scenario, tmp_path, **kw) -> str:
    """Run ``sc``; it must raise a SqlfeatError (at request time or at to_df)."""
    with pytest.raises(sqlfeat_error()) as info:
        _, job = run_sqlfeat(sc, tmp_path / "repo", **kw)
        job.to_df()
    return str(info.value)


def src_frame(users, times, **cols) -> pd.DataFrame:
    return pd.DataFrame({"user_id": pd.Series(users, dtype="int64"), "event_time": utc(*times), **cols})


def spine_frame(users, times, **cols) -> pd.DataFrame:
    df = pd.DataFrame({"user_id": pd.Series(users, dtype="int64"), "event_timestamp": utc(*times)})
    for k, v in cols.items():
        df[k] = v
    return df


def test_sqlfeat_importable_with_api():
    import sqlfeat
    from sqlfeat import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType  # noqa: F401
    from sqlfeat.errors import SqlfeatError
    from sqlfeat.types import Bool, Float32, Float64, Int32, Int64, String  # noqa: F401

    assert issubclass(SqlfeatError, Exception)
    assert sqlfeat.FeatureStore is FeatureStore


def test_basic_and_job_outputs(tmp_path):
    # user 1: events 05:00 (10) and 07:00 (20); user 2: 06:30 (30)
    src = src_frame([1, 1, 2], [T0 - H, T0 + H, T0 + 30 * pd.Timedelta(minutes=1)], clicks=[10, 20, 30])
    spine = spine_frame([1, 1, 2], [T0, T0 + 2 * H, T0], label=[0.5, 1.5, 2.5])
    sc = scenario(spine, [view("user_clicks", src, [("clicks", "Int64")])])
    _, job = run_sqlfeat(sc, tmp_path / "repo")
    df = job.to_df()
    assert list(df.columns) == ["user_id", "event_timestamp", "label", "clicks"]
    assert same(df["clicks"].tolist(), [10, 20, None])
    assert df["label"].tolist() == [0.5, 1.5, 2.5]
    tbl = job.to_arrow()
    assert tbl.num_rows == 3 and tbl.column_names == list(df.columns)
    assert same(tbl.column("clicks").to_pylist(), [10, 20, None])
    assert isinstance(job.sql, str) and "select" in job.sql.lower()


def test_ttl_lower_bound_inclusive(tmp_path):
    ttl = dt.timedelta(hours=2)
    t = T0
    # user 1: one event exactly at t - ttl -> matches
    # user 2: one event 1us before t - ttl -> does not
    # user 3: both -> the one at t - ttl
    src = src_frame([1, 2, 3, 3], [t - ttl, t - ttl - US, t - ttl - US, t - ttl], v=[1.0, 2.0, 3.0, 4.0])
    spine = spine_frame([1, 2, 3], [t, t, t])
    df = run(scenario(spine, [view("fv", src, [("v", "Float64")], ttl=ttl)]), tmp_path)
    assert same(df["v"].tolist(), [1.0, None, 4.0])


def test_ttl_bound_moves_with_t(tmp_path):
    ttl = dt.timedelta(minutes=90)
    src = src_frame([1], [T0], v=["x"])
    # windows: [t-90m, t]; the event at T0 is inside for t in [T0, T0+90m]
    times = [T0 - US, T0, T0 + ttl - US, T0 + ttl, T0 + ttl + US]
    spine = spine_frame([1] * 5, times)
    df = run(scenario(spine, [view("fv", src, [("v", "String")], ttl=ttl)]), tmp_path)
    assert same(df["v"].tolist(), [None, "x", "x", "x", None])


def test_event_exactly_at_t_matches_and_after_t_does_not(tmp_path):
    t = T0
    # user 1: event at t; user 2: event at t + 1us; user 3: events at t - 1h (a) and t + 1us (b)
    src = src_frame([1, 2, 3, 3], [t, t + US, t - H, t + US], v=["at_t", "after", "a", "b"])
    spine = spine_frame([1, 2, 3], [t, t, t])
    df = run(scenario(spine, [view("fv", src, [("v", "String")], ttl=dt.timedelta(days=1))]), tmp_path)
    assert same(df["v"].tolist(), ["at_t", None, "a"])


def test_created_timestamp_breaks_ties(tmp_path):
    # four rows for user 1: three tie at T0 (created 07:00 A, 09:00 B, 08:00 C),
    # one at T0+1h created earliest (D). Created columns in a non-UTC zone: the order
    # of created must be judged as instants.
    src = src_frame(
        [1, 1, 1, 1],
        [T0, T0, T0, T0 + H],
        created=in_tz(utc(T0 + H, T0 + 3 * H, T0 + 2 * H, T0), "America/New_York"),
        v=["A", "B", "C", "D"],
    )
    spine = spine_frame([1, 1, 1], [T0 + 30 * US, T0 + H, T0 - US])
    df = run(scenario(spine, [view("fv", src, [("v", "String")], created="created")]), tmp_path)
    assert same(df["v"].tolist(), ["B", "D", None])


def test_created_tie_break_is_per_key(tmp_path):
    # user 2 has the globally latest created; it must not leak into user 1
    src = src_frame(
        [1, 1, 2],
        [T0, T0, T0],
        created=utc(T0 + H, T0 + 2 * H, T0 + 5 * H),
        n=[1, 2, 3],
    )
    spine = spine_frame([1, 2, 3], [T0, T0, T0])
    df = run(scenario(spine, [view("fv", src, [("n", "Int64")], created="created")]), tmp_path)
    assert same(df["n"].tolist(), [2, 3, None])


def test_unknown_entity_gives_nulls(tmp_path):
    src = src_frame([1], [T0 - H], n=[7], f=[1.5], s=["x"], b=[True])
    spine = spine_frame([1, 999, 2], [T0, T0, T0])
    schema = [("n", "Int64"), ("f", "Float64"), ("s", "String"), ("b", "Bool")]
    df = run(scenario(spine, [view("fv", src, schema)]), tmp_path)
    assert same(df["n"].tolist(), [7, None, None])
    assert nulls(df["f"]) == [False, True, True]
    assert nulls(df["s"]) == [False, True, True]
    assert nulls(df["b"]) == [False, True, True]


def test_winner_with_null_value_gives_null(tmp_path):
    # the latest row's value is null: the answer is null, not an older non-null value
    src = src_frame([1, 1], [T0 - 2 * H, T0 - H], f=[5.0, np.nan], s=["old", None])
    spine = spine_frame([1], [T0])
    df = run(scenario(spine, [view("fv", src, [("f", "Float64"), ("s", "String")])]), tmp_path)
    assert nulls(df["f"]) == [True] and nulls(df["s"]) == [True]


def test_null_event_timestamp_never_matches(tmp_path):
    src = pd.DataFrame(
        {
            "user_id": pd.Series([1, 1, 2], dtype="int64"),
            "event_time": pd.Series([pd.NaT, T0 - 2 * H, pd.NaT], dtype="datetime64[us, UTC]"),
            "v": [1.0, 2.0, 3.0],
        }
    )
    spine = spine_frame([1, 2], [T0, T0])
    df = run(scenario(spine, [view("fv", src, [("v", "Float64")])]), tmp_path)
    assert same(df["v"].tolist(), [2.0, None])


def test_null_string_keys_never_match(tmp_path):
    ent = EntitySpec("user", "user_id", "STRING")
    src = pd.DataFrame({"user_id": pd.Series(["a", None], dtype=object), "event_time": utc(T0 - H, T0 - H), "v": [1, 2]})
    spine = pd.DataFrame({"user_id": pd.Series(["a", None, "b"], dtype=object), "event_timestamp": utc(T0, T0, T0)})
    df = run(scenario(spine, [view("fv", src, [("v", "Int64")], entities=(ent,))], entities=(ent,)), tmp_path)
    # a null spine key must not join the null source key
    assert same(df["v"].tolist(), [1, None, None])


def test_empty_source_gives_nulls(tmp_path):
    src = src_frame([], [], v=pd.Series([], dtype="float64"))
    spine = spine_frame([1, 2], [T0, T0])
    df = run(scenario(spine, [view("fv", src, [("v", "Float64")])]), tmp_path)
    assert len(df) == 2 and nulls(df["v"]) == [True, True]


def test_duplicate_spine_rows_give_duplicate_output_rows(tmp_path):
    src = src_frame([1, 2], [T0 - H, T0 - H], v=[1, 2])
    spine = spine_frame([1, 1, 2, 1, 2, 1], [T0] * 6)
    df = run(scenario(spine, [view("fv", src, [("v", "Int64")])]), tmp_path)
    assert len(df) == 6
    assert same(df["v"].tolist(), [1, 1, 2, 1, 2, 1])
    assert same(df["user_id"].tolist(), [1, 1, 2, 1, 2, 1])


def test_spine_order_preserved_shuffled_with_non_default_index(tmp_path):
    rng = np.random.default_rng(7)
    n = 40
    users = rng.integers(0, 5, size=n)
    times = [T0 + int(h) * H for h in rng.integers(-3, 4, size=n)]
    spine = spine_frame(users, times, row_id=np.arange(n))
    spine = spine.iloc[rng.permutation(n)]
    spine.index = pd.Index([f"k{i}" for i in rng.permutation(n)])
    src = src_frame(
        list(range(5)) * 3,
        [T0 - 2 * H] * 5 + [T0] * 5 + [T0 + 2 * H] * 5,
        v=np.arange(15, dtype="int64"),
    )
    df = run(scenario(spine, [view("fv", src, [("v", "Int64")])]), tmp_path)
    assert df["row_id"].tolist() == spine["row_id"].tolist()
    assert df["user_id"].tolist() == spine["user_id"].tolist()
    # rows keep the spine's index, or get a fresh default one; never a reordered index
    assert list(df.index) == list(spine.index) or isinstance(df.index, pd.RangeIndex) and df.index.start == 0


def test_spine_with_datetime_column_not_named_event_timestamp(tmp_path):
    src = src_frame([1], [T0 - H], v=[1.0])
    spine = pd.DataFrame({"user_id": pd.Series([1, 1], dtype="int64"), "ts": utc(T0, T0 - 2 * H), "label": [1, 0]})
    df = run(scenario(spine, [view("fv", src, [("v", "Float64")])], ts_col="ts"), tmp_path)
    assert same(df["v"].tolist(), [1.0, None])


def test_event_timestamp_wins_over_other_datetime_columns(tmp_path):
    src = src_frame([1], [T0 - H], v=[1.0])
    spine = spine_frame([1, 1], [T0, T0 - 2 * H])
    spine.insert(0, "label_time", utc(T0 - 10 * H, T0 + 10 * H))
    df = run(scenario(spine, [view("fv", src, [("v", "Float64")])]), tmp_path)
    assert same(df["v"].tolist(), [1.0, None])


@pytest.mark.parametrize(
    "spine_tz, source_tz",
    [("Asia/Shanghai", None), (None, "America/New_York"), ("America/New_York", "Asia/Shanghai"), (None, None)],
)
def test_timezones_give_same_answer_as_utc(tmp_path, spine_tz, source_tz):
    # events and spine times straddle New York's DST switch (2024-03-10 07:00Z)
    ev = utc(T0 - 30 * pd.Timedelta(minutes=1), T0 + H, T0 + 2 * H, T0 + 8 * H)
    src_utc = pd.DataFrame({"user_id": pd.Series([1, 1, 1, 1], dtype="int64"), "event_time": ev, "v": [1, 2, 3, 4]})
    st = utc(T0, T0 + H - US, T0 + H, T0 + 5 * H, T0 + 8 * H - US, T0 + 20 * H)
    spine_utc = pd.DataFrame({"user_id": pd.Series([1] * 6, dtype="int64"), "event_timestamp": st})
    ttl = dt.timedelta(hours=4)
    # events 05:30 (1), 07:00 (2), 08:00 (3), 14:00 (4); by hand, window [t-4h, t]:
    # 06:00 -> 1; 06:59:59.999999 -> 1; 07:00 -> 2; 11:00 -> 3 (07:00 is the inclusive lower bound,
    # 08:00 is later); 13:59:59.999999 -> window starts after 08:00 and 14:00 is later -> null;
    # 02:00 next day -> null
    expected = [1, 1, 2, 3, None, None]

    base = run(scenario(spine_utc, [view("fv", src_utc, [("v", "Int64")], ttl=ttl)]), tmp_path / "utc")
    assert same(base["v"].tolist(), expected)

    spine = spine_utc.assign(event_timestamp=in_tz(spine_utc["event_timestamp"], spine_tz))
    src = src_utc.assign(event_time=in_tz(src_utc["event_time"], source_tz))
    df = run(scenario(spine, [view("fv", src, [("v", "Int64")], ttl=ttl)]), tmp_path / "tz")
    assert same(df["v"].tolist(), expected)
    # the spine's time column comes back as it went in (same zone, same instants)
    assert df["event_timestamp"].dtype == spine["event_timestamp"].dtype
    assert same(df["event_timestamp"].tolist(), spine["event_timestamp"].tolist())


def test_composite_keys(tmp_path):
    ents = (USER, MERCHANT)
    src = pd.DataFrame(
        {
            "user_id": pd.Series([1, 1, 2, 2], dtype="int64"),
            "merchant_id": pd.Series([10, 20, 20, 10], dtype="int64"),
            "event_time": utc(T0 - H, T0 - H, T0 - H, T0 + H),
            "amount": [1.0, 2.0, 3.0, 4.0],
        }
    )
    spine = pd.DataFrame(
        {
            "user_id": pd.Series([1, 1, 2, 2, 3], dtype="int64"),
            "merchant_id": pd.Series([10, 20, 10, 20, 10], dtype="int64"),
            "event_timestamp": utc(T0, T0, T0, T0, T0),
        }
    )
    sc = scenario(spine, [view("um", src, [("amount", "Float64")], entities=ents)], entities=ents)
    df = run(sc, tmp_path)
    # (2,10)'s only event is after t; (3,10) is unknown
    assert same(df["amount"].tolist(), [1.0, 2.0, None, 3.0, None])


def test_two_views_sharing_an_entity_with_different_ttls(tmp_path):
    src = src_frame([1, 2], [T0 - 3 * H, T0 - 30 * pd.Timedelta(minutes=1)], a=[1, 2])
    src_b = src_frame([1, 2], [T0 - 3 * H, T0 - 30 * pd.Timedelta(minutes=1)], b=[10.0, 20.0])
    src_c = src_frame([1, 2], [T0 - 3 * H, T0 - 30 * pd.Timedelta(minutes=1)], c=["p", "q"])
    spine = spine_frame([1, 2], [T0, T0])
    views = [
        view("short", src, [("a", "Int64")], ttl=dt.timedelta(hours=1)),
        view("forever", src_b, [("b", "Float64")], ttl=None),
        view("zero", src_c, [("c", "String")], ttl=dt.timedelta(0)),
    ]
    df = run(scenario(spine, views), tmp_path)
    assert list(df.columns) == ["user_id", "event_timestamp", "a", "b", "c"]
    assert same(df["a"].tolist(), [None, 2])
    assert same(df["b"].tolist(), [10.0, 20.0])
    assert same(df["c"].tolist(), ["p", "q"])


def test_full_feature_names(tmp_path):
    src_a = src_frame([1], [T0 - H], value=[1.0])
    src_b = src_frame([1], [T0 - 2 * H], value=[2.0])
    spine = spine_frame([1, 2], [T0, T0])
    views = [view("a_view", src_a, [("value", "Float64")]), view("b_view", src_b, [("value", "Float64")])]
    df = run(scenario(spine, views, full=True), tmp_path, full_feature_names=True)
    assert list(df.columns) == ["user_id", "event_timestamp", "a_view__value", "b_view__value"]
    assert same(df["a_view__value"].tolist(), [1.0, None])
    assert same(df["b_view__value"].tolist(), [2.0, None])


def test_feature_name_collision_without_full_names_is_an_error(tmp_path):
    src_a = src_frame([1], [T0 - H], value=[1.0])
    src_b = src_frame([1], [T0 - 2 * H], value=[2.0])
    spine = spine_frame([1], [T0])
    views = [view("a_view", src_a, [("value", "Float64")]), view("b_view", src_b, [("value", "Float64")])]
    msg = run_expecting_error(scenario(spine, views), tmp_path, full_feature_names=False)
    assert "full_feature_names" in msg


def test_field_mapping_renames_feature(tmp_path):
    src = src_frame([1, 2], [T0 - H, T0 + H], raw_clicks=[5, 6])
    spine = spine_frame([1, 2], [T0, T0])
    sc = scenario(spine, [view("fv", src, [("clicks", "Int64")], field_mapping={"raw_clicks": "clicks"})])
    df = run(sc, tmp_path)
    assert list(df.columns) == ["user_id", "event_timestamp", "clicks"]
    assert same(df["clicks"].tolist(), [5, None])


def test_field_mapping_renames_join_key(tmp_path):
    src = pd.DataFrame({"uid": pd.Series([1, 2], dtype="int64"), "event_time": utc(T0 - H, T0 - H), "v": [5, 6]})
    spine = spine_frame([2, 1, 3], [T0, T0, T0])
    sc = scenario(spine, [view("fv", src, [("v", "Int64")], field_mapping={"uid": "user_id"})])
    df = run(sc, tmp_path)
    assert same(df["v"].tolist(), [6, 5, None])


def test_unknown_feature_is_an_error_naming_it(tmp_path):
    src = src_frame([1], [T0 - H], click_count=[1])
    spine = spine_frame([1], [T0])
    sc = scenario(spine, [view("user_clicks", src, [("click_count", "Int64")])])
    msg = run_expecting_error(sc, tmp_path, features=["user_clicks:nope"])
    assert "nope" in msg


def test_unknown_view_is_an_error_naming_it(tmp_path):
    src = src_frame([1], [T0 - H], click_count=[1])
    spine = spine_frame([1], [T0])
    sc = scenario(spine, [view("user_clicks", src, [("click_count", "Int64")])])
    msg = run_expecting_error(sc, tmp_path, features=["no_such_view:click_count"])
    assert "no_such_view" in msg


def test_spine_missing_join_key_is_an_error_naming_it(tmp_path):
    src = src_frame([1], [T0 - H], click_count=[1])
    spine = pd.DataFrame({"customer": [1], "event_timestamp": utc(T0)})
    sc = scenario(spine, [view("user_clicks", src, [("click_count", "Int64")])])
    msg = run_expecting_error(sc, tmp_path)
    assert "user_id" in msg


def test_spine_missing_one_of_composite_keys_is_an_error_naming_it(tmp_path):
    ents = (USER, MERCHANT)
    src = pd.DataFrame(
        {"user_id": [1], "merchant_id": [10], "event_time": utc(T0 - H), "amount": [1.0]}
    )
    spine = spine_frame([1], [T0])
    sc = scenario(spine, [view("um", src, [("amount", "Float64")], entities=ents)], entities=ents)
    msg = run_expecting_error(sc, tmp_path)
    assert "merchant_id" in msg


def test_spine_with_two_datetime_columns_and_no_event_timestamp_is_an_error(tmp_path):
    src = src_frame([1], [T0 - H], click_count=[1])
    spine = pd.DataFrame({"user_id": [1], "ts_a": utc(T0), "ts_b": utc(T0)})
    sc = scenario(spine, [view("user_clicks", src, [("click_count", "Int64")])], ts_col="ts_a")
    msg = run_expecting_error(sc, tmp_path)
    assert "event_timestamp" in msg


def test_spine_with_no_datetime_column_is_an_error(tmp_path):
    src = src_frame([1], [T0 - H], click_count=[1])
    spine = pd.DataFrame({"user_id": [1], "when": ["2024-03-10"]})
    sc = scenario(spine, [view("user_clicks", src, [("click_count", "Int64")])], ts_col="when")
    msg = run_expecting_error(sc, tmp_path)
    assert "event_timestamp" in msg


@pytest.mark.notyet(
    ["postgres", "bigquery", "snowflake", "spark"],
    reason="the warehouse stores microseconds, so a source time 500ns after t is already t once loaded",
)
def test_nanosecond_timestamps_are_not_rounded_into_a_match(tmp_path):
    # a source event 500ns after t is after t, even if the warehouse keeps microseconds;
    # a spine time 1ns before an event at a whole microsecond is before it
    ns = pd.Timedelta(nanoseconds=1)
    src = pd.DataFrame(
        {
            "user_id": pd.Series([1, 1, 2, 2], dtype="int64"),
            "event_time": pd.Series([T0 + 500 * ns, T0 - H, T0, T0 - H]).dt.as_unit("ns"),
            "v": [2, 1, 4, 3],
        }
    )
    spine = pd.DataFrame(
        {
            "user_id": pd.Series([1, 2], dtype="int64"),
            "event_timestamp": pd.Series([T0, T0 - ns]).dt.as_unit("ns"),
        }
    )
    df = run(scenario(spine, [view("fv", src, [("v", "Int64")])]), tmp_path)
    assert same(df["v"].tolist(), [1, 3])
    assert df["event_timestamp"].tolist() == spine["event_timestamp"].tolist()


def test_sub_second_ttl(tmp_path):
    ttl = dt.timedelta(milliseconds=1500)
    src = src_frame([1, 2], [T0 - pd.Timedelta(milliseconds=1500), T0 - pd.Timedelta(milliseconds=1500) - US], v=[1, 2])
    spine = spine_frame([1, 2], [T0, T0])
    df = run(scenario(spine, [view("fv", src, [("v", "Int64")], ttl=ttl)]), tmp_path)
    assert same(df["v"].tolist(), [1, None])


def test_spine_row_with_null_time_gives_nulls_and_is_kept(tmp_path):
    src = src_frame([1], [T0 - H], v=[1])
    spine = pd.DataFrame(
        {
            "user_id": pd.Series([1, 1, 1], dtype="int64"),
            "event_timestamp": pd.Series([T0, pd.NaT, T0], dtype="datetime64[us, UTC]"),
            "row_id": [0, 1, 2],
        }
    )
    df = run(scenario(spine, [view("fv", src, [("v", "Int64")])]), tmp_path)
    assert df["row_id"].tolist() == [0, 1, 2]
    assert same(df["v"].tolist(), [1, None, 1])


@pytest.mark.parametrize("unit, tz", [("ms", None), ("s", "Asia/Kolkata"), ("ns", "America/New_York")])
def test_spine_time_units_pass_through(tmp_path, unit, tz):
    src = src_frame([1, 1], [T0 - H, T0 + H], v=[1, 2])
    spine = spine_frame([1, 1], [T0, T0 + 2 * H])
    spine["event_timestamp"] = in_tz(spine["event_timestamp"], tz).dt.as_unit(unit)
    df = run(scenario(spine, [view("fv", src, [("v", "Int64")])]), tmp_path)
    assert df["event_timestamp"].dtype == spine["event_timestamp"].dtype
    assert same(df["v"].tolist(), [1, 2])


def test_requested_subset_of_features_only(tmp_path):
    src = src_frame([1], [T0 - H], a=[1], b=[2.0], c=["z"])
    spine = spine_frame([1], [T0])
    sc = scenario(spine, [view("fv", src, [("a", "Int64"), ("b", "Float64"), ("c", "String")], requested=["c"])])
    df = run(sc, tmp_path)
    assert list(df.columns) == ["user_id", "event_timestamp", "c"]
    assert df["c"].tolist() == ["z"]


def test_spine_column_named_like_a_feature_is_an_error(tmp_path):
    src = src_frame([1], [T0 - H], clicks=[5])
    spine = spine_frame([1], [T0], clicks=[0])
    msg = run_expecting_error(scenario(spine, [view("fv", src, [("clicks", "Int64")])]), tmp_path)
    assert "clicks" in msg and "full_feature_names" in msg


def test_narrower_int_spine_key_still_joins(tmp_path):
    src = src_frame([1, 2], [T0 - H, T0 - H], v=[5, 6])
    spine = pd.DataFrame({"user_id": np.array([2, 1, 3], dtype="int32"), "event_timestamp": utc(T0, T0, T0)})
    df = run(scenario(spine, [view("fv", src, [("v", "Int64")])]), tmp_path)
    assert df["user_id"].dtype == np.dtype("int32")
    assert same(df["v"].tolist(), [6, 5, None])


def test_empty_spine_gives_empty_output(tmp_path):
    src = src_frame([1], [T0 - H], v=[5])
    spine = spine_frame([], [])
    df = run(scenario(spine, [view("fv", src, [("v", "Int64")])]), tmp_path)
    assert len(df) == 0 and list(df.columns) == ["user_id", "event_timestamp", "v"]


def test_other_spine_columns_pass_through_unchanged(tmp_path):
    src = src_frame([1, 2], [T0 - H, T0 - H], v=[5, 6])
    spine = spine_frame([1, 2], [T0, T0])
    spine["cat"] = pd.Categorical(["a", "b"])
    spine["nint"] = pd.array([1, None], dtype="Int64")
    spine["flag"] = [True, False]
    spine["f32"] = np.array([1.5, np.nan], dtype="float32")
    spine["obj"] = pd.Series([{"x": 1}, [1, 2]], dtype=object)
    spine["wait"] = pd.to_timedelta([1, 2], unit="s")
    spine["Label Time"] = utc(T0 + H, T0 + 2 * H).dt.tz_convert("Asia/Shanghai")
    df = run(scenario(spine, [view("fv", src, [("v", "Int64")])]), tmp_path)
    pd.testing.assert_frame_equal(df[list(spine.columns)].reset_index(drop=True), spine.reset_index(drop=True))
