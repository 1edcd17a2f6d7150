"""Rows of a latest-values batch as DynamoDB items, and the limits check that runs before any
request: an entity DynamoDB cannot hold (its key or its item too large) is rejected by name with
the fix, never sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlfeat.online.base import (
    CREATED_FIELD,
    KEY_FIELD,
    TS_FIELD,
    OnlineView,
    Rejection,
    batch_keys,
    batch_times,
    key_values,
)
from sqlfeat.online.codec import feature_array, text_column
from sqlfeat.online.dynamodb_limits import ITEM_BYTES, KEY_BYTES, NUMBER_TEXT, item_bytes, largest_attribute, utf8_bytes
from sqlfeat.types import Family

if TYPE_CHECKING:
    import pyarrow as pa

    from sqlfeat.types import FeatureType

RECORD_FIELDS = (KEY_FIELD, TS_FIELD, CREATED_FIELD)
_KEY_FIX = "shorten the entity key (the partition key is {prefix!r} plus it: hash long keys, for example)"


def _longest(array: pa.Array, values: list, dtype: FeatureType) -> int:
    """The most bytes one value of a feature column takes (stored, in DynamoDB's count)."""
    import pyarrow.compute as pc

    if dtype.family is Family.STRING:  # UTF-8 bytes, not characters
        return pc.max(pc.binary_length(array)).as_py() or 0
    # Every other encoding is ASCII text or raw bytes: its length is its size.
    return max(map(len, filter(None, values)), default=0)


def batch_items(view: OnlineView, batch: pa.RecordBatch) -> tuple[list[dict], int]:
    """The batch's items, and an upper bound on any one's size without its key value.

    The bound counts each number at its text length, so it also bounds the JSON sent
    (``put_request_bound``); computed per column, it spares measuring small items one by one.
    """
    prefix = view.prefix
    keys = batch_keys(view, batch)
    event, created = batch_times(batch)
    attributes = []
    bound = sum(map(utf8_bytes, RECORD_FIELDS)) + 2 * NUMBER_TEXT
    for feature in view.features:
        dtype = view.dtype(feature)
        tag = "B" if dtype.family is Family.BYTES else "S"
        array = feature_array(view, batch, feature)
        values = text_column(array, dtype)
        attributes.append((feature, tag, values))
        bound += utf8_bytes(feature) + _longest(array, values, dtype)
    items = []
    for row, key in enumerate(keys):
        item = {KEY_FIELD: {"S": prefix + key}, TS_FIELD: {"N": str(event[row])}}
        if created[row] is not None:
            item[CREATED_FIELD] = {"N": str(created[row])}
        for feature, tag, values in attributes:
            value = values[row]
            if value is not None:
                item[feature] = {tag: value}
        items.append(item)
    return items, bound

def within_limits(
    view: OnlineView, batch: pa.RecordBatch, items: list[dict], bound: int
) -> tuple[list[dict], list[Rejection], int]:
    """The items DynamoDB can hold, the rejections of the others, and a bound on the kept ones' size."""
    kept: list[dict] = []
    rejected: list[Rejection] = []
    longest_key = 0
    measure = bound + KEY_BYTES > ITEM_BYTES  # else no item with a legal key can be too large
    for row, item in enumerate(items):
        key = utf8_bytes(item[KEY_FIELD]["S"])
        if key > KEY_BYTES:
            rejected.append(Rejection(
                view.name, key_values(view, batch, row), "DynamoDB partition key", key, KEY_BYTES,
                _KEY_FIX.format(prefix=view.prefix),
            ))  # fmt: skip
        elif measure and (size := item_bytes(item)) > ITEM_BYTES:
            name, part = largest_attribute(item, RECORD_FIELDS)
            fix = f"shrink its values (feature {name!r} alone takes {part:,} bytes)"
            rejected.append(Rejection(
                view.name, key_values(view, batch, row), "DynamoDB item", size, ITEM_BYTES, fix
            ))  # fmt: skip
        else:
            kept.append(item)
            longest_key = max(longest_key, key)
    return kept, rejected, bound + longest_key
