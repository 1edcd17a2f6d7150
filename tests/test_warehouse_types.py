"""Types across warehouses: array features (typed lists where the warehouse has them), declared
dtypes narrower than the data, text join keys over integer columns, and schemas inferred from
the source's columns. Every case runs on every warehouse and strategy."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import pyarrow as pa
import pytest

from sqlfeat import Entity, FeatureStore, FeatureView, Field, ValueType
from sqlfeat.errors import SchemaMismatchError
from sqlfeat.types import Array, Float64, Int64, String

UTC = timezone.utc
T0 = datetime(2024, 3, 1, tzinfo=UTC)


def unique(tmp_path, prefix: str) -> str:
    return f"{prefix}_{tmp_path.name[-12:].replace('-', '_')}"


@pytest.fixture
def repo(warehouse, tmp_path):
    from conftest import write_repo

    return write_repo(tmp_path / "repo", offline_store=warehouse.offline_store)


# -- arrays --------------------------------------------------------------------------------------
ARRAYS = pd.DataFrame({
    "user_id": [1, 1, 2, 3],
    "event_time": [T0 - timedelta(days=2), T0 - timedelta(days=1), T0 - timedelta(days=1), T0 + timedelta(days=1)],
    "tags": [["old"], ["a", "b"], [], ["future"]],
    "scores": [[0.5], [1.5, 2.25], [3.0], [9.0]],
    "counts": [[1], [10, 20, 30], [], [7]],
})
ARRAY_SCHEMA = [Field(name="tags", dtype=Array(String)), Field(name="scores", dtype=Array(Float64)),
                Field(name="counts", dtype=Array(Int64))]  # fmt: skip


def test_array_features_read_where_the_warehouse_has_typed_arrays(warehouse, repo, tmp_path):
    # PostgreSQL described int[] as INT (psycopg registers int4 under int4[]'s oid too).
    from sqlfeat.warehouses import get_dialect

    user = Entity(name="user_id", value_type=ValueType.INT64)
    store = FeatureStore(repo_path=repo)
    if not get_dialect(warehouse.name).TYPED_ARRAYS:
        # Snowflake: ARRAY holds VARIANT elements; a declared element type is refused, with the reason.
        scalars = warehouse.source(repo, unique(tmp_path, "arrays"), ARRAYS[["user_id", "event_time"]],
                                   timestamp_field="event_time")  # fmt: skip
        source = type(scalars)(
            name="lists", timestamp_field="event_time",
            query="SELECT *, PARSE_JSON('[\"a\"]')::ARRAY AS \"tags\", PARSE_JSON('[1.5]')::ARRAY AS \"scores\", "
                  f"PARSE_JSON('[1]')::ARRAY AS \"counts\" FROM {warehouse.quoted(scalars.table)}",
        )  # fmt: skip
        view = FeatureView(name="user_lists", entities=[user], source=source, schema=ARRAY_SCHEMA)
        with pytest.raises(SchemaMismatchError, match="feature 'tags' is declared Array\\(String\\), but Snowflake's ARRAY"):
            store.apply([user, view])
        assert not store.config.registry_path.exists()
        return
    source = warehouse.source(repo, unique(tmp_path, "arrays"), ARRAYS, timestamp_field="event_time")
    view = FeatureView(name="user_lists", entities=[user], source=source, schema=ARRAY_SCHEMA)
    store.apply([user, view])
    spine = pd.DataFrame({"user_id": [1, 2, 3, 1], "event_timestamp": [T0, T0, T0, T0 - timedelta(days=2)]})
    job = store.get_historical_features(spine, [f"user_lists:{f.name}" for f in ARRAY_SCHEMA], strategy=warehouse.strategy)
    table = job.to_arrow()
    missing = None if get_dialect(warehouse.name).NULL_ARRAYS else []  # BigQuery returns NULL arrays as []
    assert table.schema.field("tags").type == pa.list_(pa.string())
    assert table.schema.field("scores").type == pa.list_(pa.float64())
    assert table.schema.field("counts").type == pa.list_(pa.int64())
    assert table.column("tags").to_pylist() == [["a", "b"], [], missing, ["old"]]
    assert table.column("scores").to_pylist() == [[1.5, 2.25], [3.0], missing, [0.5]]
    assert table.column("counts").to_pylist() == [[10, 20, 30], [], missing, [1]]
    # materialized and served with their element types
    store.materialize(T0 - timedelta(days=10), T0)
    online = store.get_online_features([f"user_lists:{f.name}" for f in ARRAY_SCHEMA], [{"user_id": 1}, {"user_id": 2}])
    assert online.to_dict() == {
        "user_id": [1, 2], "tags": [["a", "b"], []], "scores": [[1.5, 2.25], [3.0]], "counts": [[10, 20, 30], []],
    }


# -- declared dtypes narrower than the data ------------------------------------------------------
NUMBERS = pd.DataFrame({
    "driver_id": pd.Series([1001, 1001, 1002], dtype="int64"),
    "event_time": [T0 - timedelta(days=2), T0 - timedelta(days=1), T0 - timedelta(days=1)],
    "trips": pd.Series([5, 7, 2**31 - 1], dtype="int64"),
    "rate": pd.Series([0.25, 0.5, 1.0 / 3.0], dtype="float64"),
})


def test_narrower_dtypes_are_cast_with_a_warning(warehouse, repo, tmp_path):
    from sqlfeat.types import Float32, Int32
    from sqlfeat.validation import DtypeNotice
    from sqlfeat.warehouses import get_dialect

    source = warehouse.source(repo, unique(tmp_path, "numbers"), NUMBERS, timestamp_field="event_time")
    driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
    view = FeatureView(name="stats", entities=[driver], source=source,
                       schema=[Field(name="trips", dtype=Int32), Field(name="rate", dtype=Float32)])  # fmt: skip
    store = FeatureStore(repo_path=repo)
    with pytest.warns(DtypeNotice) as caught:
        store.apply([driver, view])
    notes = sorted(str(w.message) for w in caught if w.category is DtypeNotice)
    # BigQuery and Snowflake hold only 64-bit floats: Float32 reads them exactly there.
    assert len(notes) == (1 if get_dialect(warehouse.name).FLOAT_IS_DOUBLE else 2), notes
    assert "feature 'trips' is declared Int32 but source column 'trips' is BIGINT (Int64): narrowed to Int32" in notes[-1]
    spine = pd.DataFrame({"driver_id": [1001, 1002], "event_timestamp": [T0, T0]})
    table = store.get_historical_features(spine, ["stats:trips", "stats:rate"], strategy=warehouse.strategy).to_arrow()
    assert table.schema.field("trips").type == pa.int32() and table.schema.field("rate").type == pa.float32()
    assert table.column("trips").to_pylist() == [7, 2**31 - 1]
    assert table.column("rate").to_pylist() == pytest.approx([0.5, 1.0 / 3.0], rel=1e-7)
    store.materialize(T0 - timedelta(days=10), T0)
    online = store.get_online_features(["stats:trips"], [{"driver_id": 1001}, {"driver_id": 1002}], as_of=T0)
    assert online.to_dict()["trips"] == [7, 2**31 - 1]


def test_a_string_join_key_over_integers_compares_as_text(warehouse, repo, tmp_path):
    # Feast's example repositories declare String keys over integer columns; the values compare as
    # text everywhere: DataFrame spines (text, or integers uploaded as text), SQL spines, online.
    from sqlfeat.errors import EntityDataFrameError
    from sqlfeat.validation import DtypeNotice

    source = warehouse.source(repo, unique(tmp_path, "keyed"), NUMBERS, timestamp_field="event_time")
    driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.STRING)
    view = FeatureView(name="stats", entities=[driver], source=source, schema=[Field(name="trips", dtype=Int64)])
    store = FeatureStore(repo_path=repo)
    with pytest.warns(DtypeNotice, match="join key 'driver_id' is declared String but source column 'driver_id' is BIGINT \\(Int64\\): read as text"):
        store.apply([driver, view])
    as_text = pd.DataFrame({"driver_id": ["1001", "1002", "1003"], "event_timestamp": [T0, T0, T0]})
    as_ints = as_text.assign(driver_id=[1001, 1002, 1003])
    for spine in (as_text, as_ints):
        result = store.get_historical_features(spine, ["stats:trips"], strategy=warehouse.strategy).to_df()
        assert [None if pd.isna(v) else v for v in result["trips"]] == [7, 2**31 - 1, None]
        assert result["driver_id"].tolist() == spine["driver_id"].tolist(), "the spine's own column is kept"
    text_spine = warehouse.spine(store, unique(tmp_path, "text_spine"), as_text, query=True)
    result = store.get_historical_features(text_spine, ["stats:trips"], strategy=warehouse.strategy).to_df()
    assert dict(zip(result["driver_id"], result["trips"].astype(object))) == {"1001": 7, "1002": 2**31 - 1, "1003": pd.NA}
    int_spine = warehouse.spine(store, unique(tmp_path, "int_spine"), as_ints)
    with pytest.raises(EntityDataFrameError, match="entity_df column 'driver_id' is BIGINT but feature view 'stats' keys it as String"):
        store.get_historical_features(int_spine, ["stats:trips"])
    store.materialize(T0 - timedelta(days=10), T0)
    online = store.get_online_features(["stats:trips"], [{"driver_id": "1001"}, {"driver_id": "1002"}], as_of=T0)
    assert online.to_dict() == {"driver_id": ["1001", "1002"], "trips": [7, 2**31 - 1]}


# -- schema inference ----------------------------------------------------------------------------
WIDE = pd.DataFrame({
    "user_id": pd.Series([1, 1, 2], dtype="int64"),
    "event_time": [T0 - timedelta(days=2), T0 - timedelta(days=1), T0 - timedelta(days=1)],
    "created": [T0 - timedelta(days=2), T0 - timedelta(days=1), T0 - timedelta(days=1)],
    "clicks": pd.Series([3, 4, 5], dtype="int64"),
    "dwell": [1.5, 2.5, 3.5],
    "country": ["fr", "de", None],
    "premium": [True, False, True],
})


@pytest.mark.parametrize("schema", [None, [Field(name="user_id", dtype=Int64)]], ids=["no_schema", "key_field_only"])
def test_a_view_listing_no_features_gets_every_other_source_column(warehouse, repo, tmp_path, schema):
    # Feast infers a view's features from its source when its schema lists none.
    source = warehouse.source(repo, unique(tmp_path, "wide"), WIDE, timestamp_field="event_time",
                              created_timestamp_column="created")  # fmt: skip
    user = Entity(name="user_id", value_type=ValueType.INT64)
    view = FeatureView(name="profile", entities=[user], source=source, schema=schema)
    store = FeatureStore(repo_path=repo)
    planned = store.plan(contents_of([user, view]))
    (change,) = [c for c in planned.changes if c.name == "profile"]
    inferred = "clicks (Int64), dwell (Float64), country (String), premium (Bool)"
    assert change.details[0] == f"schema inferred from its source: {'user_id (Int64), ' if schema else ''}{inferred}"
    store.apply([user, view])
    store.refresh_registry()
    registered = store.get_feature_view("profile")
    features = {f.name: f.dtype.name for f in registered.features if f.name != "user_id"}
    assert features == {"clicks": "Int64", "dwell": "Float64", "country": "String", "premium": "Bool"}
    spine = pd.DataFrame({"user_id": [1, 2], "event_timestamp": [T0, T0]})
    names = [f"profile:{f}" for f in features]
    result = store.get_historical_features(spine, names, strategy=warehouse.strategy).to_df()
    assert result[list(features)].astype(object).values.tolist() == [[4, 2.5, "de", False], [5, 3.5, None, True]]
    store.materialize(T0 - timedelta(days=10), T0)
    online = store.get_online_features(names, [{"user_id": 1}], as_of=T0).to_dict()
    assert [online[f][0] for f in features] == [4, 2.5, "de", False]
    assert store.plan(contents_of([user, view])).is_empty, "inferring again changes nothing"


def contents_of(objects: list):
    from sqlfeat.repo import collect

    return collect(objects)


def test_a_value_outside_a_narrower_dtype_is_an_error_on_every_warehouse(warehouse, repo, tmp_path):
    # DuckDB and PostgreSQL refuse the cast; BigQuery and Snowflake have one integer type, so the
    # value reaches Python, where the declared Arrow type refuses it.
    import warnings

    from sqlfeat.errors import SqlfeatError
    from sqlfeat.types import Int32

    frame = NUMBERS.assign(trips=[1, 2, 2**40])
    source = warehouse.source(repo, unique(tmp_path, "wide_ints"), frame, timestamp_field="event_time")
    driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
    view = FeatureView(name="stats", entities=[driver], source=source, schema=[Field(name="trips", dtype=Int32)])
    store = FeatureStore(repo_path=repo)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        store.apply([driver, view])
    spine = pd.DataFrame({"driver_id": [1001, 1002], "event_timestamp": [T0, T0]})
    with pytest.raises(SqlfeatError, match="out of range|overflow|does not fit its declared dtype Int32"):
        store.get_historical_features(spine, ["stats:trips"], strategy=warehouse.strategy).to_arrow()
