"""Session-scoped pytest fixtures for the local service stand-ins.

Import them into a conftest.py (there is deliberately no conftest in tests/services)::

    from tests.services.fixtures import *  # noqa: F401,F403

or from a test module next to this file: ``from .fixtures import fakesnow_conn_kwargs``.

=====================  ==============================================================
fixture                yields
=====================  ==============================================================
fakesnow_conn_kwargs   dict for ``snowflake.connector.connect(**kw)`` (fakesnow server)
bigquery_info          dict: endpoint, project, grpc_endpoint, data_dir (local-bigquery);
                       build a client with ``emulators.bigquery_client(info)``
moto_endpoint          str endpoint URL of a moto server; boto3 kwargs via
                       ``emulators.aws_client_kwargs(endpoint)``
postgres_dsn           str ``postgresql://root@127.0.0.1:5432/test`` (or user postgres)
redis_url              str ``redis://127.0.0.1:6379/0``
=====================  ==============================================================

Servers are started once per test session and shared: give every test its own
schema / dataset / table / key prefix (``emulators.unique_name(prefix)``).  Treat the
yielded dicts as read-only (copy before changing them).

A service that cannot start fails its tests when CI is set (CI=true) or
SQLFEAT_REQUIRE_SERVICES=1; otherwise its tests are skipped with the reason (e.g. the
server venvs were never built: ``make -f mk/services.mk services``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any, TypeVar

import pytest

from . import emulators
from .emulators import ServiceStartError

__all__ = [
    "fakesnow_conn_kwargs",
    "bigquery_info",
    "moto_endpoint",
    "postgres_dsn",
    "redis_url",
    "services_required",
]

T = TypeVar("T")


def services_required() -> bool:
    """True when an unavailable service must fail (CI) rather than skip (local run)."""
    truthy = {"1", "true", "yes", "on"}
    return (
        os.environ.get("CI", "").strip().lower() in truthy
        or os.environ.get("SQLFEAT_REQUIRE_SERVICES", "").strip().lower() in truthy
    )


def _unavailable(name: str, exc: BaseException) -> None:
    msg = f"{name} unavailable: {exc}"
    if services_required():
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


def _serve(name: str, cm: AbstractContextManager[T]) -> Iterator[T]:
    try:
        value = cm.__enter__()
    except (ServiceStartError, OSError) as exc:
        _unavailable(name, exc)
        raise AssertionError("unreachable")  # pragma: no cover
    try:
        yield value
    finally:
        cm.__exit__(None, None, None)


def _locate(name: str, find) -> Any:
    try:
        return find()
    except (ServiceStartError, OSError) as exc:
        _unavailable(name, exc)


@pytest.fixture(scope="session")
def fakesnow_conn_kwargs() -> Iterator[dict[str, Any]]:
    """kwargs for ``snowflake.connector.connect`` against a fakesnow server (session)."""
    yield from _serve("fakesnow (Snowflake stand-in)", emulators.fakesnow_server())


@pytest.fixture(scope="session")
def bigquery_info() -> Iterator[dict[str, Any]]:
    """local-bigquery server info: ``endpoint``, ``project``, ``grpc_endpoint``, ``data_dir``."""
    yield from _serve("local-bigquery (BigQuery stand-in)", emulators.local_bigquery_server())


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """Endpoint URL of a moto server (DynamoDB stand-in)."""
    yield from _serve("moto (DynamoDB stand-in)", emulators.moto_server())


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    """DSN of the machine's PostgreSQL (started if it was down)."""
    return _locate("PostgreSQL", emulators.find_postgres)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the machine's Redis (started if it was down)."""
    return _locate("Redis", emulators.find_redis)
