"""Bad warehouse input gets an error naming the config key, table or column; nothing is left behind."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pandas as pd
import pytest

from conftest import write_repo
from sqlfeat import Entity, FeatureStore, FeatureView, Field, PostgreSQLSource, ValueType
from sqlfeat.errors import ConfigError, SchemaMismatchError, SqlfeatError
from sqlfeat.types import Int64

user = Entity(name="user_id", value_type=ValueType.INT64)


def view(source) -> FeatureView:
    return FeatureView(name="clicks", entities=[user], ttl=timedelta(days=1), source=source,
                       schema=[Field(name="click_count", dtype=Int64)])


@pytest.mark.parametrize(
    ("offline_store", "message"),
    [
        ({"type": "postgres", "host": "127.0.0.1", "port": 1, "database": "test", "user": "postgres"},
         "cannot connect to PostgreSQL with offline_store.host, offline_store.port"),
        ({"type": "postgres", "url": "postgresql://nobody@127.0.0.1:5432/no_such_db"},
         "cannot connect to PostgreSQL with offline_store.url"),
        ({"type": "postgres"}, "needs `url` or `host`"),
        ({"type": "snowflake", "account": "acme"}, "offline_store type snowflake needs `user`"),
        ({"type": "bigquery", "project": "p"}, "offline_store type bigquery needs `dataset`"),
        ({"type": "oracle"}, "offline_store type 'oracle' is not a sqlfeat warehouse"),
    ],
)
def test_bad_connection_settings_name_the_key(tmp_path, offline_store, message):
    repo = write_repo(tmp_path, offline_store=offline_store)
    with pytest.raises(ConfigError, match=message):
        FeatureStore(repo_path=repo).offline_store  # noqa: B018


def test_unreachable_snowflake_names_user_and_account(tmp_path):
    options = {"type": "snowflake", "account": "acme", "user": "ml", "password": "x", "host": "127.0.0.1",
               "port": 9, "protocol": "http", "login_timeout": 3}  # fmt: skip
    store = FeatureStore(repo_path=write_repo(tmp_path, offline_store=options))
    with pytest.raises(ConfigError, match="offline_store.user 'ml' on offline_store.account 'acme'"):
        store.offline_store  # noqa: B018


def test_unreachable_bigquery_names_the_endpoint(tmp_path):
    options = {"type": "bigquery", "project": "p", "dataset": "d", "api_endpoint": "http://127.0.0.1:9",
               "anonymous": True, "connect_timeout": 2}  # fmt: skip
    store = FeatureStore(repo_path=write_repo(tmp_path, offline_store=options))
    with pytest.raises(ConfigError, match="cannot reach http://127.0.0.1:9"):
        store.offline_store  # noqa: B018


def test_missing_table_and_column_are_named(postgres_harness, tmp_path):
    repo = write_repo(tmp_path, offline_store=postgres_harness.offline_store)
    store = FeatureStore(repo_path=repo)
    missing = PostgreSQLSource(table=f"{postgres_harness.namespace}.no_such_table", timestamp_field="ts")
    with pytest.raises(SchemaMismatchError, match="no_such_table.*cannot be read.*does not exist"):
        store.apply([user, view(missing)])
    frame = pd.DataFrame({"user_id": [1], "ts": pd.to_datetime(["2024-01-01"], utc=True), "clicks": [3]})
    source = postgres_harness.source(repo, f"clicks_{tmp_path.name[-8:]}", frame, timestamp_field="ts")
    with pytest.raises(SchemaMismatchError, match="has no column 'click_count' \\(feature 'click_count'\\)"):
        store.apply([user, view(source)])


def _temp_tables(store) -> list[str]:
    rows = store.offline_store.connection.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_name LIKE '__sqlfeat_spine%'"
    ).fetchall()
    return [r[0] for r in rows]


def test_staged_spine_is_dropped_even_when_the_query_fails(postgres_harness, tmp_path):
    repo = write_repo(tmp_path, offline_store=postgres_harness.offline_store)
    frame = pd.DataFrame({"user_id": [1], "ts": pd.to_datetime(["2024-01-01"], utc=True), "click_count": [3]})
    name = f"clicks_{tmp_path.name[-8:]}"
    source = postgres_harness.source(repo, name, frame, timestamp_field="ts")
    store = FeatureStore(repo_path=repo)
    store.apply([user, view(source)])
    job = store.get_historical_features(
        pd.DataFrame({"user_id": [1], "event_timestamp": pd.to_datetime(["2024-01-01"], utc=True)}), ["clicks:click_count"]
    )
    assert job.to_df()["click_count"].tolist() == [3]
    store.offline_store.connection.execute(f'DROP TABLE "{postgres_harness.namespace}"."{name}"')
    with pytest.raises(SqlfeatError, match=name):
        job.to_df()
    assert _temp_tables(store) == []


def test_compile_needs_no_driver_and_no_connection(tmp_path):
    code = """
import sys
for driver in ("psycopg", "snowflake", "snowflake.connector", "google.cloud.bigquery", "google", "pyspark"):
    sys.modules[driver] = None  # importing any of them now fails
from sqlfeat.compiler import Spine, compile_point_in_time, plan_retrieval
from sqlfeat.warehouses import get_dialect
sys.path.insert(0, {tests!r})
from test_golden_sql import ENTITIES, REPO, views_for
for name in ("duckdb", "postgres", "bigquery", "snowflake", "spark"):
    dialect = get_dialect(name)
    plan = plan_retrieval(["user_clicks_30d:click_count"], views_for(name), ENTITIES)
    print(name, len(dialect.render(compile_point_in_time(plan, Spine("t", "ts"), dialect, REPO))))
""".format(tests=str(__import__("pathlib").Path(__file__).parent))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert [line.split()[0] for line in out.stdout.splitlines()] == ["duckdb", "postgres", "bigquery", "snowflake", "spark"]
