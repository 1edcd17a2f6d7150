"""An ``OnlineResponse`` in the JSON of Feast's feature server (``POST /get-online-features``):

    {"metadata": {"feature_names": ["user_id", "click_count"]},
     "results": [{"values": [42], "statuses": ["PRESENT"], "event_timestamps": ["1970-01-01T00:00:00Z"]},
                 {"values": [7],  "statuses": ["PRESENT"], "event_timestamps": ["2024-02-01T10:00:00Z"]}]}

One result per column, join keys first (Feast answers the keys it was given as columns too), each
with a value, a status name and an event time per entity row. Timestamps are written as protobuf's
JSON writes a ``Timestamp`` (Feast's server converts its protobuf response): RFC 3339 in UTC with
``Z``, fractional seconds only when non-zero (3, 6 or 9 digits). Where there is no event time (a
join key, a record the store does not have) Feast answers its zero timestamp,
``1970-01-01T00:00:00Z``, and so does this server: the status (``NOT_FOUND``) says which.

Values are JSON numbers, strings, booleans, lists or null; as in protobuf's JSON, a non-finite
float is ``"NaN"``, ``"Infinity"`` or ``"-Infinity"`` and bytes are base64. Timestamp features are
ISO 8601 text (Feast sends epoch seconds).
"""

from __future__ import annotations

import base64
import math
import time
from datetime import datetime
from typing import Any

import orjson

from sqlfeat.online.response import FieldStatus, OnlineResponse

EPOCH = "1970-01-01T00:00:00Z"
_STATUS_NAMES = {status: status.name for status in FieldStatus}


def timestamp(value: datetime | None) -> str:
    """protobuf's ``Timestamp.ToJsonString``: seconds always, fraction only when non-zero."""
    if value is None:
        return EPOCH
    micros = value.microsecond
    text = f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    if not micros:
        return text + "Z"
    if micros % 1000 == 0:
        return f"{text}.{micros // 1000:03d}Z"
    return f"{text}.{micros:06d}Z"


def _value(value: Any) -> Any:
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    if isinstance(value, (list, tuple)):
        return [_value(v) if _special(v) else v for v in value]
    return value


def _special(value: Any) -> bool:
    kind = type(value)
    if kind is float:
        return value - value != 0  # NaN or an infinity
    return kind is bytes or kind is bytearray or kind is list or kind is tuple


def _values(values: list[Any]) -> list[Any]:
    """Values orjson writes as they are, except the few JSON cannot carry as such. A column holds
    one type (its dtype's; join keys are the request's own JSON values): ints, strings and booleans
need no look; floats are summed in C (a
    finite sum: no NaN, no infinity); anything else is checked value by value."""
    first = next((v for v in values if v is not None), None)
    kind = type(first)
    if kind is int or kind is str or kind is bool or first is None:
        return values  # orjson writes these as they are
    if kind is float:
        try:
            if math.isfinite(math.fsum([v for v in values if v is not None])):
                return values
        except (OverflowError, TypeError):
            pass
    for index, value in enumerate(values):
        if _special(value):
            return values[:index] + [_value(v) if _special(v) else v for v in values[index:]]
    return values


def _micros_text(micros: int) -> str:
    seconds, fraction = divmod(micros, 1_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if not fraction:
        return text + "Z"
    if fraction % 1000 == 0:
        return f"{text}.{fraction // 1000:03d}Z"
    return f"{text}.{fraction:06d}Z"


def _stamps(response: OnlineResponse) -> dict[str, list[str]]:
    """Every column's event times as text. The features of one view share their times, so a
    column whose times equal the previous column's reuses its text (one conversion per view)."""
    micros = getattr(response, "_event_ts", None)  # the exact stored times; the datetimes below otherwise
    if micros is None:
        return {name: [timestamp(t) for t in times] for name, times in response.event_timestamps().items()}
    texts: dict[str, list[str]] = {}
    memo: dict[int | None, str] = {None: EPOCH}
    previous: tuple[list, list[str]] | None = None
    for name, times in micros.items():
        if previous is not None and previous[0] == times:
            texts[name] = previous[1]
            continue
        out = []
        for when in times:
            text = memo.get(when)
            if text is None:
                text = memo[when] = _micros_text(when)
            out.append(text)
        texts[name], previous = out, (times, out)
    return texts


def encode(response: OnlineResponse) -> bytes:
    columns = response.to_dict()
    statuses = response.statuses()
    stamps = _stamps(response)
    names = _STATUS_NAMES
    results = [
        {"values": _values(values), "statuses": [names[s] for s in statuses[name]], "event_timestamps": stamps[name]}
        for name, values in columns.items()
    ]
    return orjson.dumps({"metadata": {"feature_names": list(columns)}, "results": results})
