"""What every warehouse states about itself (``Dialect``) and does (``OfflineStore``).

A dialect is data: capability flags and a few small expression builders that the one compiler
calls. It never branches the algorithm by warehouse name.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from sqlglot import exp

from sqlfeat.errors import DefinitionError

if TYPE_CHECKING:
    import pyarrow as pa

    from sqlfeat.definitions import DataSource


class Dialect:
    """Capabilities and small rewrites of one SQL engine; subclasses override what differs."""

    NAME: ClassVar[str] = ""
    SQLGLOT_DIALECT: ClassVar[str] = ""
    # ASOF LEFT JOIN <t> ON k = k AND ts >= ts (DuckDB form).
    SUPPORTS_ASOF_JOIN: ClassVar[bool] = False
    # Below this many spine rows the window form (range join + ROW_NUMBER) is faster than ASOF.
    ASOF_MIN_SPINE_ROWS: ClassVar[int] = 0
    # The type every timestamp is compared in: an absolute instant (UTC), and its precision.
    INSTANT_TYPE: ClassVar[str] = "TIMESTAMPTZ"
    INSTANT_UNIT: ClassVar[str] = "us"
    # Every float column is 64-bit here, so a Float32 feature reads a DOUBLE column (and is cast).
    FLOAT_IS_DOUBLE: ClassVar[bool] = False
    # Source kinds (DataSource.kind) this warehouse can read.
    SOURCE_KINDS: ClassVar[frozenset[str]] = frozenset()

    def choose_strategy(self, spine_rows: int | None, strategy: str = "auto") -> str:
        if strategy not in ("auto", "asof", "window"):
            raise ValueError(f"strategy must be 'auto', 'asof' or 'window', got {strategy!r}")
        if strategy == "asof" and not self.SUPPORTS_ASOF_JOIN:
            raise ValueError(f"{self.NAME} has no ASOF JOIN; use strategy='window'")
        if strategy != "auto":
            return strategy
        if not self.SUPPORTS_ASOF_JOIN:
            return "window"
        small = spine_rows is not None and spine_rows < self.ASOF_MIN_SPINE_ROWS
        return "window" if small else "asof"

    def to_instant(self, value: exp.Expression) -> exp.Expression:
        """A timestamp column as an absolute instant; a naive value is taken as UTC."""
        return exp.cast(value, self.instant_type())

    def instant_type(self) -> exp.DataType:
        return exp.DataType.build(self.INSTANT_TYPE, dialect=self.SQLGLOT_DIALECT, udt=True)

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
            raise ValueError(f"timestamp {value} has no time zone; pass an aware datetime (UTC)")
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
        """A (possibly qualified) table name, read as the warehouse reads an unquoted name (Snowflake
        upper-cases it, PostgreSQL lower-cases it), then quoted part by part."""
        from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

        table = normalize_identifiers(exp.to_table(name, dialect=self.SQLGLOT_DIALECT), dialect=self.SQLGLOT_DIALECT)
        for part in table.parts:
            part.set("quoted", True)
        return table

    def query(self, sql: str) -> exp.Query:
        import sqlglot

        parsed = sqlglot.parse_one(sql, read=self.SQLGLOT_DIALECT)
        if not isinstance(parsed, exp.Query):
            raise DefinitionError(f"expected a SELECT query, got: {sql[:80]!r}")
        return parsed

    def render(self, expression: exp.Expression, pretty: bool = True) -> str:
        return expression.sql(dialect=self.SQLGLOT_DIALECT, pretty=pretty)


class OfflineStore(ABC):
    """A live connection to one warehouse: run compiled SQL, move spines and results."""

    dialect: Dialect

    @abstractmethod
    def describe(self, relation: exp.Expression) -> dict[str, exp.DataType]:
        """Column names and types of a relation (a table or a subquery)."""

    def upload_name(self) -> str:
        """A fresh name for an uploaded spine (qualified where the warehouse needs it)."""
        return f"__sqlfeat_spine_{uuid.uuid4().hex[:12]}"

    @abstractmethod
    def write_arrow(self, table: pa.Table, name: str, temporary: bool = False) -> None:
        """Create (or replace) table ``name`` holding ``table``'s rows."""

    def upload(self, table: pa.Table, name: str) -> None:
        """Make an Arrow table queryable as temporary table ``name`` (a staged spine)."""
        self.write_arrow(table, name, temporary=True)

    @abstractmethod
    def drop_upload(self, name: str) -> None:
        """Drop what ``upload`` made; never raises for a missing table."""

    @abstractmethod
    def fetch_arrow(self, sql: str) -> pa.Table: ...

    def fetch_batches(self, sql: str, batch_rows: int = 100_000) -> Iterator[pa.RecordBatch]:
        """Stream the result as Arrow record batches; warehouses override this to avoid
        holding the whole result in memory."""
        yield from self.fetch_arrow(sql).to_batches(max_chunksize=batch_rows)

    @abstractmethod
    def create_table(self, name: str, sql: str) -> None:
        """CREATE OR REPLACE TABLE name AS sql, inside the warehouse."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    def __enter__(self) -> OfflineStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
