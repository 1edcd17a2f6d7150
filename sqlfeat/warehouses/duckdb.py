"""DuckDB, the embedded default: ASOF JOIN, parquet files and DuckDB tables as sources."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import PositiveInt
from sqlglot import exp

from sqlfeat.errors import ConfigError, UsageError
from sqlfeat.options import StoreOptions
from sqlfeat.warehouses.base import Dialect, OfflineStore

if TYPE_CHECKING:
    import pyarrow as pa

    from sqlfeat.definitions import DataSource


# The range of TIMESTAMPTZ_NS, to the day.
NS_FIRST = datetime(1677, 9, 22, tzinfo=timezone.utc)
NS_LAST = datetime(2262, 4, 11, tzinfo=timezone.utc)


class DuckDBDialect(Dialect):
    NAME = "duckdb"
    TITLE = "DuckDB"
    SQLGLOT_DIALECT = "duckdb"
    SUPPORTS_ASOF_JOIN = True
    SOURCE_KINDS = frozenset({"file", "duckdb"})
    # Nanoseconds: parquet written by pandas keeps them, and a cast to microseconds would round an
    # event 400 ns after a spine time onto it (a sub-microsecond leak).
    INSTANT_TYPE = "TIMESTAMPTZ_NS"
    INSTANT_UNIT = "ns"

    def to_instant(self, value: exp.Expression) -> exp.Expression:
        """The column in nanoseconds. TIMESTAMPTZ_NS ends at 2262-04-11 and starts at 1677-09-22: a
        value beyond (a 9999-12-31 "forever" sentinel, a 0001-01-01 "always") is clamped to that
        edge, which keeps its comparison with every time the spine can hold as it was."""
        exact = exp.TryCast(this=value, to=self.instant_type())
        above = exp.GTE(this=exp.func("year", value.copy()), expression=exp.Literal.number(2262))
        clamped = exp.Case(ifs=[exp.If(this=above, true=self._edge(NS_LAST))], default=self._edge(NS_FIRST))
        fits = exp.or_(exp.Not(this=exp.Is(this=exact, expression=exp.Null())), exp.Is(this=value.copy(), expression=exp.Null()))
        return exp.Case(ifs=[exp.If(this=fits, true=exact.copy())], default=clamped)

    def epoch_integer(self, instant: exp.Expression) -> exp.Expression:
        return exp.func("epoch_ns", instant)

    def compensated_sum(self, value: exp.Expression) -> exp.Expression:
        return exp.func("fsum", value)

    def _edge(self, value: datetime) -> exp.Expression:
        return exp.cast(exp.Literal.string(value.strftime("%Y-%m-%d %H:%M:%S+00:00")), self.instant_type())

    def instant_literal(self, value: datetime) -> exp.Expression:
        if value.tzinfo is not None and not NS_FIRST <= value.astimezone(timezone.utc) <= NS_LAST:
            raise UsageError(
                f"{value.isoformat()} is outside the times DuckDB compares in nanoseconds "
                f"({NS_FIRST:%Y-%m-%d} to {NS_LAST:%Y-%m-%d}); pick a time inside that range"
            )
        return super().instant_literal(value)

    def _source_relation(self, source: DataSource, repo_path: Path) -> exp.Expression:
        if source.kind == "file":
            path = Path(source.path)
            if not path.is_absolute() and "://" not in source.path:
                path = repo_path / path
            return exp.func("read_parquet", exp.Literal.string(str(path)))
        return super()._source_relation(source, repo_path)


DIALECT = DuckDBDialect()

# DuckDB types sqlglot cannot parse, as the nearest type it can.
_TYPE_ALIASES = {"TIMESTAMPTZ_NS": "TIMESTAMPTZ", "TIMESTAMP_NS WITH TIME ZONE": "TIMESTAMPTZ"}


def _column_type(name: str) -> exp.DataType:
    from sqlglot.errors import ParseError

    try:
        return exp.DataType.build(_TYPE_ALIASES.get(name, name), dialect="duckdb")
    except ParseError:
        return exp.DataType.build("UNKNOWN")


class DuckDBOfflineStore(OfflineStore):
    """A DuckDB connection in UTC: a file database (``database:``) or in memory."""

    dialect = DIALECT

    def __init__(self, database: str = ":memory:", threads: int | None = None) -> None:
        import duckdb

        self.driver_errors = (duckdb.Error,)
        try:
            self.connection = duckdb.connect(database)
        except duckdb.Error as err:
            raise ConfigError(f"offline_store.database {database!r} cannot be opened: {err}") from None
        # Passing TimeZone in connect()'s config needs the icu extension download; SET does not.
        self.connection.execute("SET TimeZone = 'UTC'")
        if threads:
            self.connection.execute("SET threads = $1", [threads])

    def _probe(self, sql: str) -> dict[str, exp.DataType]:
        return {name: _column_type(str(kind)) for name, kind, *_ in self.connection.execute(sql).description}

    def _execute(self, sql: str) -> None:
        self.connection.execute(sql)

    def upload(self, table: pa.Table, name: str) -> None:
        self.connection.register(name, table)  # zero-copy: DuckDB scans the Arrow buffers

    def write_arrow(self, table: pa.Table, name: str, temporary: bool = False) -> None:
        staged = self.upload_name()
        self.connection.register(staged, table)
        try:
            select = exp.select(exp.Star()).from_(exp.to_table(exp.to_identifier(staged, quoted=True)))
            create = exp.Create(this=self.dialect.table(name), kind="TABLE", replace=True, expression=select)
            if temporary:
                create.set("properties", exp.Properties(expressions=[exp.TemporaryProperty()]))
            self.execute(create.sql(dialect="duckdb"), f"writing table {name!r}")
        finally:
            self.connection.unregister(staged)

    def drop_upload(self, name: str) -> None:
        try:
            self.connection.unregister(name)
        except self.driver_errors:
            pass

    def fetch_arrow(self, sql: str) -> pa.Table:
        with self.failing("running the query", sql):
            return self.connection.sql(sql).to_arrow_table()

    def fetch_batches(self, sql: str, batch_rows: int = 100_000) -> Iterator[pa.RecordBatch]:
        with self.failing("running the query", sql):
            reader = self.connection.sql(sql).to_arrow_reader(batch_rows)
        with self.failing("reading the result", sql):
            yield from reader

    def export_parquet(self, sql: str, path: Path) -> None:
        copy = exp.Copy(
            this=self.dialect.query(sql).subquery(), kind=False, files=[exp.Literal.string(str(path))],
            params=[exp.CopyParameter(this=exp.var("FORMAT"), expression=exp.var("PARQUET"))],
        )  # fmt: skip
        self.execute(copy.sql(dialect="duckdb"), f"writing {path}")

    def close(self) -> None:
        self.connection.close()


class DuckDBOptions(StoreOptions):
    """``offline_store: {type: duckdb, database: data/warehouse.duckdb, threads: 4}`` (Feast: ``file``)."""

    database: str = ":memory:"
    threads: PositiveInt | None = None
    FEAST_KEYS = frozenset({"staging_location", "staging_location_endpoint_override"})


OPTIONS = DuckDBOptions


def connect(options: dict[str, Any], repo_path: Path) -> DuckDBOfflineStore:
    database = options.get("database", ":memory:")
    if database != ":memory:" and not Path(database).is_absolute():
        database = str(repo_path / database)
    return DuckDBOfflineStore(database, options.get("threads"))
