"""What an endpoint module gives the app: ``Endpoint`` rows, and ``ServerState``, what every
handler is called with (the worker's one ``FeatureStore``, the limits, the API keys)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from sqlfeat.server.errors import ApiError

if TYPE_CHECKING:
    from sqlfeat.config_server import FeatureServerOptions
    from sqlfeat.server.auth import ApiKeys
    from sqlfeat.store import FeatureStore


@dataclass
class ServerState:
    store: FeatureStore
    options: FeatureServerOptions
    keys: ApiKeys
    # anything an endpoint module keeps per worker (caches), by its own key
    cache: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Request, ServerState], Awaitable[Response]]


@dataclass(frozen=True)
class Endpoint:
    path: str
    method: str
    handler: Handler
    name: str
    # public: answered without an API key (health, the API's description)
    public: bool = False
    summary: str = ""
    # the JSON schema of its request body, for the OpenAPI document
    request_schema: dict | None = None


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else orjson.dumps(content)


async def read_json(request: Request, limit: int) -> Any:
    """The request body parsed as JSON, refused past ``limit`` bytes (413) or when malformed (400)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "bad_request", f"Content-Length {declared!r} is not a number")
        if int(declared) > limit:
            raise ApiError(413, "body_too_large", f"the request body is {int(declared):,} bytes; this server accepts at "
                           f"most {limit:,} (feature_server.limits.max_body_bytes): send fewer entities per request")  # fmt: skip
        body = await request.body()
    else:  # chunked: count as it arrives
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(413, "body_too_large", f"the request body is over {limit:,} bytes "
                               "(feature_server.limits.max_body_bytes): send fewer entities per request")  # fmt: skip
            chunks.append(chunk)
        body = b"".join(chunks)
    if not body:
        raise ApiError(400, "malformed_json", "the request body is empty; send a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise ApiError(400, "malformed_json", f"the request body is not valid JSON: {err}") from None
