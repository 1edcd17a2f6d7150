"""Test service infrastructure: local stand-ins for Snowflake, BigQuery, DynamoDB,
PostgreSQL and Redis (see docs/emulators.md).

* ``tests.services.emulators`` -- plain helpers that start/locate the servers.
* ``tests.services.fixtures``  -- session-scoped pytest fixtures wrapping them; import
  them into a conftest.py (``from tests.services.fixtures import *``).
"""
