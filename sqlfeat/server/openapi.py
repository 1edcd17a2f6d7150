"""``GET /openapi.json`` (OpenAPI 3.1, built from the endpoint table) and ``GET /docs`` (the same,
as a page that needs nothing from the internet)."""

from __future__ import annotations

import html

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from sqlfeat.server.endpoint import Endpoint, JSONResponse, ServerState

REQUEST_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["entities"],
    "properties": {
        "features": {"type": "array", "items": {"type": "string"}, "description": "view:feature references"},
        "feature_service": {"type": "string", "description": "a registered FeatureService (instead of features)"},
        "entities": {"type": "object", "additionalProperties": {"type": "array"},
                     "description": "join key -> one value per entity row"},
        "full_feature_names": {"type": "boolean", "default": False, "description": "name columns view__feature"},
    },
    "example": {"features": ["user_clicks_30d:click_count"], "entities": {"user_id": [42, 7]}},
}  # fmt: skip
RESPONSE_SCHEMA = {
    "type": "object",
    "properties": {
        "metadata": {"type": "object", "properties": {"feature_names": {"type": "array", "items": {"type": "string"}}}},
        "results": {"type": "array", "items": {"type": "object", "properties": {
            "values": {"type": "array"},
            "statuses": {"type": "array", "items": {"enum": ["PRESENT", "NULL_VALUE", "NOT_FOUND", "OUTSIDE_MAX_AGE"]}},
            "event_timestamps": {"type": "array", "items": {"type": "string", "format": "date-time"}},
        }}},
    },
}  # fmt: skip
ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}, "status": {"type": "integer"}},
}
ERRORS = {
    "400": "malformed JSON or a bad request", "401": "no API key, or not one this server accepts",
    "404": "an unknown feature, view or feature service", "409": "a deleted view's values are still online",
    "413": "a body, entity or feature count over feature_server.limits",
    "422": "a missing or mistyped field, join key or value", "502": "the offline store refused a write (/push)",
    "503": "the online store or the registry is unavailable",
}  # fmt: skip


def spec(endpoints: list[Endpoint], auth: bool, header: str) -> dict:
    paths: dict = {}
    for endpoint in endpoints:
        operation: dict = {"summary": endpoint.summary, "operationId": endpoint.name.replace("-", "_"),
                           "responses": {"200": {"description": "OK"}}}  # fmt: skip
        request = REQUEST_SCHEMA if endpoint.name == "get-online-features" else endpoint.request_schema
        if request is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": request}}}
            if endpoint.name == "get-online-features":
                operation["responses"]["200"]["content"] = {"application/json": {"schema": RESPONSE_SCHEMA}}
            for status, text in ERRORS.items():
                operation["responses"][status] = {"description": text,
                                                  "content": {"application/json": {"schema": ERROR_SCHEMA}}}  # fmt: skip
        if auth and not endpoint.public:
            operation["security"] = [{"apiKey": []}, {"bearer": []}]
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation
    document: dict = {"openapi": "3.1.0", "info": {"title": "sqlfeat feature server", "version": "1"}, "paths": paths}
    if auth:
        document["components"] = {"securitySchemes": {
            "apiKey": {"type": "apiKey", "in": "header", "name": header},
            "bearer": {"type": "http", "scheme": "bearer"},
        }}  # fmt: skip
    return document


def endpoints_for(all_endpoints: list[Endpoint], auth: bool, header: str) -> list[Endpoint]:
    """The two description endpoints, serving the spec of ``all_endpoints`` (themselves included)."""
    cached: dict[str, bytes] = {}

    def document() -> bytes:
        if "spec" not in cached:
            cached["spec"] = orjson.dumps(spec(all_endpoints, auth, header), option=orjson.OPT_INDENT_2)
        return cached["spec"]

    async def openapi(request: Request, state: ServerState) -> Response:
        return JSONResponse(document())

    async def docs(request: Request, state: ServerState) -> Response:
        text = html.escape(document().decode())
        return HTMLResponse(f"<!doctype html><meta charset=utf-8><title>sqlfeat feature server</title>"
                            f"<h1>sqlfeat feature server</h1><p>The OpenAPI document, also at "
                            f"<a href=/openapi.json>/openapi.json</a>:</p><pre>{text}</pre>")  # fmt: skip

    return [
        Endpoint("/openapi.json", "GET", openapi, "openapi", public=True, summary="this API's OpenAPI document"),
        Endpoint("/docs", "GET", docs, "docs", public=True, summary="this API's description, as a page"),
    ]
