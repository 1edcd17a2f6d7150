"""The ASGI app: Starlette routes built from the endpoint modules' ``ENDPOINTS``, each wrapped
once (API key, error to JSON, metrics), and a lifespan holding the worker's one ``FeatureStore``.

Adding an endpoint (``POST /push``, ``POST /write-to-online-store``) is one module with an
``ENDPOINTS`` list, named in ``ENDPOINT_MODULES``.

``create_app(config)`` builds it; ``app_from_env()`` is the factory uvicorn's workers call (each
worker process builds its own app, store and connection pool), reading the repo from
``SQLFEAT_SERVE_REPO``, set by ``run.py``.
"""

from __future__ import annotations

import gc
import logging
import os
from contextlib import asynccontextmanager
from time import perf_counter

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sqlfeat.config import RepoConfig, load_config
from sqlfeat.server import health, metrics, online_features, openapi, writes
from sqlfeat.server.auth import ApiKeys
from sqlfeat.server.endpoint import Endpoint, ServerState
from sqlfeat.server.errors import error_response, from_exception

REPO_ENV = "SQLFEAT_SERVE_REPO"
ENDPOINT_MODULES = (online_features, writes, health, metrics)
log = logging.getLogger("sqlfeat.server")


def _guarded(endpoint: Endpoint, state: ServerState):
    """The endpoint's handler behind the API key check, its errors as JSON, counted in metrics."""
    handler, name, keys = endpoint.handler, endpoint.name, None if endpoint.public else state.keys
    observe = metrics.observe

    async def run(request: Request) -> Response:
        start = perf_counter()
        code = None
        try:
            if keys is not None:
                keys.check(request)
            response = await handler(request, state)
        except Exception as err:  # every failure answers JSON: never a traceback to the client
            refusal = from_exception(err)
            response, code = refusal.response(), refusal.code
        observe(name, response.status_code, perf_counter() - start, code)
        return response

    return run


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (an unknown path, a wrong method) as JSON too."""
    status = getattr(exc, "status_code", 500)
    if status == 404:
        message = f"no endpoint {request.url.path}; see /docs"
    elif status == 405:
        message = f"{request.method} is not allowed on {request.url.path}; see /docs"
    else:
        message = str(getattr(exc, "detail", "")) or "request refused"
    return error_response(status, {404: "not_found", 405: "method_not_allowed"}.get(status, "bad_request"), message,
                          getattr(exc, "headers", None))  # fmt: skip


def create_app(config: RepoConfig) -> Starlette:
    from sqlfeat.store import FeatureStore

    options = config.feature_server
    state = ServerState(FeatureStore(config=config), options, ApiKeys(options.auth))
    endpoints = [e for module in ENDPOINT_MODULES for e in module.ENDPOINTS]
    endpoints += openapi.endpoints_for(endpoints + [], bool(options.auth.api_keys), options.auth.header)
    routes = [Route(e.path, _guarded(e, state), methods=[e.method], name=e.name) for e in endpoints]

    @asynccontextmanager
    async def lifespan(app: Starlette):
        state.store.list_feature_views()  # fail at start, not at the first request, without a registry
        gc.freeze()  # what startup built is never collected: full collections stay short (tail latency)
        try:
            yield
        finally:
            state.store.close()  # the online store's connections (close_online) and any offline one
            metrics.worker_exited(os.getpid())

    return Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: _http_error})


def app_from_env() -> Starlette:
    return create_app(load_config(os.environ.get(REPO_ENV)))
