"""Feast's retrieval capabilities, on every warehouse and every PIT strategy, against the naive
reference (tests/reference.py): ``filter_by_created_timestamp``, retrieval without an entity_df
(``start_date`` / ``end_date``), and projections (``view[[...]]``, ``with_name``,
``with_join_key_map``) through a ``FeatureService``."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from conftest import write_repo
from reference import RefView, assert_pit_frames_equal, reference_pit, reference_range_spine
from test_aggregations import reference as aggregate_reference

from sqlfeat import Aggregation, Entity, FeatureService, FeatureStore, FeatureView, Field, ValueType
from sqlfeat.errors import FeatureReferenceError, UsageError
from sqlfeat.types import Float64, Int64, String

BASE = pd.Timestamp("2024-03-01", tz="UTC")
H = pd.Timedelta(hours=1)


def backfilled(seed: int, users: int = 6, rows: int = 120) -> pd.DataFrame:
    """Rows created some time after their event (up to 3 days: backfills), corrections of the
    same event created later still, rows created exactly at a later spine time, null created."""
    rng = np.random.default_rng(seed)
    events = BASE + pd.to_timedelta(rng.integers(0, 10 * 24, rows), unit="h")
    delay = pd.to_timedelta(rng.choice([0, 1, 5, 30, 72], rows), unit="h")
    frame = pd.DataFrame({
        "user_id": rng.integers(1, users + 1, rows).astype("int64"),
        "event_time": events,
        "created": events + delay + pd.to_timedelta(np.arange(rows), unit="s"),  # unique: ties have a winner
        "score": rng.normal(size=rows).round(3),
        "label": rng.choice(["a", "b", "c"], rows).astype(object),
    })
    corrections = frame.sample(30, random_state=seed).assign(
        created=lambda f: f["created"] + pd.Timedelta(hours=12, microseconds=1), score=lambda f: f["score"] + 100
    )
    frame = pd.concat([frame, corrections], ignore_index=True)
    frame["created"] = frame["created"].astype("datetime64[us, UTC]")
    frame.loc[frame.sample(5, random_state=seed + 1).index, "created"] = pd.NaT
    return frame


def spine_at(source: pd.DataFrame, seed: int, n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(seed + 7)
    at_created = source.dropna(subset=["created"]).sample(15, random_state=seed)  # t exactly at a created time
    spine = pd.DataFrame({
        "user_id": np.concatenate([rng.integers(1, 8, n), at_created["user_id"].to_numpy()]).astype("int64"),
        "event_timestamp": pd.concat([
            pd.Series(BASE + pd.to_timedelta(rng.integers(0, 13 * 24 * 60, n), unit="min")),
            at_created["created"].astype("datetime64[ns, UTC]").reset_index(drop=True),
        ], ignore_index=True),
    })
    return pd.concat([spine, spine.head(4)], ignore_index=True)


@pytest.fixture
def repo(warehouse, tmp_path):
    return write_repo(tmp_path / "repo", offline_store=warehouse.offline_store)


def _name(tmp_path, name: str) -> str:
    return f"{name}_{tmp_path.name[-10:]}"


USER = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)


# -- filter_by_created_timestamp ----------------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 2])
def test_created_filter_hides_rows_created_after_t(warehouse, repo, tmp_path, seed):
    source_frame = backfilled(seed)
    source = warehouse.source(repo, _name(tmp_path, "scores"), source_frame, timestamp_field="event_time",
                              created_timestamp_column="created")  # fmt: skip
    with_ttl = FeatureView(name="scores", entities=[USER], ttl=timedelta(days=2), source=source,
                           schema=[Field(name="score", dtype=Float64), Field(name="label", dtype=String)])  # fmt: skip
    forever = FeatureView(name="scores_forever", entities=[USER], source=source, schema=[Field(name="score", dtype=Float64)])
    store = FeatureStore(repo_path=repo)
    store.apply([USER, with_ttl, forever])
    spine = spine_at(source_frame, seed)
    features = ["scores:score", "scores:label", "scores_forever:score"]
    views = [
        RefView("scores", ["user_id"], source_frame, "event_time", ["score", "label"], timedelta(days=2), "created"),
        RefView("scores_forever", ["user_id"], source_frame, "event_time", ["score"], None, "created"),
    ]
    for flag in (True, False):
        got = store.get_historical_features(spine, features, full_feature_names=True, filter_by_created_timestamp=flag,
                                            strategy=warehouse.strategy).to_df()  # fmt: skip
        want = reference_pit(spine, views, "event_timestamp", True, filter_by_created_timestamp=flag)
        assert_pit_frames_equal(got, want, list(spine.columns), context=f"{warehouse.name}-{warehouse.strategy} filter={flag}")
    # the flag changed something: the scenario holds backfilled rows that the filter hides
    unfiltered = reference_pit(spine, views, "event_timestamp", True)
    filtered = reference_pit(spine, views, "event_timestamp", True, filter_by_created_timestamp=True)
    assert not unfiltered["scores__score"].equals(filtered["scores__score"])
    store.close()


def test_created_filter_leaves_views_without_created_time_alone(warehouse, repo, tmp_path):
    frame = backfilled(3).drop(columns=["created"]).drop_duplicates(["user_id", "event_time"])
    source = warehouse.source(repo, _name(tmp_path, "plain"), frame, timestamp_field="event_time")
    view = FeatureView(name="plain", entities=[USER], source=source, schema=[Field(name="score", dtype=Float64)])
    store = FeatureStore(repo_path=repo)
    store.apply([USER, view])
    spine = spine_at(backfilled(3), 3)
    flagged = store.get_historical_features(spine, ["plain:score"], filter_by_created_timestamp=True,
                                            strategy=warehouse.strategy).to_df()  # fmt: skip
    want = reference_pit(spine, [RefView("plain", ["user_id"], frame, "event_time", ["score"])], "event_timestamp")
    assert_pit_frames_equal(flagged, want, list(spine.columns))
    store.close()


def test_created_filter_on_window_aggregates(warehouse, repo, tmp_path):
    events = backfilled(4).dropna(subset=["created"]).reset_index(drop=True)
    aggregations = [
        Aggregation("score", "count", timedelta(days=2)), Aggregation("score", "sum", timedelta(days=3)),
        Aggregation("score", "max", timedelta(days=1)), Aggregation("label", "count_distinct", timedelta(days=4)),
        Aggregation("label", "last", timedelta(days=2)),
    ]  # fmt: skip
    source = warehouse.source(repo, _name(tmp_path, "events"), events, timestamp_field="event_time",
                              created_timestamp_column="created")  # fmt: skip
    stats = FeatureView(name="stats", entities=[USER], source=source, aggregations=aggregations)
    store = FeatureStore(repo_path=repo)
    store.apply([USER, stats])
    spine = spine_at(events, 4)
    got = store.get_historical_features(spine, [f"stats:{a.name}" for a in aggregations], filter_by_created_timestamp=True,
                                        strategy=warehouse.strategy).to_df()  # fmt: skip
    times = pd.to_datetime(spine["event_timestamp"], utc=True)
    for aggregation in aggregations:
        want = [
            aggregate_reference(spine.iloc[[i]], events[events["created"] <= times[i]], aggregation)[0]
            for i in range(len(spine))
        ]
        for i, (g, w) in enumerate(zip(got[aggregation.name].tolist(), want)):
            if w is None or (isinstance(w, float) and math.isnan(w)):
                assert g is None or pd.isna(g), (aggregation.name, i, g, w)
            elif isinstance(w, (float, np.floating)):
                assert g == pytest.approx(w, rel=1e-9), (aggregation.name, i, g, w)
            else:
                assert g == w, (aggregation.name, i, g, w)
    store.close()


# -- retrieval without an entity_df --------------------------------------------------------------
def _two_entities(warehouse, repo, tmp_path):
    clicks = pd.DataFrame({
        "user_id": [1, 1, 2, 2, 3, None],
        "event_time": [BASE, BASE + H, BASE + H, BASE + 5 * H, BASE + 9 * H, BASE + 2 * H],
        "clicks": [10, 11, 20, 21, 30, 99],
    }).astype({"user_id": "Int64"})
    orders = pd.DataFrame({
        "user_id": [1, 2, 2], "merchant_id": ["m1", "m1", "m2"],
        "event_time": [BASE + H, BASE + 3 * H, BASE + 10 * H], "amount": [1.5, 2.5, 3.5],
    })
    profile = pd.DataFrame({"user_id": [1, 2], "event_time": [BASE - 100 * H, BASE + 2 * H], "age": [30, 40]})
    merchant = Entity(name="merchant", join_keys=["merchant_id"], value_type=ValueType.STRING)
    views = [
        FeatureView(name="clicks", entities=[USER], source=warehouse.source(repo, _name(tmp_path, "clicks"), clicks,
                    timestamp_field="event_time"), schema=[Field(name="clicks", dtype=Int64)], ttl=timedelta(hours=4)),
        FeatureView(name="orders", entities=[USER, merchant], source=warehouse.source(repo, _name(tmp_path, "orders"),
                    orders, timestamp_field="event_time"), schema=[Field(name="amount", dtype=Float64)]),
        FeatureView(name="profile", entities=[USER], source=warehouse.source(repo, _name(tmp_path, "profile"), profile,
                    timestamp_field="event_time"), schema=[Field(name="age", dtype=Int64)]),
    ]  # fmt: skip
    store = FeatureStore(repo_path=repo)
    store.apply([USER, merchant, *views])
    refs = {
        "clicks": RefView("clicks", ["user_id"], clicks, "event_time", ["clicks"], timedelta(hours=4)),
        "orders": RefView("orders", ["user_id", "merchant_id"], orders, "event_time", ["amount"]),
        "profile": RefView("profile", ["user_id"], profile, "event_time", ["age"]),
    }
    return store, refs


def test_range_spine_is_every_key_and_event_time_in_range(warehouse, repo, tmp_path):
    store, refs = _two_entities(warehouse, repo, tmp_path)
    start, end = BASE + H, BASE + 9 * H  # both bounds hold rows: inclusive
    features = ["clicks:clicks", "orders:amount", "profile:age"]
    got = store.get_historical_features(features=features, start_date=start.to_pydatetime(), end_date=end.to_pydatetime(),
                                        strategy=warehouse.strategy).to_df()  # fmt: skip
    views = [refs["clicks"], refs["orders"], refs["profile"]]
    spine = reference_range_spine(views, start, end)
    want = reference_pit(spine, views, "event_timestamp")
    assert list(got.columns) == ["user_id", "merchant_id", "event_timestamp", "clicks", "amount", "age"]
    assert_pit_frames_equal(got, want, list(spine.columns), check_spine_dtypes=False, context=warehouse.name)
    # rows at start and end are in; the null-key row and the row after end are not
    assert got["event_timestamp"].min() == start and got["event_timestamp"].max() == end
    assert len(got) == len(spine) == 7
    store.close()


def test_range_spine_of_one_view_and_compiled_sql(warehouse, repo, tmp_path):
    store, refs = _two_entities(warehouse, repo, tmp_path)
    start, end = datetime(2024, 3, 1, 1), datetime(2024, 3, 1, 5)  # naive: UTC, as in Feast
    job = store.get_historical_features(features=["clicks:clicks"], start_date=start, end_date=end,
                                        strategy=warehouse.strategy)  # fmt: skip
    spine = reference_range_spine([refs["clicks"]], pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC"))
    want = reference_pit(spine, [refs["clicks"]], "event_timestamp")
    assert_pit_frames_equal(job.to_df(), want, list(spine.columns), check_spine_dtypes=False)
    assert job.to_arrow().num_rows == 3
    # the spine is a SELECT over the source inside the warehouse, not uploaded rows
    assert "__sqlfeat_spine_" not in job.sql and "event_timestamp" in job.sql.split("__source")[0]
    store.close()


def test_range_arguments_follow_feast():
    from sqlfeat.compiler.plan import RetrievalPlan
    from sqlfeat.historical import DEFAULT_WINDOW, check_spine_arguments, date_range

    end = datetime(2024, 5, 1, 12)
    start, stop = date_range(RetrievalPlan((), False), None, end)
    assert stop == end.replace(tzinfo=timezone.utc) and start == stop - DEFAULT_WINDOW
    before = datetime.now(timezone.utc)
    assert date_range(RetrievalPlan((), False), None, None)[1] >= before
    with pytest.raises(UsageError, match="not both"):
        check_spine_arguments(pd.DataFrame(), datetime(2024, 1, 1), None)
    with pytest.raises(UsageError, match="after end_date"):
        date_range(RetrievalPlan((), False), datetime(2024, 6, 1), end)


def test_default_start_is_end_minus_the_longest_ttl(make_repo):
    frame = pd.DataFrame({"user_id": [1, 1, 1], "event_time": [BASE, BASE + 3 * H, BASE + 6 * H], "clicks": [1, 2, 3]})
    from sqlfeat import FileSource

    store = FeatureStore(repo_path=make_repo({"c": frame}))
    view = FeatureView(name="c", entities=[USER], ttl=timedelta(hours=4), schema=[Field(name="clicks", dtype=Int64)],
                       source=FileSource(path="data/c.parquet", timestamp_field="event_time"))  # fmt: skip
    store.apply([USER, view])
    got = store.get_historical_features(features=["c:clicks"], end_date=(BASE + 6 * H).to_pydatetime()).to_df()
    assert got["clicks"].tolist() == [2, 3]  # events at +3h and +6h: inside [end - 4h, end]


# -- projections and feature services --------------------------------------------------------------
def test_one_view_joined_twice_under_other_entity_columns(warehouse, repo, tmp_path):
    weather = pd.DataFrame({
        "location_id": [1, 1, 2, 2, 3], "event_time": [BASE, BASE + 4 * H, BASE + H, BASE + 2 * H, BASE + 3 * H],
        "temperature": [1.0, 2.0, 3.0, 4.0, 5.0], "humidity": [10, 20, 30, 40, 50],
    })  # fmt: skip
    location = Entity(name="location", join_keys=["location_id"], value_type=ValueType.INT64)
    stats = FeatureView(name="location_stats", entities=[location], ttl=timedelta(hours=3),
                        source=warehouse.source(repo, _name(tmp_path, "weather"), weather, timestamp_field="event_time"),
                        schema=[Field(name="temperature", dtype=Float64), Field(name="humidity", dtype=Int64)])  # fmt: skip
    trips = FeatureService(name="trips", features=[
        stats[["temperature"]].with_name("origin").with_join_key_map({"location_id": "origin_id"}),
        stats.with_name("destination").with_join_key_map({"location_id": "destination_id"}),
    ])  # fmt: skip
    store = FeatureStore(repo_path=repo)
    store.apply([location, stats, trips])
    spine = pd.DataFrame({
        "origin_id": [1, 2, 3, 1, 4], "destination_id": [2, 1, 1, 3, 2],
        "event_timestamp": [BASE + 2 * H, BASE + 2 * H, BASE + 5 * H, BASE + 4 * H, BASE + H],
    })  # fmt: skip
    for service in (trips, store.get_feature_service("trips")):
        got = store.get_historical_features(spine, service, full_feature_names=True, strategy=warehouse.strategy).to_df()
        want = reference_pit(spine, [
            RefView("origin", ["origin_id"], weather, "event_time", ["temperature"], timedelta(hours=3),
                    field_mapping={"location_id": "origin_id"}),
            RefView("destination", ["destination_id"], weather, "event_time", ["temperature", "humidity"],
                    timedelta(hours=3), field_mapping={"location_id": "destination_id"}),
        ], "event_timestamp", full_feature_names=True)  # fmt: skip
        assert list(got.columns) == [*spine.columns, "origin__temperature", "destination__temperature", "destination__humidity"]
        assert_pit_frames_equal(got, want, list(spine.columns), context=warehouse.name)
    # the same service over a time range: origin and destination rows each from the view's rows
    ranged = store.get_historical_features(features=trips, start_date=BASE.to_pydatetime(), end_date=(BASE + 4 * H).to_pydatetime(),
                                           full_feature_names=True, strategy=warehouse.strategy).to_df()  # fmt: skip
    assert len(ranged) == 2 * len(weather)
    assert (ranged["origin_id"].isna() != ranged["destination_id"].isna()).all()
    assert str(ranged["origin_id"].dtype) == "Int64", "a null key keeps integer keys integers"
    store.close()


def test_feature_service_selects_and_orders_columns(make_repo):
    from sqlfeat import FileSource

    frame = pd.DataFrame({"user_id": [1], "event_time": [BASE], "a": [1], "b": [2.5], "c": ["x"]})
    store = FeatureStore(repo_path=make_repo({"f": frame}))
    view = FeatureView(name="f", entities=[USER], source=FileSource(path="data/f.parquet", timestamp_field="event_time"),
                       schema=[Field(name="a", dtype=Int64), Field(name="b", dtype=Float64), Field(name="c", dtype=String)])  # fmt: skip
    store.apply([USER, view])
    spine = pd.DataFrame({"user_id": [1, 2], "event_timestamp": [BASE + H, BASE + H]})
    got = store.get_historical_features(spine, FeatureService(name="s", features=[view[["c", "a"]]])).to_df()
    assert list(got.columns) == ["user_id", "event_timestamp", "c", "a"] and got["a"].tolist()[0] == 1
    everything = store.get_historical_features(spine, FeatureService(name="s", features=[view])).to_df()
    assert list(everything.columns)[2:] == ["a", "b", "c"]
    with pytest.raises(FeatureReferenceError, match="has no feature 'z'"):
        view[["z"]]
    with pytest.raises(FeatureReferenceError, match="maps 'merchant_id', which is not one of its join keys"):
        store.get_historical_features(spine, FeatureService(name="s", features=[view.with_join_key_map({"merchant_id": "m"})]))
    # a projection changes nothing registered
    assert store.get_feature_view("f") == view and not store.get_feature_view("f").is_projected
