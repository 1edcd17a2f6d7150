"""``sqlfeat serve``: the HTTP feature server, Feast's JSON over Starlette on uvicorn.

``app.py`` builds the ASGI app (routes, lifespan: one ``FeatureStore`` per worker process,
closed on shutdown); ``online_features.py`` is ``POST /get-online-features`` (the request read
and checked, then one ``FeatureStore.get_online_features`` call); ``feast_json.py`` writes an
``OnlineResponse`` in Feast's JSON; ``errors.py`` turns every failure into a JSON 4xx/5xx;
``auth.py`` checks API keys; ``health.py`` is ``GET /health``, ``metrics.py`` ``GET /metrics``,
``openapi.py`` the API's description; ``run.py`` starts uvicorn. An endpoint is one module
exposing ``ENDPOINTS`` (``endpoint.py``: the row, the state handlers get, the JSON body reader).
"""
