"""API keys: with ``feature_server.auth.api_keys`` set, a request must carry one of them in the
configured header (default ``X-API-Key``) or as ``Authorization: Bearer KEY``. Keys are compared
in constant time and never logged or echoed; no keys configured means no authentication."""

from __future__ import annotations

import hmac

from starlette.requests import Request

from sqlfeat.config_server import ServerAuth
from sqlfeat.server.errors import ApiError


class ApiKeys:
    def __init__(self, auth: ServerAuth) -> None:
        self._keys = [key.encode() for key in auth.api_keys]
        self._header = auth.header.lower()

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def check(self, request: Request) -> None:
        """Raise a 401 unless the request carries a configured key."""
        if not self._keys:
            return
        headers = request.headers
        given = headers.get(self._header)
        if given is None:
            bearer = headers.get("authorization", "")
            if bearer[:7].lower() == "bearer ":
                given = bearer[7:].strip()
        if not given:
            raise ApiError(401, "unauthorized", f"this server requires an API key: send it in the {self._header} "
                           "header (or as Authorization: Bearer KEY)", {"WWW-Authenticate": "Bearer"})  # fmt: skip
        candidate = given.encode()
        # compare with every key, so the time taken does not say which key came close
        if not any([hmac.compare_digest(candidate, key) for key in self._keys]):
            raise ApiError(401, "unauthorized", "the API key is not one this server accepts (feature_server.auth.api_keys)",
                           {"WWW-Authenticate": "Bearer"})  # fmt: skip
