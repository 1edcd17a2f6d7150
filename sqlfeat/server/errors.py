"""Every failure of a request as a JSON answer: ``{"error": CODE, "message": TEXT, "status": N}``.

A bad request is a 4xx naming what is wrong and how to fix it; an online store that is down is a
503 naming the store (never its password: every ``SqlfeatError`` message is redacted when made);
a bug is a 500 saying so, logged with its traceback on the server, never sent to the client.
"""

from __future__ import annotations

import logging

import orjson
from starlette.responses import Response

from sqlfeat.errors import (
    EntityRowError,
    FeatureReferenceError,
    OnlineStoreError,
    PushedDataError,
    RegistryError,
    SqlfeatError,
    TeardownPendingError,
    UsageError,
    WarehouseError,
)
from sqlfeat.redact import redact

log = logging.getLogger("sqlfeat.server")


class ApiError(Exception):
    """A request the server refuses: its HTTP status, a short code and a message."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, redact(message), headers

    def response(self) -> Response:
        return error_response(self.status, self.code, self.message, self.headers)


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    body = orjson.dumps({"error": code, "message": message, "status": status})
    return Response(body, status, headers, media_type="application/json")


# The most specific class first: (class, status, code).
_MAPPING: tuple[tuple[type[SqlfeatError], int, str], ...] = (
    (FeatureReferenceError, 404, "unknown_feature"),
    (EntityRowError, 422, "bad_entities"),
    (TeardownPendingError, 409, "teardown_pending"),
    (OnlineStoreError, 503, "online_store_unavailable"),
    (RegistryError, 503, "registry_unavailable"),
    (PushedDataError, 422, "bad_rows"),
    (WarehouseError, 502, "offline_store_error"),
    (UsageError, 400, "bad_request"),
)


def from_exception(err: BaseException) -> ApiError:
    """The answer to an exception raised while serving a request."""
    if isinstance(err, ApiError):
        return err
    if isinstance(err, SqlfeatError):
        for kind, status, code in _MAPPING:
            if isinstance(err, kind):
                headers = {"Retry-After": "1"} if status == 503 else None
                return ApiError(status, code, str(err), headers)
        log.error("request failed: %s", err)
        return ApiError(500, "internal_error", str(err))
    log.exception("unexpected error while serving a request (a bug in sqlfeat; please report it)")
    return ApiError(500, "internal_error", f"unexpected {type(err).__name__}; the server log has the traceback")
