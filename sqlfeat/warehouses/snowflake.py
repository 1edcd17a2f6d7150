"""Snowflake: the window strategy (sqlglot cannot write ASOF ... MATCH_CONDITION); TIMESTAMP_TZ
is the instant type; the session runs in UTC so TIMESTAMP_NTZ columns read as UTC."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field
from sqlglot import exp

from sqlfeat.errors import ConfigError
from sqlfeat.options import StoreOptions
from sqlfeat.warehouses.base import Dialect, OfflineStore, column_definitions

if TYPE_CHECKING:
    import pyarrow as pa


class SnowflakeDialect(Dialect):
    NAME = "snowflake"
    TITLE = "Snowflake"
    SQLGLOT_DIALECT = "snowflake"
    SOURCE_KINDS = frozenset({"snowflake"})
    FLOAT_IS_DOUBLE = True
    STATS_SCANS = False  # every scan spends warehouse credits: no statistics query
    TYPED_ARRAYS = False  # ARRAY is semi-structured (VARIANT elements): Array(...) features are refused

    def epoch_integer(self, instant: exp.Expression) -> exp.Expression:
        return exp.func("DATE_PART", exp.var("EPOCH_MICROSECOND"), instant)


DIALECT = SnowflakeDialect()

# snowflake.connector.constants.FIELD_TYPES names -> SQL type names sqlglot understands.
_TYPES = {
    "REAL": "DOUBLE", "TEXT": "VARCHAR", "BOOLEAN": "BOOLEAN", "BINARY": "VARBINARY", "DATE": "DATE",
    "TIMESTAMP_NTZ": "TIMESTAMP", "TIMESTAMP": "TIMESTAMP", "TIMESTAMP_TZ": "TIMESTAMPTZ",
    "TIMESTAMP_LTZ": "TIMESTAMPTZ", "ARRAY": "ARRAY", "VARIANT": "VARCHAR",
}  # fmt: skip


class SnowflakeOfflineStore(OfflineStore):
    dialect = DIALECT

    def __init__(self, connection) -> None:
        import snowflake.connector

        self.driver_errors = (snowflake.connector.errors.Error,)
        self.connection = connection

    def error_text(self, err: BaseException) -> str:
        return str(getattr(err, "msg", None) or err).strip()

    def _probe(self, sql: str) -> dict[str, exp.DataType]:
        from snowflake.connector.constants import FIELD_ID_TO_NAME

        columns = {}
        for column in self.connection.cursor().execute(sql).description:
            name = FIELD_ID_TO_NAME.get(column.type_code, "TEXT")
            if name == "FIXED":
                name = "BIGINT" if not column.scale else "DECIMAL"
            columns[column.name] = exp.DataType.build(_TYPES.get(name, name), dialect="snowflake")
        return columns

    def _execute(self, sql: str) -> None:
        self.connection.cursor().execute(sql)

    def write_arrow(self, table: pa.Table, name: str, temporary: bool = False) -> None:
        create = exp.Create(
            this=exp.Schema(this=self.dialect.table(name), expressions=column_definitions(table)), kind="TABLE", replace=True
        )
        if temporary:
            create.set("properties", exp.Properties(expressions=[exp.TemporaryProperty()]))
        self.execute(create.sql(dialect="snowflake"), f"creating table {name!r}")
        insert = exp.insert(
            exp.values([tuple(exp.Placeholder() for _ in table.column_names)]),
            self.dialect.table(name), columns=[exp.to_identifier(c, quoted=True) for c in table.column_names],
        ).sql(dialect="snowflake").replace("?", "%s")
        cursor = self.connection.cursor()
        with self.failing(f"uploading table {name!r}"):
            for batch in table.to_batches(max_chunksize=10_000):
                cursor.executemany(insert, list(zip(*(_python_values(column) for column in batch.columns))))

    def drop_upload(self, name: str) -> None:
        try:
            self._execute(exp.Drop(tables=[self.dialect.table(name)], kind="TABLE", exists=True).sql(dialect="snowflake"))
        except self.driver_errors:
            pass

    def fetch_arrow(self, sql: str) -> pa.Table:
        with self.failing("running the query", sql):
            return self.connection.cursor().execute(sql).fetch_arrow_all(force_return_table=True)

    def close(self) -> None:
        self.connection.close()


def _python_values(column: pa.Array) -> list:
    """Arrow values as the connector binds them: timestamps as ISO strings with an offset."""
    import pyarrow as pa

    if pa.types.is_timestamp(column.type):
        # Aware values go as UTC: offsets other than +00:00 are not accepted everywhere.
        utc = column.cast(pa.timestamp("us", tz="UTC")) if column.type.tz else column
        return [None if v is None else v.isoformat(sep=" ") for v in utc.to_pylist()]
    return column.to_pylist()


class SnowflakeOptions(StoreOptions):
    account: str | None = None
    user: str | None = None
    password: str | None = None
    database: str | None = None
    schema_: str | None = Field(None, alias="schema")
    warehouse: str | None = None
    role: str | None = None
    host: str | None = None
    port: int | None = None
    protocol: str | None = None
    authenticator: str | None = None
    session_parameters: dict[str, Any] | None = None
    network_timeout: int | None = None
    login_timeout: int | None = None
    private_key: str | None = None
    private_key_passphrase: str | None = None
    FEAST_KEYS = frozenset({
        "config_path", "storage_integration_name", "blob_export_location", "convert_timestamp_columns",
        "max_file_size", "temp_intermediate_schema", "connection_name",
    })  # fmt: skip


OPTIONS = SnowflakeOptions


def connect(options: dict[str, Any], repo_path: Path) -> SnowflakeOfflineStore:
    """``offline_store: {type: snowflake, account, user, password, database, schema, warehouse, role}``;
    ``password`` may be ``${ENV_VAR}``; ``host``/``port``/``protocol`` reach a non-default endpoint."""
    import snowflake.connector

    for key in ("account", "user"):
        if not options.get(key):
            raise ConfigError(f"offline_store type snowflake needs `{key}`")
    keys = ("account", "user", "password", "database", "schema", "warehouse", "role", "host", "port", "protocol",
            "authenticator", "session_parameters", "network_timeout", "private_key", "private_key_passphrase")  # fmt: skip
    kwargs = {key: options[key] for key in keys if options.get(key) not in (None, "")}
    kwargs.setdefault("password", os.environ.get("SNOWFLAKE_PASSWORD"))
    kwargs["login_timeout"] = options.get("login_timeout", 30)
    # TIMESTAMP_NTZ columns are read as UTC: CAST(... AS TIMESTAMP_TZ) uses the session zone.
    kwargs["session_parameters"] = {**kwargs.get("session_parameters", {}), "TIMEZONE": "UTC"}
    try:
        connection = snowflake.connector.connect(**kwargs)
    except snowflake.connector.errors.Error as err:
        raise ConfigError(
            f"cannot connect to Snowflake as offline_store.user {options['user']!r} on offline_store.account "
            f"{options['account']!r}: {err.msg}"
        ) from None
    return SnowflakeOfflineStore(connection)
