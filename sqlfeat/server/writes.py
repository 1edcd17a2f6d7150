"""``POST /push`` and ``POST /write-to-online-store``: Feast's write requests, one
``FeatureStore.push`` / ``write_to_online_store`` call each.

    {"push_source_name": "clicks_push", "to": "online",        ("offline", "online_and_offline")
     "df": {"user_id": [42], "event_time": ["2024-01-05T08:00:00+08:00"], "click_count": [3]}}

    {"feature_view_name": "user_clicks", "df": {...}}

``df`` is a table as columns of values (Feast's shape); times are ISO 8601 text, an offset
honoured and none read as UTC. The rules are the Python API's: every row checked before anything
is written (a missing column or a value of the wrong type is a 422 naming it), per entity only the
newest row is written and never over a newer stored one. An online store that goes away mid-write
is a 503 naming it; what was written is whole rows, and repeating the request converges.

The write runs on the worker's event loop, like reads (the store's connection belongs to it):
a large offline append holds that worker meanwhile; scale with ``workers``.
"""

from __future__ import annotations

from difflib import get_close_matches
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sqlfeat.definitions import PushMode
from sqlfeat.server import metrics
from sqlfeat.server.endpoint import Endpoint, JSONResponse, ServerState, read_json
from sqlfeat.server.errors import ApiError

PUSH_KEYS = ("push_source_name", "df", "allow_registry_cache", "to", "transform_on_write")
WRITE_KEYS = ("feature_view_name", "df", "allow_registry_cache", "transform_on_write")
MODES = {"online": PushMode.ONLINE, "offline": PushMode.OFFLINE, "online_and_offline": PushMode.ONLINE_AND_OFFLINE}


def _refuse(message: str, code: str = "bad_request") -> ApiError:
    return ApiError(422, code, message)


async def _body(request: Request, state: ServerState, keys: tuple[str, ...], name_key: str) -> tuple[dict, str]:
    body = await read_json(request, state.options.limits.max_body_bytes)
    example = f'{{"{name_key}": "NAME", "df": {{"user_id": [42], "event_time": ["2024-01-05T00:00:00Z"], ...}}}}'
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", f"the body must be a JSON object like {example}, got {type(body).__name__}")
    for key in body:
        if key not in keys:
            close = get_close_matches(str(key), keys, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(keys)}"
            raise _refuse(f"unknown request key {key!r}{hint}", "unknown_field")
    name = body.get(name_key)
    if not isinstance(name, str) or not name:
        raise _refuse(f"`{name_key}` must be a name (a string), got {name!r}; e.g. {example}", "missing_field")
    return body, name


def _frame(body: dict, state: ServerState) -> Any:
    """``df`` as a pandas DataFrame: an object of column -> list of values, lists of one length."""
    import pandas as pd

    df = body.get("df")
    if not isinstance(df, dict) or not df:
        raise _refuse(f"`df` must be an object of column -> list of values, e.g. {{\"user_id\": [42]}}, got {df!r}",
                      "missing_field" if df is None else "wrong_type")  # fmt: skip
    lengths = {column: len(values) if isinstance(values, list) else None for column, values in df.items()}
    if None in lengths.values():
        bad = next(column for column, n in lengths.items() if n is None)
        raise _refuse(f"df.{bad} must be a list of values, got {type(df[bad]).__name__}", "wrong_type")
    if len(set(lengths.values())) > 1:
        raise _refuse(f"the columns of `df` have different lengths {lengths}: give one value per row in each", "bad_rows")
    rows = next(iter(lengths.values()))
    limit = state.options.limits.max_entities
    if rows > limit:
        raise ApiError(413, "too_many_rows", f"`df` has {rows:,} rows; this server takes at most {limit:,} per "
                       "request (feature_server.limits.max_entities): split it")  # fmt: skip
    return pd.DataFrame(df)


def _flag(body: dict, key: str) -> bool:
    value = body.get(key, True)
    if not isinstance(value, bool):
        raise _refuse(f"`{key}` must be true or false, got {value!r}", "wrong_type")
    return value


async def push(request: Request, state: ServerState) -> Response:
    body, name = await _body(request, state, PUSH_KEYS, "push_source_name")
    to = body.get("to", "online")
    mode = MODES.get(to.lower()) if isinstance(to, str) else None
    if mode is None:
        raise _refuse(f"`to` must be one of {', '.join(map(repr, MODES))}, got {to!r}", "wrong_type")
    cache = _flag(body, "allow_registry_cache")
    _flag(body, "transform_on_write")  # Feast's key; sqlfeat pushes rows as given
    frame = _frame(body, state)
    state.store.push(name, frame, allow_registry_cache=cache, to=mode)
    metrics.entities("push", len(frame))
    return JSONResponse({"status": "ok", "rows": len(frame)})


async def write_to_online_store(request: Request, state: ServerState) -> Response:
    body, name = await _body(request, state, WRITE_KEYS, "feature_view_name")
    cache = _flag(body, "allow_registry_cache")
    _flag(body, "transform_on_write")
    frame = _frame(body, state)
    state.store.write_to_online_store(name, frame, allow_registry_cache=cache)
    metrics.entities("write-to-online-store", len(frame))
    return JSONResponse({"status": "ok", "rows": len(frame)})


_DF = {"type": "object", "additionalProperties": {"type": "array"},
       "description": "column -> one value per row: join keys, the event timestamp (ISO 8601), features"}
PUSH_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["push_source_name", "df"],
    "properties": {"push_source_name": {"type": "string"}, "df": _DF,
                   "to": {"enum": list(MODES), "default": "online"},
                   "allow_registry_cache": {"type": "boolean"}, "transform_on_write": {"type": "boolean"}},
    "example": {"push_source_name": "clicks_push", "to": "online",
                "df": {"user_id": [42], "event_time": ["2024-01-05T00:00:00Z"], "click_count": [3]}},
}  # fmt: skip
WRITE_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["feature_view_name", "df"],
    "properties": {"feature_view_name": {"type": "string"}, "df": _DF,
                   "allow_registry_cache": {"type": "boolean"}, "transform_on_write": {"type": "boolean"}},
}  # fmt: skip

ENDPOINTS = [
    Endpoint("/push", "POST", push, "push",
             summary="Feast's push: rows written to every feature view of a push source, online and/or offline",
             request_schema=PUSH_SCHEMA),
    Endpoint("/write-to-online-store", "POST", write_to_online_store, "write-to-online-store",
             summary="rows of one feature view written to the online store (newest per entity, never over newer)",
             request_schema=WRITE_SCHEMA),
]  # fmt: skip
