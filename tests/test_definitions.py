from datetime import timedelta

import pytest

from sqlfeat import Entity, Feature, FeatureView, Field, FileSource, ValueType
from sqlfeat.errors import DefinitionError
from sqlfeat.types import Array, Float32, Int64, String, dtype_from_name


def test_field_accepts_type_objects_and_names():
    assert Field(name="a", dtype=Int64).dtype is Int64
    assert Feature(name="b", dtype="string").dtype is String
    assert Field(name="c", dtype="Array(Int64)").dtype == Array(Int64)
    assert Field(name="d", dtype=ValueType.FLOAT).dtype is Float32
    with pytest.raises(DefinitionError, match="field 'e'.*unknown dtype 'decimalish'"):
        Field(name="e", dtype="decimalish")


def test_dtype_names_round_trip():
    for dtype in (Int64, String, Array(Float32)):
        assert dtype_from_name(dtype.name) == dtype


def test_entity_join_keys_default_to_name():
    assert Entity(name="user_id", value_type=ValueType.INT64).join_keys == ("user_id",)
    assert Entity(name="pair", join_keys=["a", "b"]).join_keys == ("a", "b")
    with pytest.raises(DefinitionError, match="composite"):
        Entity(name="pair", join_keys=["a", "b"]).join_key


def test_file_source_needs_a_timestamp_field():
    with pytest.raises(DefinitionError, match="data/x.parquet.*timestamp_field"):
        FileSource(path="data/x.parquet")
    assert FileSource(path="p.parquet", event_timestamp_column="ts").timestamp_field == "ts"


def _view(**overrides):
    source = FileSource(path="data/c.parquet", timestamp_field="event_time")
    values = dict(name="v", entities=[Entity(name="user_id")], ttl=timedelta(days=1),
                  schema=[Field(name="x", dtype=Int64)], source=source)
    values.update(overrides)
    return FeatureView(**values)


def test_feature_view_spec_round_trip_keeps_fingerprint():
    from sqlfeat.definitions import fingerprint

    view = _view(tags={"team": "growth"})
    again = FeatureView.from_spec(view.to_spec())
    assert again == view
    assert fingerprint(again.to_spec()) == fingerprint(view.to_spec())
    assert fingerprint(_view(ttl=timedelta(days=2)).to_spec()) != fingerprint(view.to_spec())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "bad name"}, "feature view name 'bad name'"),
        ({"schema": [Field(name="x", dtype=Int64), Field(name="x", dtype=String)]}, "declares field 'x' twice"),
        ({"schema": [Field(name="event_time", dtype=Int64)]}, "field 'event_time' is the source's timestamp"),
        ({"ttl": timedelta(days=-1)}, "'v': ttl must not be negative"),
        ({"ttl": 30}, "'v': ttl must be a datetime.timedelta"),
    ],
)
def test_feature_view_rejects_bad_definitions(overrides, message):
    with pytest.raises(DefinitionError, match=message):
        _view(**overrides)


def test_zero_ttl_means_no_ttl():
    assert _view(ttl=timedelta(0)).ttl is None
