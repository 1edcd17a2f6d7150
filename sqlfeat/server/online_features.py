"""``POST /get-online-features``: Feast's request, one ``FeatureStore.get_online_features`` call,
Feast's response (``feast_json.py``).

    {"features": ["user_clicks_30d:click_count"],     (or "feature_service": "NAME")
     "entities": {"user_id": [42, 7]},
     "full_feature_names": false}

Every problem with a request is a 4xx naming it: an unknown body key (with a "did you mean"),
neither or both of ``features`` and ``feature_service``, a wrong type, more entities or features
than ``feature_server.limits`` allows; an unknown feature or service is a 404, a missing or
mistyped join key a 422 (the checks of ``get_online_features`` itself).

The read runs on the worker's event loop: a store read is a few hundred microseconds, less than
handing it to a thread would cost. Scale with ``workers``.
"""

from __future__ import annotations

from difflib import get_close_matches
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sqlfeat.server import feast_json, metrics
from sqlfeat.server.endpoint import Endpoint, JSONResponse, ServerState, read_json
from sqlfeat.server.errors import ApiError

NAME = "get-online-features"
KEYS = ("features", "feature_service", "entities", "full_feature_names")
EXAMPLE = '{"features": ["view:feature"], "entities": {"user_id": [42]}}'


def _refuse(message: str, code: str = "bad_request", status: int = 422) -> ApiError:
    return ApiError(status, code, message)


def _check_keys(body: dict) -> None:
    for key in body:
        if key not in KEYS:
            close = get_close_matches(str(key), KEYS, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(KEYS)}"
            raise _refuse(f"unknown request key {key!r}{hint}", "unknown_field")


def _features(body: dict, state: ServerState) -> Any:
    features, service = body.get("features"), body.get("feature_service")
    if (features is None) == (service is None):
        what = "both" if features is not None else "neither"
        raise _refuse(f"the request has {what} of `features` and `feature_service`: give exactly one, e.g. {EXAMPLE}",
                      "missing_field")  # fmt: skip
    if service is not None:
        if not isinstance(service, str) or not service:
            raise _refuse(f"`feature_service` must be the name of a feature service (a string), got {service!r}", "wrong_type")
        return state.store.get_feature_service(service)
    if not isinstance(features, list) or not features or not all(isinstance(f, str) for f in features):
        raise _refuse(f"`features` must be a non-empty list of 'view:feature' strings, got {features!r}", "wrong_type")
    limit = state.options.limits.max_features
    if len(features) > limit:
        raise ApiError(413, "too_many_features", f"the request asks for {len(features):,} features; this server "
                       f"serves at most {limit:,} per request (feature_server.limits.max_features)")  # fmt: skip
    return features


def _entities(body: dict, state: ServerState) -> Any:
    if "entities" not in body:
        raise _refuse(f"the request has no `entities`: give the join keys' values, e.g. {EXAMPLE}", "missing_field")
    entities = body["entities"]
    if not isinstance(entities, dict):
        raise _refuse(f"`entities` must be an object of join key -> list of values, e.g. {{\"user_id\": [42]}}, got "
                      f"{type(entities).__name__}", "wrong_type")  # fmt: skip
    if not entities:
        return [{}]  # one row without keys: what views without entities read
    rows = None
    for key, values in entities.items():
        if not isinstance(values, list):
            raise _refuse(f"entities.{key} must be a list of values, e.g. [{values!r}], got {type(values).__name__}",
                          "wrong_type")  # fmt: skip
        if rows is None:
            rows = len(values)
        elif len(values) != rows:
            lengths = {k: len(v) if isinstance(v, list) else None for k, v in entities.items()}
            raise _refuse(f"the lists of `entities` have different lengths {lengths}: give one value per entity row in each",
                          "bad_entities")  # fmt: skip
    limit = state.options.limits.max_entities
    if rows and rows > limit:
        raise ApiError(413, "too_many_entities", f"the request has {rows:,} entity rows; this server serves at most "
                       f"{limit:,} per request (feature_server.limits.max_entities): split it")  # fmt: skip
    return entities


async def get_online_features(request: Request, state: ServerState) -> Response:
    body = await read_json(request, state.options.limits.max_body_bytes)
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", f"the body must be a JSON object like {EXAMPLE}, got {type(body).__name__}")
    _check_keys(body)
    full = body.get("full_feature_names", False)
    if not isinstance(full, bool):
        raise _refuse(f"`full_feature_names` must be true or false, got {full!r}", "wrong_type")
    features = _features(body, state)
    entities = _entities(body, state)
    response = state.store.get_online_features(features, entities, full_feature_names=full)
    metrics.entities(NAME, len(next(iter(entities.values()))) if isinstance(entities, dict) else 1)
    return JSONResponse(feast_json.encode(response))


ENDPOINTS = [
    Endpoint("/get-online-features", "POST", get_online_features, NAME,
             summary="Feast's online read: the latest values of features for entity rows"),
]  # fmt: skip
