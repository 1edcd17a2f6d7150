"""Shared fixtures: throwaway feature repos on disk, backed by real DuckDB and parquet files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

CONFIG = """\
project: {project}
registry: data/registry.json
offline_store:
{offline}{extra}online_store:
  type: sqlite
  path: data/online.db
"""


def write_repo(root: Path, sources: dict[str, pd.DataFrame] | None = None, project: str = "test_project",
               extra: str = "", offline_store: dict | None = None) -> Path:
    """A feature repo at ``root``: feature_store.yaml plus ``data/<name>.parquet`` per source."""
    import yaml

    (root / "data").mkdir(parents=True, exist_ok=True)
    offline = yaml.safe_dump(offline_store or {"type": "duckdb"}, default_flow_style=False)
    offline = "".join(f"  {line}\n" for line in offline.splitlines())
    (root / "feature_store.yaml").write_text(CONFIG.format(project=project, offline=offline, extra=extra))
    for name, frame in (sources or {}).items():
        frame.to_parquet(root / "data" / f"{name}.parquet", index=False)
    return root


def record_materialization(store, view: str, watermark: str) -> None:
    """Make the registry say ``view`` was materialized up to ``watermark`` into the store's online store."""
    from datetime import datetime

    with store.registry.transaction() as registry:
        registry.record_materialization(
            view, store="sqlite", target=store.online_target, start=None,
            end=datetime.fromisoformat(watermark), rows=0, seconds=0.0,
        )  # fmt: skip


@pytest.fixture
def make_repo(tmp_path):
    def factory(sources=None, **kwargs) -> Path:
        return write_repo(tmp_path / "repo", sources, **kwargs)

    return factory


@pytest.fixture
def clicks_frame() -> pd.DataFrame:
    """Four users' daily click stats; user 3 only has an old row, user 4 has none."""
    return pd.DataFrame({
        "user_id": [1, 1, 1, 2, 2, 3],
        "event_time": pd.to_datetime([
            "2024-01-01 00:00", "2024-01-05 00:00", "2024-01-05 00:00",
            "2024-01-02 12:00", "2024-01-10 00:00", "2023-06-01 00:00",
        ], utc=True),
        "created": pd.to_datetime([
            "2024-01-01 01:00", "2024-01-05 01:00", "2024-01-05 02:00",
            "2024-01-02 13:00", "2024-01-10 01:00", "2023-06-01 01:00",
        ], utc=True),
        "click_count": [10, 20, 21, 5, 6, 99],
        "avg_dwell_seconds": pd.Series([1.5, 2.5, 2.75, 3.0, 4.0, 9.0], dtype="float32"),
        "top_category": ["news", "music", "music", "games", "games", "food"],
    })


# -- every warehouse ---------------------------------------------------------------------------
# Servers start once per session, and only when a test asks for their warehouse.
import sys  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from services.fixtures import (  # noqa: E402,F401
    bigquery_info,
    fakesnow_conn_kwargs,
    moto_endpoint,
    postgres_dsn,
    redis_url,
)
from warehouses import TARGETS, Harness  # noqa: E402

from sqlfeat.errors import SqlfeatError  # noqa: E402


@pytest.fixture(scope="session")
def run_id() -> str:
    from services.emulators import unique_name

    return unique_name("sqlfeat")


@pytest.fixture(scope="session")
def postgres_harness(postgres_dsn, run_id):
    from warehouses import drop_postgres_schema, postgres_harness

    harness = postgres_harness(postgres_dsn, run_id)
    yield harness
    drop_postgres_schema(postgres_dsn, run_id)


@pytest.fixture(scope="session")
def snowflake_harness(fakesnow_conn_kwargs, run_id):
    from warehouses import snowflake_harness

    return snowflake_harness(fakesnow_conn_kwargs, run_id)


@pytest.fixture(scope="session")
def bigquery_harness(bigquery_info, run_id):
    from warehouses import bigquery_harness

    return bigquery_harness(bigquery_info, run_id)


@pytest.fixture(scope="session")
def spark_harness(run_id, tmp_path_factory):
    """The run's one SparkSession (local mode) and database; without Java or pyspark the Spark
    tests fail under CI=true (or SQLFEAT_REQUIRE_SERVICES=1) and are skipped otherwise."""
    from services.fixtures import _unavailable
    from warehouses import spark_harness

    try:
        return spark_harness(run_id, tmp_path_factory.mktemp("spark-warehouse"))
    except (ImportError, RuntimeError, SqlfeatError) as err:
        _unavailable("Spark", err)


@pytest.fixture(params=TARGETS)
def warehouse(request) -> Harness:
    """A warehouse to run the test on; DuckDB once per PIT strategy."""
    name, _, strategy = request.param.partition("-")
    # A known gap of some warehouses is declared on the test, with its reason, and must still fail
    # there (strict xfail): `@pytest.mark.notyet(["postgres"], reason="...")`.
    gap = request.node.get_closest_marker("notyet")
    if gap and name in gap.args[0]:
        request.applymarker(pytest.mark.xfail(reason=f"{name}: {gap.kwargs['reason']}", strict=True))
    if name == "duckdb":
        return Harness("duckdb", {"type": "duckdb"}, strategy=strategy)
    from dataclasses import replace

    return replace(request.getfixturevalue(f"{name}_harness"), strategy=strategy)
