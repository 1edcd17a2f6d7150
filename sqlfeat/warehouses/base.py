"""What every warehouse states about itself (``Dialect``) and does (``OfflineStore``).

A dialect is data: capability flags and a few small expression builders that the one compiler
calls. It never branches the algorithm by warehouse name.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from sqlglot import exp

from sqlfeat.errors import DefinitionError, UsageError, WarehouseError
from sqlfeat.warehouses.table_names import split_table_name
from sqlfeat.types import arrow_type_of_column, column_type_of_arrow

if TYPE_CHECKING:
    import pyarrow as pa

    from sqlfeat.definitions import DataSource
    from sqlfeat.types import FeatureType


class Dialect:
    """Capabilities and small rewrites of one SQL engine; subclasses override what differs."""

    NAME: ClassVar[str] = ""
    # How messages name the warehouse: "PostgreSQL failed running the query: ...".
    TITLE: ClassVar[str] = ""
    SQLGLOT_DIALECT: ClassVar[str] = ""
    # ASOF LEFT JOIN <t> ON k = k AND ts >= ts (DuckDB form).
    SUPPORTS_ASOF_JOIN: ClassVar[bool] = False
    # LEFT JOIN LATERAL (... ORDER BY ... LIMIT 1) ON TRUE, worth it with an index (PostgreSQL).
    SUPPORTS_LATERAL: ClassVar[bool] = False
    # Seconds per unit of work of each strategy (compiler/strategy.py: estimate_costs), measured on
    # this machine kind by benchmarks/density.py; only their ratios steer the choice.
    COSTS: ClassVar[dict[str, float]] = {
        "window": 1.4e-7, "carry": 2e-8, "asof": 1.2e-8, "lateral": 6.5e-7, "keyed": 1.5e-7,
        "window_aggregates": 1.1e-7, "carry_aggregates": 1.5e-7, "asof_aggregates": 1e-8,
    }  # fmt: skip
    # Sources may be scanned for statistics (rows, keys) before choosing; not where scans are billed.
    STATS_SCANS: ClassVar[bool] = True
    # The type every timestamp is compared in: an absolute instant (UTC), and its precision.
    INSTANT_TYPE: ClassVar[str] = "TIMESTAMPTZ"
    INSTANT_UNIT: ClassVar[str] = "us"
    # Every float column is 64-bit here, so a Float32 feature reads a DOUBLE column (and is cast).
    FLOAT_IS_DOUBLE: ClassVar[bool] = False
    # Array columns carry an element type that sqlfeat checks and casts to (Snowflake's ARRAY is
    # semi-structured: VARIANT elements of any type, so Array(...) features are refused there).
    TYPED_ARRAYS: ClassVar[bool] = True
    # A NULL array comes back as NULL (BigQuery has no NULL arrays: it returns an empty one, so a
    # missing Array(...) feature reads as [] there).
    NULL_ARRAYS: ClassVar[bool] = True
    # Source kinds (DataSource.kind) this warehouse can read.
    SOURCE_KINDS: ClassVar[frozenset[str]] = frozenset()
    # CREATE OR REPLACE TABLE exists (else: DROP + CREATE in one transaction).
    CREATE_OR_REPLACE: ClassVar[bool] = True
    # Characters a bare (unquoted) table-name part may hold besides letters, digits and _.
    TABLE_NAME_CHARS: ClassVar[str] = "$"

    def unsupported(self, dtype: FeatureType) -> str | None:
        """Why a feature of ``dtype`` cannot be read from this warehouse, or None if it can."""
        if dtype.element is not None and not self.TYPED_ARRAYS:
            return (
                f"{self.TITLE}'s ARRAY columns are semi-structured (VARIANT elements of any type), which sqlfeat "
                f"cannot check or cast to {dtype.name}; keep the values in typed columns, or read them from a "
                "warehouse with typed arrays (DuckDB, PostgreSQL, BigQuery)"
            )
        return None

    def cast_type(self, dtype: FeatureType) -> exp.DataType:
        """The SQL type a feature of ``dtype`` is cast to here (a dtype it cannot hold is refused)."""
        reason = self.unsupported(dtype)
        if reason is not None:
            raise DefinitionError(f"a {dtype.name} feature cannot be compiled for {self.TITLE}: {reason}")
        return dtype.sql_type()

    def to_instant(self, value: exp.Expression) -> exp.Expression:
        """A timestamp column as an absolute instant; a naive value is taken as UTC."""
        return exp.cast(value, self.instant_type())

    def instant_type(self) -> exp.DataType:
        return exp.DataType.build(self.INSTANT_TYPE, dialect=self.SQLGLOT_DIALECT, udt=True)

    def epoch_integer(self, instant: exp.Expression) -> exp.Expression:
        """An instant as an integer count of ``INSTANT_UNIT`` since the epoch (for RANGE frames)."""
        return exp.cast(exp.Mul(this=exp.Extract(this=exp.var("EPOCH"), expression=instant), expression=exp.Literal.number(1_000_000)), "BIGINT")

    def sliding_value(self, value: exp.Expression, function: str) -> exp.Expression:
        """The value a sliding window aggregates (an engine may need another type to slide in O(1))."""
        return value

    def approx_distinct(self, value: exp.Expression) -> exp.Expression:
        return exp.ApproxDistinct(this=value)

    def compensated_sum(self, value: exp.Expression) -> exp.Expression:
        """A float sum as exact as the engine makes it (DuckDB: Kahan-compensated ``FSUM``)."""
        return exp.Sum(this=value)

    def instant_units(self, delta: timedelta) -> int:
        """``delta`` in ``INSTANT_UNIT`` (what ``epoch_integer`` counts)."""
        micros = delta // timedelta(microseconds=1)
        return micros * 1_000 if self.INSTANT_UNIT == "ns" else micros

    def partition_filter(self, source: DataSource, bounds: tuple[datetime, datetime] | None, lookback: timedelta | None) -> exp.Expression | None:
        """``partition_column >= DATE '<earliest day any needed row can carry>'`` for a source that
        declares a partition column (one whose value is the event's date, or later), when the
        spine's bounds are known: a constant the engine prunes partitions with."""
        column = getattr(source, "partition_column", None)
        if not column or bounds is None:
            return None
        earliest = bounds[0] - (lookback or (bounds[0] - datetime(1970, 1, 1, tzinfo=timezone.utc)))
        day = exp.cast(exp.Literal.string(earliest.astimezone(timezone.utc).strftime("%Y-%m-%d")), "DATE")
        return exp.GTE(this=exp.column(exp.to_identifier(column, quoted=True), exp.to_identifier("src", quoted=True)), expression=day)

    @staticmethod
    def interval_parts(delta: timedelta) -> tuple[int, str]:
        """``delta`` as (amount, unit): whole seconds when exact, else microseconds."""
        micros = delta // timedelta(microseconds=1)
        return (micros // 1_000_000, "SECOND") if micros % 1_000_000 == 0 else (micros, "MICROSECOND")

    def subtract(self, value: exp.Expression, delta: timedelta) -> exp.Expression:
        """``value - delta`` on an instant, exact to the microsecond."""
        amount, unit = self.interval_parts(delta)
        return exp.Sub(this=value, expression=exp.Interval(this=exp.Literal.string(str(amount)), unit=exp.var(unit)))

    def instant_literal(self, value: datetime) -> exp.Expression:
        """A timestamp sqlfeat computed (never user text) as a typed UTC literal."""
        if value.tzinfo is None:
            raise UsageError(f"timestamp {value} has no time zone; pass an aware datetime (UTC)")
        text = value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f+00:00")
        return exp.cast(exp.Literal.string(text), self.instant_type())

    def source_relation(self, source: DataSource, repo_path: Path) -> exp.Expression:
        """The FROM-clause expression that reads ``source``."""
        if source.kind not in self.SOURCE_KINDS:
            raise DefinitionError(
                f"source {source.name!r} is a {type(source).__name__}, which the {self.NAME} "
                f"warehouse cannot read; it reads {sorted(self.SOURCE_KINDS)} sources"
            )
        return self._source_relation(source, repo_path)

    def _source_relation(self, source: DataSource, repo_path: Path) -> exp.Expression:
        if getattr(source, "table", None):
            return self.table(source.table)
        return self.query(source.query).subquery()

    def table(self, name: str) -> exp.Table:
        """A table name given as text: ``table``, ``schema.table`` or ``db.schema.table``, each part
        a bare name (read as the warehouse reads an unquoted name: Snowflake upper-cases it,
        PostgreSQL lower-cases it) or a quoted one, then quoted part by part. Anything else (a
        function call, a subquery, a stray quote) is refused: only text starting with SELECT or
        WITH is ever taken as SQL."""
        from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

        identifiers = []
        for text, quoted in split_table_name(name, self.TABLE_NAME_CHARS):
            identifier = exp.to_identifier(text)
            if not quoted:  # a quoted part is kept exactly as written
                identifier = normalize_identifiers(identifier, dialect=self.SQLGLOT_DIALECT)
            identifier.set("quoted", True)
            identifiers.append(identifier)
        return exp.Table(
            this=identifiers[-1], db=identifiers[-2] if len(identifiers) > 1 else None,
            catalog=identifiers[-3] if len(identifiers) > 2 else None,
        )  # fmt: skip

    def query(self, sql: str) -> exp.Query:
        """A SELECT (or WITH ... SELECT) given as text, parsed with this warehouse's grammar."""
        import sqlglot
        from sqlglot.errors import SqlglotError

        try:
            parsed = sqlglot.parse(sql, read=self.SQLGLOT_DIALECT)
        except SqlglotError as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise UsageError(f"this query is not valid {self.TITLE} SQL: {first}") from None
        statements = [p for p in parsed if p is not None]
        if len(statements) != 1 or not isinstance(statements[0], exp.Query):
            raise UsageError(f"expected one SELECT query, got: {sql[:80]!r}")
        return statements[0]

    def render(self, expression: exp.Expression, pretty: bool = True) -> str:
        return expression.sql(dialect=self.SQLGLOT_DIALECT, pretty=pretty)


def aliased(relation: exp.Expression, alias: str) -> exp.Expression:
    """``relation AS "alias"`` for a table, a subquery or a table function. Every relation sqlfeat
    puts in a FROM goes through here: a query (a query source, a spine query) is a subquery, and
    PostgreSQL refuses a subquery in FROM without an alias."""
    table_alias = exp.TableAlias(this=exp.to_identifier(alias, quoted=True))
    if isinstance(relation, (exp.Table, exp.Subquery)):
        relation = relation.copy()
        relation.set("alias", table_alias)
        return relation
    return exp.Table(this=relation, alias=table_alias)


class OfflineStore(ABC):
    """A live connection to one warehouse: run compiled SQL, move spines and results.

    The base class owns what every warehouse does the same way (the column probe, CREATE TABLE AS,
    turning driver errors into ``WarehouseError``); a warehouse file implements the hooks below.
    """

    dialect: Dialect
    # The driver's own exception classes: turned into WarehouseError by ``failing``.
    driver_errors: tuple[type[BaseException], ...] = ()
    # Materialization's online writes run on the warehouse's executors (``map_partitions``).
    executors: bool = False

    # -- hooks ------------------------------------------------------------------------------
    @abstractmethod
    def _probe(self, sql: str) -> dict[str, exp.DataType]:
        """Run a ``LIMIT 0`` probe and return its column names and types (driver errors escape)."""

    @abstractmethod
    def _execute(self, sql: str) -> None:
        """Run one statement for its effect (driver errors escape)."""

    @abstractmethod
    def write_arrow(self, table: pa.Table, name: str, temporary: bool = False) -> None:
        """Create (or replace) table ``name`` holding ``table``'s rows."""

    @abstractmethod
    def drop_upload(self, name: str) -> None:
        """Drop what ``upload`` made; never raises for a missing table."""

    @abstractmethod
    def fetch_arrow(self, sql: str) -> pa.Table: ...

    def error_text(self, err: BaseException) -> str:
        """The useful part of a driver error's message."""
        return str(err).strip()

    # -- shared behaviour -------------------------------------------------------------------
    @contextmanager
    def failing(self, what: str, sql: str | None = None) -> Iterator[None]:
        """Driver errors inside the block become ``WarehouseError("<Warehouse> failed <what>: ...")``."""
        try:
            yield
        except self.driver_errors as err:
            raise WarehouseError(f"{self.dialect.TITLE} failed {what}: {self.error_text(err)}", sql) from None

    def describe(self, relation: exp.Expression) -> dict[str, exp.DataType]:
        """Column names and types of a relation (a table, a query source's or a spine's subquery,
        a table function), read by a ``LIMIT 0`` probe. The relation gets an alias: PostgreSQL
        refuses a subquery in FROM without one."""
        probe = self.dialect.render(exp.select(exp.Star()).from_(aliased(relation, "probe")).limit(0), pretty=False)
        with self.failing("reading a relation's columns", probe):
            return self._probe(probe)

    def execute(self, sql: str, what: str) -> None:
        with self.failing(what, sql):
            self._execute(sql)

    def create_table(self, name: str, sql: str, replace: bool = True) -> None:
        """CREATE OR REPLACE TABLE name AS sql, inside the warehouse (drop + create in one
        transaction where the warehouse has no CREATE OR REPLACE). ``replace=False``: a plain
        CREATE TABLE, which the warehouse refuses if the table exists meanwhile."""
        table = self.dialect.table(name)
        query = self.dialect.query(sql)
        if not replace:
            create = exp.Create(this=table, kind="TABLE", expression=query)
            self.execute(self.dialect.render(create, pretty=False), f"creating table {name!r}")
            return
        if self.dialect.CREATE_OR_REPLACE:
            create = exp.Create(this=table, kind="TABLE", replace=True, expression=query)
            self.execute(self.dialect.render(create, pretty=False), f"creating table {name!r}")
            return
        drop = exp.Drop(tables=[table.copy()], kind="TABLE", exists=True)
        create = exp.Create(this=table, kind="TABLE", expression=query)
        with self.transaction():
            self.execute(self.dialect.render(drop, pretty=False), f"replacing table {name!r}")
            self.execute(self.dialect.render(create, pretty=False), f"creating table {name!r}")

    def table_exists(self, name: str) -> bool:
        """Whether table ``name`` can be read (a ``LIMIT 0`` probe; unreadable counts as absent)."""
        try:
            self.describe(self.dialect.table(name))
        except WarehouseError:
            return False
        return True

    def export_parquet(self, sql: str, path: Path) -> None:
        """Write the result of ``sql`` as a parquet file, from inside the engine (DuckDB can)."""
        raise UsageError(f"{self.dialect.TITLE} cannot write parquet files; save the dataset as a {self.dialect.TITLE} table")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Statements inside run in one transaction where the warehouse has them."""
        yield

    def index_advice(self, table: str, leading: list[str], extra: list[str]) -> tuple[str | None, str] | None:
        """For a warehouse with indexes: (the name of an index whose first columns are ``leading``,
        or None; the CREATE INDEX statement on ``leading + extra`` that would serve). None: this
        warehouse has no indexes."""
        return None

    def dry_run(self, sql: str) -> str:
        """What running ``sql`` would cost, as the warehouse says without running it."""
        raise UsageError(f"{self.dialect.TITLE} has no dry run sqlfeat can ask; BigQuery has")

    def upload_name(self) -> str:
        """A fresh name for an uploaded spine (qualified where the warehouse needs it)."""
        return f"__sqlfeat_spine_{uuid.uuid4().hex[:12]}"

    def upload(self, table: pa.Table, name: str) -> None:
        """Make an Arrow table queryable as temporary table ``name`` (a staged spine)."""
        self.write_arrow(table, name, temporary=True)

    def fetch_batches(self, sql: str, batch_rows: int = 100_000) -> Iterator[pa.RecordBatch]:
        """Stream the result as Arrow record batches; warehouses override this to avoid
        holding the whole result in memory."""
        yield from self.fetch_arrow(sql).to_batches(max_chunksize=batch_rows)

    def map_partitions(self, sql: str, task: Callable[[Iterator[pa.RecordBatch]], Iterator[bytes]]) -> Iterator[bytes]:
        """Run ``task`` where the result of ``sql`` lives, on each partition's Arrow batches."""
        raise UsageError(f"{self.dialect.TITLE} has no executors to run online writes on")

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    def __enter__(self) -> OfflineStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def column_definitions(table: pa.Table) -> list[exp.ColumnDef]:
    """``"name" TYPE`` for each column of an Arrow table (for CREATE TABLE before an upload)."""
    return [
        exp.ColumnDef(this=exp.to_identifier(f.name, quoted=True), kind=column_type_of_arrow(f.type)) for f in table.schema
    ]


def rows_to_arrow(names: Sequence[str], types: Sequence[exp.DataType], rows: Sequence[Sequence]) -> pa.Table:
    """Column-wise Arrow table from row tuples of columns typed ``types`` (one pass, no pandas)."""
    import pyarrow as pa

    columns = list(zip(*rows)) if rows else [[] for _ in names]
    arrays = [pa.array(list(values), type=arrow_type_of_column(t)) for values, t in zip(columns, types)]
    return pa.Table.from_arrays(arrays, names=list(names))
