"""One harness per warehouse, so every behaviour test runs on each of them.

A harness knows the ``offline_store`` section that reaches its warehouse and how to put a
DataFrame there as a source table. DuckDB writes parquet files (the FileSource path users
take); the others write real tables through sqlfeat's own warehouse client.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

# Each id is a warehouse and the PIT strategy forced on it: every strategy the warehouse can run
# must give the same rows (ties and TTL bounds included).
TARGETS = [
    "duckdb-asof", "duckdb-carry", "duckdb-window", "postgres-carry", "postgres-lateral", "postgres-window",
    "snowflake-carry", "snowflake-window", "bigquery-carry", "bigquery-window", "spark-carry", "spark-window",
]


@dataclass
class Harness:
    name: str
    offline_store: dict[str, Any]
    namespace: str = ""
    strategy: str = "auto"
    _tables: list[str] = field(default_factory=list)

    def source(self, repo: Path, name: str, frame: pd.DataFrame, query: bool = False, **kwargs):
        """Store ``frame`` as source ``name`` and return the matching sqlfeat source: a table (a
        parquet file on DuckDB), or with ``query=True`` a ``SELECT`` over it (``DuckDBSource(query=...)``,
        ``PostgreSQLSource(query=...)``...)."""
        import sqlfeat

        if self.name == "duckdb":
            (repo / "data").mkdir(parents=True, exist_ok=True)
            path = repo / "data" / f"{name}.parquet"
            frame.to_parquet(path, index=False)
            if query:
                return sqlfeat.DuckDBSource(query=f"SELECT * FROM read_parquet('{path}')", name=name, **kwargs)
            return sqlfeat.FileSource(path=f"data/{name}.parquet", **kwargs)
        from sqlfeat.warehouses import warehouse_module

        table = f"{self.namespace}.{name}"
        with warehouse_module(self.name).connect(self.offline_store, repo) as store:
            store.write_arrow(pa.Table.from_pandas(frame, preserve_index=False), table)
        source_class = {
            "postgres": sqlfeat.PostgreSQLSource, "snowflake": sqlfeat.SnowflakeSource,
            "bigquery": sqlfeat.BigQuerySource, "spark": sqlfeat.SparkSource,
        }[self.name]  # fmt: skip
        if query:
            return source_class(query=f"SELECT * FROM {self.quoted(table)}", name=name, **kwargs)
        return source_class(table=table, **kwargs)

    def quoted(self, table: str) -> str:
        """A table name as this warehouse's SQL writes it, quoted part by part."""
        from sqlfeat.warehouses import get_dialect

        dialect = get_dialect(self.name)
        return dialect.table(table).sql(dialect=dialect.SQLGLOT_DIALECT)

    def spine(self, store, name: str, frame: pd.DataFrame, query: bool = False) -> str:
        """Write ``frame`` as a table through ``store``'s own connection (an in-memory DuckDB is
        only visible there) and return what ``entity_df`` takes: its name, or a SELECT over it."""
        table = f"{self.namespace}.{name}" if self.namespace else name
        store.offline_store.write_arrow(pa.Table.from_pandas(frame, preserve_index=False), table)
        return f"SELECT * FROM {self.quoted(table)}" if query else table


def postgres_harness(dsn: str, schema: str) -> Harness:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    return Harness("postgres", {"type": "postgres", "url": dsn}, schema)


def drop_postgres_schema(dsn: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def snowflake_harness(kwargs: dict[str, Any], schema: str) -> Harness:
    options = {"type": "snowflake", **{k: v for k, v in kwargs.items() if k not in ("schema",)}}
    import snowflake.connector

    with snowflake.connector.connect(**kwargs) as connection:
        connection.cursor().execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    options["schema"] = schema
    return Harness("snowflake", options, schema)


def bigquery_harness(info: dict[str, Any], dataset: str) -> Harness:
    from services.emulators import bigquery_client

    client = bigquery_client(info)
    client.create_dataset(f"{info['project']}.{dataset}", exists_ok=True)
    options = {"type": "bigquery", "project": info["project"], "dataset": dataset,
               "api_endpoint": info["endpoint"], "anonymous": True}  # fmt: skip
    return Harness("bigquery", options, f"{info['project']}.{dataset}")


# One small local session for the whole test run: 2 shuffle partitions, no UI, tables under a
# temporary warehouse folder. Every FeatureStore of the run gets this session back (getOrCreate).
SPARK_TEST_CONF = {
    "spark.master": "local[2]", "spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2",
    "spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false",
}  # fmt: skip


def spark_harness(database: str, warehouse_dir: Path) -> Harness:
    """Start the session (a missing Java or pyspark raises) and create the run's database."""
    import shutil

    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise RuntimeError("no Java runtime (java not on PATH, JAVA_HOME unset): make installs openjdk-17-jre-headless")
    from sqlfeat.warehouses import spark

    options = {"type": "spark", "spark_conf": {**SPARK_TEST_CONF, "spark.sql.warehouse.dir": str(warehouse_dir)}}
    with spark.connect(options, warehouse_dir) as store:
        store.session.sparkContext.setLogLevel("OFF")  # failures reach the tests as errors
        store.execute(f"CREATE DATABASE IF NOT EXISTS `{database}`", "creating the test database")
    return Harness("spark", options, database)
