"""PostgreSQL: no ASOF JOIN and no QUALIFY (sqlglot rewrites QUALIFY into a subquery)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from sqlfeat.errors import ConfigError
from sqlfeat.options import StoreOptions
from sqlfeat.warehouses.base import Dialect, OfflineStore, column_definitions, rows_to_arrow

if TYPE_CHECKING:
    import pyarrow as pa


class PostgresDialect(Dialect):
    NAME = "postgres"
    TITLE = "PostgreSQL"
    SQLGLOT_DIALECT = "postgres"
    SOURCE_KINDS = frozenset({"postgres"})
    CREATE_OR_REPLACE = False
    SUPPORTS_LATERAL = True
    # measured: 100k spine rows over 1M source rows, 10 to 10,000 rows per key (docs/benchmarks.md)
    COSTS = {
        "window": 9.2e-7, "carry": 1.45e-7, "lateral": 6.5e-7, "keyed": 5e-7, "window_aggregates": 7e-7,
        "carry_aggregates": 3e-7,
    }  # fmt: skip

    def sliding_value(self, value: exp.Expression, function: str) -> exp.Expression:
        # PostgreSQL slides SUM and AVG of NUMERIC by adding and removing rows (an inverse
        # transition); of a float it recomputes every frame. NUMERIC is exact, and the result is
        # cast back to the feature's type.
        return exp.cast(value, "DECIMAL") if function in ("sum", "mean") else value

    def approx_distinct(self, value: exp.Expression) -> exp.Expression:
        return exp.Count(this=exp.Distinct(expressions=[value]))


DIALECT = PostgresDialect()


class PostgresOfflineStore(OfflineStore):
    """One psycopg connection with its session time zone set to UTC."""

    dialect = DIALECT

    def __init__(self, conninfo: str, params: dict[str, Any], described_as: str) -> None:
        import psycopg

        self.driver_errors = (psycopg.Error,)
        try:
            self.connection = psycopg.connect(conninfo, autocommit=True, connect_timeout=10, **params)
        except psycopg.Error as err:
            raise ConfigError(f"cannot connect to PostgreSQL with {described_as}: {str(err).strip()}") from None
        # Naive timestamp columns are read as UTC: CAST(... AS TIMESTAMPTZ) uses the session zone.
        self.connection.execute("SET TIME ZONE 'UTC'")

    def index_advice(self, table: str, leading: list[str], extra: list[str]) -> tuple[str | None, str] | None:
        target = self.dialect.table(table)
        schema = target.db or None
        query = (
            "SELECT i.relname, array_agg(a.attname ORDER BY k.ord) FROM pg_index x "
            "JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
            "JOIN pg_class i ON i.oid = x.indexrelid "
            "CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord) "
            "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum "
            "WHERE t.relname = %s AND (%s::text IS NULL AND pg_table_is_visible(t.oid) OR n.nspname = %s) "
            "GROUP BY i.relname"
        )
        with self.failing(f"reading the indexes of {table!r}", query):
            rows = self.connection.execute(query, (target.name, schema, schema)).fetchall()
        for name, indexed in rows:
            if list(indexed[: len(leading)]) == leading:
                return name, ""
        columns = leading + extra
        statement = exp.Create(
            this=exp.Index(table=target, params=exp.IndexParameters(columns=[exp.to_identifier(c, quoted=True) for c in columns])),
            kind="INDEX",
        ).sql(dialect="postgres")
        return None, statement + ";"

    def _types(self, cursor) -> list[exp.DataType]:
        return [self._type(column.type_code) for column in cursor.description]

    def _type(self, oid: int) -> exp.DataType:
        """A result column's type from its oid. psycopg registers each type under its array's oid
        too (``int4`` is found for ``int4[]``'s oid), so an array is told by ``array_oid``."""
        info = self.connection.adapters.types.get(oid)
        if info is None:
            return exp.DataType.build("text", dialect="postgres")
        name = info.name
        if info.oid != oid and getattr(info, "array_oid", None) == oid:
            name = f"{name}[]"
        elif name.startswith("_"):  # the catalog's own name of an array type: _element
            name = f"{name[1:]}[]"
        return exp.DataType.build(name, dialect="postgres", udt=True)

    def _probe(self, sql: str) -> dict[str, exp.DataType]:
        cursor = self.connection.execute(sql)
        return {column.name: kind for column, kind in zip(cursor.description, self._types(cursor))}

    def _execute(self, sql: str) -> None:
        self.connection.execute(sql)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.connection.transaction():
            yield

    def write_arrow(self, table: pa.Table, name: str, temporary: bool = False) -> None:
        create = exp.Create(this=exp.Schema(this=self.dialect.table(name), expressions=column_definitions(table)), kind="TABLE")
        if temporary:
            create.set("properties", exp.Properties(expressions=[exp.TemporaryProperty()]))
        self.drop_upload(name)
        self.execute(create.sql(dialect="postgres"), f"creating table {name!r}")
        import pyarrow as pa

        # CSV through COPY is ~3x faster than rows one by one; lists have no CSV form.
        as_csv = not any(pa.types.is_list(f.type) or pa.types.is_binary(f.type) for f in table.schema)
        copy = exp.Copy(
            this=exp.Schema(
                this=self.dialect.table(name),
                expressions=[exp.to_identifier(column, quoted=True) for column in table.column_names],
            ),
            kind=True, files=[exp.to_identifier("STDIN")],
            params=[exp.CopyParameter(this=exp.var("FORMAT"), expression=exp.var("CSV"))] if as_csv else None,
        )
        with self.failing(f"uploading table {name!r}"), self.connection.cursor() as cursor:
            with cursor.copy(copy.sql(dialect="postgres")) as writer:
                for batch in table.to_batches(max_chunksize=100_000):
                    if as_csv:
                        writer.write(_csv(batch))
                        continue
                    for row in zip(*(column.to_pylist() for column in batch.columns)):
                        writer.write_row(row)

    def drop_upload(self, name: str) -> None:
        drop = exp.Drop(tables=[self.dialect.table(name)], kind="TABLE", exists=True)
        try:
            self.connection.execute(drop.sql(dialect="postgres"))
        except self.driver_errors:
            pass

    def fetch_arrow(self, sql: str) -> pa.Table:
        with self.failing("running the query", sql):
            cursor = self.connection.execute(sql)
            return rows_to_arrow([c.name for c in cursor.description], self._types(cursor), cursor.fetchall())

    def fetch_batches(self, sql: str, batch_rows: int = 100_000) -> Iterator[pa.RecordBatch]:
        # A server-side cursor streams the result instead of holding it all client-side.
        with self.connection.transaction(), self.connection.cursor(name="sqlfeat_stream") as cursor:
            with self.failing("running the query", sql):
                cursor.execute(sql)
            names, types = None, None
            while True:
                with self.failing("reading the result", sql):
                    rows = cursor.fetchmany(batch_rows)
                if not rows:
                    break
                if names is None:
                    names, types = [c.name for c in cursor.description], self._types(cursor)
                yield from rows_to_arrow(names, types, rows).to_batches()

    def close(self) -> None:
        self.connection.close()


def _csv(batch: pa.RecordBatch) -> bytes:
    """A batch as headerless CSV: nulls are empty fields, empty strings are quoted ("")."""
    import io

    import pyarrow.csv

    buffer = io.BytesIO()
    pyarrow.csv.write_csv(batch, buffer, pyarrow.csv.WriteOptions(include_header=False))
    return buffer.getvalue()


class PostgresOptions(StoreOptions):
    """``offline_store: {type: postgres, url: postgresql://...}`` or host/port/database/user/password."""

    url: str | None = None
    host: str | None = None
    port: int | None = None
    database: str | None = None
    user: str | None = None
    password: str | None = None
    sslmode: str | None = None
    sslrootcert_path: str | None = None
    sslcert_path: str | None = None
    sslkey_path: str | None = None
    db_schema: str | None = None
    FEAST_KEYS = frozenset({"min_conn", "max_conn", "keepalives_idle"})


OPTIONS = PostgresOptions
# offline_store key -> libpq parameter
_LIBPQ = {
    "host": "host", "port": "port", "database": "dbname", "user": "user", "password": "password", "sslmode": "sslmode",
    "sslrootcert_path": "sslrootcert", "sslcert_path": "sslcert", "sslkey_path": "sslkey",
}  # fmt: skip


def connect(options: dict[str, Any], repo_path: Path) -> PostgresOfflineStore:
    """Connection parameters go to psycopg as keyword arguments (its own conninfo builder quotes
    them); a ``url`` is passed as the user wrote it. Messages name keys, never their values."""
    params = {libpq: options[key] for key, libpq in _LIBPQ.items() if options.get(key) not in (None, "")}
    if options.get("db_schema"):
        params["options"] = f"-c search_path={options['db_schema']}"
    if options.get("url"):
        given = ["offline_store.url", *(f"offline_store.{k}" for k in _LIBPQ if k in options and k != "password")]
        return PostgresOfflineStore(options["url"], params, ", ".join(given))
    if "host" not in params:
        raise ConfigError("offline_store type postgres needs `url` or `host` (with port, database, user)")
    given = ", ".join(f"offline_store.{k}" for k in _LIBPQ if k in options and k != "password")
    return PostgresOfflineStore("", params, given)
