"""How feature values are stored online, per dtype family, computed per Arrow column (once per
batch, never per cell through pandas).

- text encoding (Redis, DynamoDB): text per value, raw bytes for ``Bytes``, ``None`` for null;
  floats as their shortest round-trip text (Float32 via the exact Float64 of its value), booleans
  as ``1``/``0``, timestamps as microseconds since the epoch (UTC);
- native encoding (SQLite): its own INTEGER / REAL / TEXT / BLOB where one fits, microseconds for
  timestamps, ``'nan'`` text for NaN (SQLite would store NaN as NULL);
- arrays, in both: JSON text per value (bytes as base64, timestamps as microseconds).
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlfeat.errors import DefinitionError
from sqlfeat.online.base import OnlineView, from_micros, micros
from sqlfeat.types import Family

if TYPE_CHECKING:
    import pyarrow as pa

    from sqlfeat.types import FeatureType


def feature_array(view: OnlineView, batch: pa.RecordBatch, feature: str) -> pa.Array:
    """A feature column cast to its declared Arrow type (warehouses differ: large_string...)."""
    import pyarrow as pa

    array = batch.column(batch.schema.names.index(feature))
    target = view.dtype(feature).to_arrow()
    if array.type == target:
        return array
    try:
        return array.cast(target, safe=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
        raise DefinitionError(
            f"feature {view.name}:{feature} came back from the warehouse as {array.type}, which "
            f"cannot be read as its declared {view.dtype(feature).name}: {err}"
        ) from None


# -- arrays ---------------------------------------------------------------------------------------
def _json_lists(array: pa.Array, dtype: FeatureType) -> list[str | None]:
    """Array features as JSON text per value; bytes as base64, timestamps as microseconds."""
    import pyarrow as pa

    family = dtype.element.family
    if family is Family.TIMESTAMP:
        array = array.cast(pa.list_(pa.timestamp("us", tz="UTC"))).cast(pa.list_(pa.int64()))
    elif family is Family.FLOAT:
        array = array.cast(pa.list_(pa.float64()))
    values = array.to_pylist()
    if family is Family.BYTES:
        values = [None if v is None else [None if b is None else base64.b64encode(b).decode() for b in v] for v in values]
    dumps = json.dumps
    return [None if v is None else dumps(v) for v in values]


def _json_decoder(dtype: FeatureType) -> Callable[[Any], list]:
    family = dtype.element.family
    loads = json.loads
    if family is Family.BYTES:
        return lambda v: [None if b is None else base64.b64decode(b) for b in loads(v)]
    if family is Family.TIMESTAMP:
        return lambda v: [None if m is None else from_micros(m) for m in loads(v)]
    return loads


# -- text (Redis, DynamoDB) -----------------------------------------------------------------------
def text_column(array: pa.Array, dtype: FeatureType) -> list[str | bytes | None]:
    """Each value as text (raw bytes for ``Bytes``); ``None`` for null."""
    import pyarrow as pa
    import pyarrow.compute as pc

    family = dtype.family
    if family is Family.ARRAY:
        return _json_lists(array, dtype)
    if family in (Family.STRING, Family.BYTES):
        return array.to_pylist()
    if family is Family.BOOL:
        return pc.if_else(array, "1", "0").to_pylist()
    if family is Family.TIMESTAMP:
        array = micros(array)
    elif family is Family.FLOAT:
        array = array.cast(pa.float64())
    return pc.cast(array, pa.string()).to_pylist()


def _text_to_str(value: str | bytes) -> str:
    return value if value.__class__ is str else value.decode()


def _text_to_bool(value: str | bytes) -> bool:
    return value in (b"1", "1")


_TEXT_DECODERS: dict[Family, Callable[[Any], Any]] = {
    Family.INTEGER: int, Family.FLOAT: float, Family.STRING: _text_to_str, Family.BOOL: _text_to_bool,
    Family.BYTES: bytes, Family.TIMESTAMP: from_micros,
}  # fmt: skip


def text_decoder(dtype: FeatureType) -> Callable[[Any], Any]:
    """The inverse of :func:`text_column` for one value (str or bytes; never ``None``)."""
    if dtype.family is Family.ARRAY:
        return _json_decoder(dtype)
    return _TEXT_DECODERS[dtype.family]


# -- native (SQLite) ------------------------------------------------------------------------------
def native_column(array: pa.Array, dtype: FeatureType) -> list[Any]:
    """Each value in SQLite's own types where one fits."""
    import pyarrow as pa
    import pyarrow.compute as pc

    family = dtype.family
    if family is Family.ARRAY:
        return _json_lists(array, dtype)
    if family is Family.TIMESTAMP:
        return micros(array).to_pylist()
    if family is Family.FLOAT:
        array = array.cast(pa.float64())
        values = array.to_pylist()
        if array.null_count < len(array) and pc.any(pc.is_nan(array)).as_py():
            values = ["nan" if v is not None and math.isnan(v) else v for v in values]
        return values
    return array.to_pylist()


_NATIVE_DECODERS: dict[Family, Callable[[Any], Any]] = {
    Family.FLOAT: float, Family.BOOL: bool, Family.TIMESTAMP: from_micros,
}  # fmt: skip


def native_decoder(dtype: FeatureType) -> Callable[[Any], Any] | None:
    """The inverse of :func:`native_column` for one non-null value; ``None`` means as stored."""
    if dtype.family is Family.ARRAY:
        return _json_decoder(dtype)
    return _NATIVE_DECODERS.get(dtype.family)


def decode_values(values: list[Any], decoder: Callable[[Any], Any] | None) -> list[Any]:
    if decoder is None:
        return values
    return [None if v is None else decoder(v) for v in values]
