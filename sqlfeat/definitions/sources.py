"""Data sources: where a feature view's rows live. Descriptions only; warehouses read them."""

from __future__ import annotations

from dataclasses import InitVar, dataclass, field, fields
from typing import Any, ClassVar

from sqlfeat.definitions.spec import check_name
from sqlfeat.errors import DefinitionError


@dataclass(frozen=True, kw_only=True)
class DataSource:
    """Columns shared by every source: the event timestamp, an optional created timestamp that
    breaks ties, and ``field_mapping`` (source column -> feature, join-key or timestamp name: as in
    Feast, ``timestamp_field`` and ``created_timestamp_column`` may use the mapped name)."""

    kind: ClassVar[str] = ""

    timestamp_field: str = ""
    created_timestamp_column: str | None = None
    field_mapping: dict[str, str] = field(default_factory=dict)
    name: str = ""
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    owner: str = ""
    event_timestamp_column: InitVar[str | None] = None  # Feast's older name for timestamp_field

    def __post_init__(self, event_timestamp_column: str | None) -> None:
        timestamp = self.timestamp_field or event_timestamp_column or ""
        if not timestamp:
            raise DefinitionError(
                f"{type(self).__name__} {self.name or self.default_name()!r} needs timestamp_field="
                "'<column holding each row's event time>'"
            )
        object.__setattr__(self, "timestamp_field", timestamp)
        object.__setattr__(self, "created_timestamp_column", self.created_timestamp_column or None)
        object.__setattr__(self, "field_mapping", dict(self.field_mapping or {}))
        object.__setattr__(self, "tags", dict(self.tags or {}))
        object.__setattr__(self, "name", self.name or self.default_name())
        for column in (timestamp, self.created_timestamp_column, *self.field_mapping.values()):
            if column:
                check_name(f"source {self.name!r} column", column)

    def __hash__(self) -> int:
        return hash((self.kind, self.name))

    def default_name(self) -> str:
        return ""

    def source_column(self, name: str) -> str:
        """The source column that holds feature or key ``name`` (``field_mapping`` reversed)."""
        for source_col, mapped in self.field_mapping.items():
            if mapped == name:
                return source_col
        return name

    @property
    def event_time_column(self) -> str:
        """The source column holding each row's event time: ``timestamp_field``, which may name
        it by its ``field_mapping`` name (as in Feast)."""
        return self.source_column(self.timestamp_field)

    @property
    def created_time_column(self) -> str | None:
        """The source column of ``created_timestamp_column`` (through ``field_mapping`` too)."""
        return self.source_column(self.created_timestamp_column) if self.created_timestamp_column else None

    def to_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _WRITTEN_WHEN_SET and value is None:
                continue  # so sources that do not use it keep their fingerprints
            spec[f.name] = value
        return spec


@dataclass(frozen=True, kw_only=True)
class FileSource(DataSource):
    """A parquet file (or glob); a relative ``path`` is relative to the feature repo."""

    kind: ClassVar[str] = "file"

    path: str = ""
    file_format: str = "parquet"

    def __post_init__(self, event_timestamp_column: str | None) -> None:
        if not self.path:
            raise DefinitionError("FileSource needs path='data/<file>.parquet'")
        if self.file_format not in ("parquet", None) and str(self.file_format).lower() != "parquet":
            raise DefinitionError(f"FileSource {self.path!r}: only parquet files are supported")
        object.__setattr__(self, "file_format", "parquet")
        super().__post_init__(event_timestamp_column)

    def default_name(self) -> str:
        return self.path


@dataclass(frozen=True, kw_only=True)
class TableSource(DataSource):
    """A warehouse table (``table="schema.t"``) or query (``query="SELECT ..."``): exactly one.

    ``partition_column``: a DATE column whose value is each row's event date or a later one (e.g.
    BigQuery's ``_PARTITIONDATE`` or an ingestion date); it gets a constant lower bound so the
    warehouse prunes partitions before reading them."""

    table: str | None = None
    query: str | None = None
    partition_column: str | None = None

    def __post_init__(self, event_timestamp_column: str | None) -> None:
        if bool(self.table) == bool(self.query):
            raise DefinitionError(f"{type(self).__name__} needs exactly one of table=... or query=...")
        super().__post_init__(event_timestamp_column)
        if self.partition_column is not None:
            check_name(f"source {self.name!r} partition_column", self.partition_column)

    def default_name(self) -> str:
        return self.table or ""


@dataclass(frozen=True, kw_only=True)
class DuckDBSource(TableSource):
    """A table or query in the DuckDB warehouse (``offline_store.database``)."""

    kind: ClassVar[str] = "duckdb"


@dataclass(frozen=True, kw_only=True)
class PostgreSQLSource(TableSource):
    """A table (``schema.table``) or query in PostgreSQL."""

    kind: ClassVar[str] = "postgres"


@dataclass(frozen=True, kw_only=True)
class BigQuerySource(TableSource):
    """A table (``project.dataset.table`` or ``dataset.table``) or query in BigQuery."""

    kind: ClassVar[str] = "bigquery"


@dataclass(frozen=True, kw_only=True)
class SnowflakeSource(TableSource):
    """A table (``database``/``schema``/``table``, or a dotted ``table``) or query in Snowflake."""

    kind: ClassVar[str] = "snowflake"

    database: str | None = None
    schema: str | None = None

    def __post_init__(self, event_timestamp_column: str | None) -> None:
        if self.table and "." not in self.table:
            qualified = ".".join(part for part in (self.database, self.schema, self.table) if part)
            object.__setattr__(self, "table", qualified)
        super().__post_init__(event_timestamp_column)


# File formats a SparkSource(path=...) reads with Spark SQL's `format`.`path` relation.
SPARK_FILE_FORMATS = ("parquet", "orc", "json", "avro", "delta")


@dataclass(frozen=True, kw_only=True)
class SparkSource(TableSource):
    """A table (``db.table`` in Spark's catalog), a query, or files read by Spark SQL (``path``
    with ``file_format``: parquet, orc, json, avro, delta): exactly one of the three. A relative
    ``path`` is relative to the feature repo."""

    kind: ClassVar[str] = "spark"

    path: str | None = None
    file_format: str | None = None

    def __post_init__(self, event_timestamp_column: str | None) -> None:
        given = [key for key in ("table", "query", "path") if getattr(self, key)]
        if len(given) != 1:
            raise DefinitionError("SparkSource needs exactly one of table=..., query=... or path=...")
        if self.path:
            file_format = str(self.file_format or "parquet").lower()
            if file_format not in SPARK_FILE_FORMATS:
                raise DefinitionError(f"SparkSource {self.path!r}: file_format must be one of {', '.join(SPARK_FILE_FORMATS)}, got {self.file_format!r}")
            object.__setattr__(self, "file_format", file_format)
        elif self.file_format:
            raise DefinitionError("SparkSource: file_format goes with path=..., not with table or query")
        DataSource.__post_init__(self, event_timestamp_column)
        if self.partition_column is not None:
            check_name(f"source {self.name!r} partition_column", self.partition_column)

    def default_name(self) -> str:
        return self.table or self.path or ""


_WRITTEN_WHEN_SET = frozenset({"partition_column"})

_SOURCE_KINDS: dict[str, type[DataSource]] = {
    cls.kind: cls for cls in (FileSource, DuckDBSource, PostgreSQLSource, BigQuerySource, SnowflakeSource, SparkSource)
}


def source_from_spec(spec: dict[str, Any]) -> DataSource:
    spec = dict(spec)
    kind = spec.pop("kind")
    if kind not in _SOURCE_KINDS:
        raise DefinitionError(f"unknown source kind {kind!r} in the registry")
    return _SOURCE_KINDS[kind](**spec)
