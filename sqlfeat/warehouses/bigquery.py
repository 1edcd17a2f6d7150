"""BigQuery: no ASOF JOIN; TIMESTAMP is the instant type (sqlglot's TIMESTAMPTZ), DATETIME the
naive one, read as UTC; every float is FLOAT64."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from sqlfeat.errors import ConfigError
from sqlfeat.options import StoreOptions
from sqlfeat.types import column_type_of_arrow
from sqlfeat.warehouses.base import Dialect, OfflineStore

if TYPE_CHECKING:
    import pyarrow as pa


class BigQueryDialect(Dialect):
    NAME = "bigquery"
    TITLE = "BigQuery"
    SQLGLOT_DIALECT = "bigquery"
    SOURCE_KINDS = frozenset({"bigquery"})
    FLOAT_IS_DOUBLE = True
    # project ids hold dashes: my-project.dataset.table
    TABLE_NAME_CHARS = "-"
    STATS_SCANS = False  # every scan is billed: no statistics query
    NULL_ARRAYS = False  # a NULL array is returned as [] (BigQuery stores and returns no NULL arrays)

    def subtract(self, value: exp.Expression, delta: timedelta) -> exp.Expression:
        amount, unit = self.interval_parts(delta)
        return exp.TimestampSub(this=value, expression=exp.Literal.number(amount), unit=exp.var(unit))

    def epoch_integer(self, instant: exp.Expression) -> exp.Expression:
        return exp.func("UNIX_MICROS", instant)

    def render(self, expression: exp.Expression, pretty: bool = True) -> str:
        # BigQuery has refused QUALIFY without a WHERE, GROUP BY or HAVING in the same SELECT.
        expression = expression.copy()
        for select in expression.find_all(exp.Select):
            if select.args.get("qualify") and not (select.args.get("where") or select.args.get("group")):
                select.where(exp.true(), copy=False)
        return super().render(expression, pretty)


DIALECT = BigQueryDialect()


class BigQueryOfflineStore(OfflineStore):
    """A google-cloud-bigquery client; spines are staged as expiring tables in ``dataset``."""

    dialect = DIALECT

    def __init__(self, client, project: str, dataset: str, location: str | None) -> None:
        from google.api_core import exceptions

        self.driver_errors = (exceptions.GoogleAPICallError,)
        self.client = client
        self.project = project
        self.dataset = dataset
        self.location = location

    def error_text(self, err: BaseException) -> str:
        return str(getattr(err, "message", None) or err).strip()

    def _probe(self, sql: str) -> dict[str, exp.DataType]:
        schema = self.client.query(sql, location=self.location).result().schema
        return {field.name: _column_type(field) for field in schema}

    def _execute(self, sql: str) -> None:
        self.client.query(sql, location=self.location).result()

    def dry_run(self, sql: str) -> str:
        from google.cloud import bigquery

        config = bigquery.QueryJobConfig(dry_run=True, use_query_cache=False)
        with self.failing("a dry run of the query", sql):
            job = self.client.query(sql, job_config=config, location=self.location)
        scanned = job.total_bytes_processed or 0
        return f"would scan {scanned:,} bytes ({scanned / 2**30:,.3f} GiB)"

    def upload_name(self) -> str:
        return f"{self.project}.{self.dataset}.__sqlfeat_spine_{uuid.uuid4().hex[:12]}"

    def upload(self, table: pa.Table, name: str) -> None:
        from datetime import datetime, timezone

        self.write_arrow(table, name)
        staged = self.client.get_table(name)
        staged.expires = datetime.now(timezone.utc) + timedelta(days=1)  # a crash still cleans up
        self.client.update_table(staged, ["expires"])

    def write_arrow(self, table: pa.Table, name: str, temporary: bool = False) -> None:
        import io

        import pyarrow.parquet as pq
        from google.cloud import bigquery

        # Parquet keeps Arrow's types: aware timestamps load as TIMESTAMP, naive ones as DATETIME.
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        buffer.seek(0)
        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.PARQUET, write_disposition="WRITE_TRUNCATE",
            schema=[_schema_field(f) for f in table.schema],
        )
        with self.failing(f"uploading table {name!r}"):
            self.client.load_table_from_file(buffer, name, job_config=config, location=self.location).result()

    def drop_upload(self, name: str) -> None:
        self.client.delete_table(name, not_found_ok=True)

    def fetch_arrow(self, sql: str) -> pa.Table:
        with self.failing("running the query", sql):
            return self.client.query(sql, location=self.location).to_arrow(create_bqstorage_client=False)

    def close(self) -> None:
        self.client.close()


def _schema_field(field: pa.Field):
    from google.cloud import bigquery

    data_type = column_type_of_arrow(field.type)
    repeated = data_type.this == exp.DataType.Type.ARRAY
    element = data_type.expressions[0] if repeated else data_type
    # sqlglot's TIMESTAMP (naive) is BigQuery's DATETIME and TIMESTAMPTZ its TIMESTAMP.
    type_name = element.sql(dialect="bigquery").split("(")[0]
    return bigquery.SchemaField(field.name, type_name, mode="REPEATED" if repeated else "NULLABLE")


# The REST API reports legacy SQL names; FLOAT there is FLOAT64 (sqlglot reads FLOAT as 32-bit).
_LEGACY_TYPES = {"FLOAT": "FLOAT64", "INTEGER": "INT64", "BOOLEAN": "BOOL"}


def _column_type(field) -> exp.DataType:
    data_type = exp.DataType.build(_LEGACY_TYPES.get(field.field_type, field.field_type), dialect="bigquery")
    if field.mode == "REPEATED":
        return exp.DataType(this=exp.DataType.Type.ARRAY, expressions=[data_type], nested=True)
    return data_type


class BigQueryOptions(StoreOptions):
    """``offline_store: {type: bigquery, project (Feast: project_id), dataset, location?,
    credentials_path?, api_endpoint?, anonymous?, connect_timeout? (seconds, default 30)}``."""

    project: str | None = None
    project_id: str | None = None
    dataset: str | None = None
    location: str | None = None
    credentials_path: str | None = None
    api_endpoint: str | None = None
    anonymous: bool = False
    connect_timeout: float | None = None
    billing_project_id: str | None = None
    FEAST_KEYS = frozenset({"gcs_staging_location", "table_create_disposition", "dataset_options"})


OPTIONS = BigQueryOptions


def connect(options: dict[str, Any], repo_path: Path) -> BigQueryOfflineStore:
    from google.api_core import exceptions
    from google.cloud import bigquery

    options = {**options, "project": options.get("project") or options.get("project_id")}

    for key in ("project", "dataset"):
        if not options.get(key):
            raise ConfigError(f"offline_store type bigquery needs `{key}` (the dataset stages uploaded spines)")
    kwargs: dict[str, Any] = {"project": options.get("billing_project_id") or options["project"]}
    if options.get("api_endpoint"):
        from google.api_core.client_options import ClientOptions

        kwargs["client_options"] = ClientOptions(api_endpoint=options["api_endpoint"])
    if options.get("credentials_path"):
        from google.oauth2 import service_account

        kwargs["credentials"] = service_account.Credentials.from_service_account_file(options["credentials_path"])
    elif options.get("anonymous"):
        from google.auth.credentials import AnonymousCredentials

        kwargs["credentials"] = AnonymousCredentials()
    client = bigquery.Client(**kwargs)
    # Fail in seconds, not after the client's ten minutes of retries, when BigQuery is unreachable.
    deadline = float(options.get("connect_timeout", 30))
    try:
        client.get_dataset(
            f"{options['project']}.{options['dataset']}",
            retry=bigquery.DEFAULT_RETRY.with_deadline(deadline), timeout=deadline,
        )
    except exceptions.NotFound:
        raise ConfigError(
            f"offline_store.dataset {options['dataset']!r} does not exist in project {options['project']!r}"
        ) from None
    except Exception as err:  # transport and auth errors come in many classes
        where = options.get("api_endpoint") or "BigQuery"
        raise ConfigError(f"cannot reach {where} with offline_store.project {options['project']!r}: {err}") from None
    return BigQueryOfflineStore(client, options["project"], options["dataset"], options.get("location"))
