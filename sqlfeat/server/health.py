"""``GET /health``: 200 while the worker serves (its registry read), 503 naming why not.

It reads no online store: a liveness probe must not restart a server because Redis blinked;
reads answer 503 meanwhile and recover by themselves when the store is back.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from sqlfeat.server.endpoint import Endpoint, JSONResponse, ServerState


async def health(request: Request, state: ServerState) -> Response:
    store = state.store
    views = store.list_feature_views()  # a missing registry: RegistryError, a 503
    return JSONResponse({"status": "ok", "project": store.project, "feature_views": len(views)})


ENDPOINTS = [Endpoint("/health", "GET", health, "health", public=True, summary="liveness: 200 once the registry is read")]
