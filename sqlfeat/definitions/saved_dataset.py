"""``SavedDataset`` and where it is stored (Feast's names): a training set written once into the
warehouse and recorded in the registry with the exact SQL that built it.

Storage classes describe a place, nothing more: a table of the configured warehouse
(``SavedDatasetPostgreSQLStorage(table_ref=...)``, ``SavedDatasetBigQueryStorage(table=...)``,
``SavedDatasetSnowflakeStorage(table_ref=...)``, ``SavedDatasetSparkStorage(table=...)``, sqlfeat's ``SavedDatasetDuckDBStorage(table=...)``
for a DuckDB database file) or, on DuckDB, a parquet file (``SavedDatasetFileStorage(path=...)``).
Writing and reading them is ``sqlfeat/saved_datasets.py``'s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlfeat.definitions.spec import check_name
from sqlfeat.errors import DefinitionError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa


class SavedDatasetStorage:
    """Where a saved dataset lives; ``warehouse`` is the offline store type that can hold it."""

    kind: ClassVar[str] = ""
    warehouse: ClassVar[str] = ""

    @property
    def location(self) -> str:
        raise NotImplementedError

    @property
    def is_file(self) -> bool:
        return False

    def describe(self) -> str:
        return f"{'file' if self.is_file else 'table'} {self.location} ({self.warehouse})"

    def to_spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "location": self.location}

    @staticmethod
    def from_spec(spec: dict[str, Any]) -> SavedDatasetStorage:
        kinds = {cls.kind: cls for cls in _STORAGES}
        if spec.get("kind") not in kinds:
            raise DefinitionError(f"unknown saved dataset storage {spec.get('kind')!r} in the registry")
        return kinds[spec["kind"]](spec["location"])

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.location == self.location  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self.kind, self.location))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"


class _TableStorage(SavedDatasetStorage):
    def __init__(self, table: str) -> None:
        if not isinstance(table, str) or not table.strip():
            raise DefinitionError(f"{type(self).__name__} needs a table name, got {table!r}")
        self.table = table.strip()

    @property
    def location(self) -> str:
        return self.table


class SavedDatasetFileStorage(SavedDatasetStorage):
    """A parquet file (relative paths: to the feature repo), written by DuckDB."""

    kind = "file"
    warehouse = "duckdb"

    def __init__(self, path: str, file_format: Any = "parquet", s3_endpoint_override: str | None = None) -> None:
        if not isinstance(path, str) or not path.strip():
            raise DefinitionError(f"SavedDatasetFileStorage needs a path, got {path!r}")
        if str(getattr(file_format, "name", file_format)).lower().removesuffix("format") not in ("parquet",):
            raise DefinitionError(f"SavedDatasetFileStorage {path!r}: only parquet files are supported")
        if s3_endpoint_override:
            raise DefinitionError(f"SavedDatasetFileStorage {path!r}: sqlfeat writes local files only")
        self.path = path

    @property
    def location(self) -> str:
        return self.path

    @property
    def is_file(self) -> bool:
        return True


class SavedDatasetDuckDBStorage(_TableStorage):
    """A table of the DuckDB database file (``offline_store.database``)."""

    kind = "duckdb"
    warehouse = "duckdb"


class SavedDatasetPostgreSQLStorage(_TableStorage):
    kind = "postgres"
    warehouse = "postgres"

    def __init__(self, table_ref: str) -> None:
        super().__init__(table_ref)


class SavedDatasetBigQueryStorage(_TableStorage):
    kind = "bigquery"
    warehouse = "bigquery"


class SavedDatasetSnowflakeStorage(_TableStorage):
    kind = "snowflake"
    warehouse = "snowflake"

    def __init__(self, table_ref: str) -> None:
        super().__init__(table_ref)


class SavedDatasetSparkStorage(_TableStorage):
    """A managed table of Spark's catalog (Feast's ``table=``; its ``query``/``path`` forms are
    not places sqlfeat writes to)."""

    kind = "spark"
    warehouse = "spark"

    def __init__(self, table: str | None = None, query: str | None = None, path: str | None = None,
                 file_format: Any = None) -> None:  # fmt: skip
        if query or path or file_format:
            raise DefinitionError("SavedDatasetSparkStorage: sqlfeat writes saved datasets as tables; pass table=...")
        super().__init__(table)  # type: ignore[arg-type]


_STORAGES = (
    SavedDatasetFileStorage, SavedDatasetDuckDBStorage, SavedDatasetPostgreSQLStorage, SavedDatasetBigQueryStorage,
    SavedDatasetSnowflakeStorage, SavedDatasetSparkStorage,
)  # fmt: skip


@dataclass
class SavedDataset:
    """A training set as recorded: Feast's fields, plus what reproduces it (``sql``, the
    registry's fingerprint and each view's at creation) and ``row_count``.

    ``to_df()`` / ``to_arrow()`` read the stored rows back (from ``store.get_saved_dataset``)."""

    name: str
    features: list[str]
    join_keys: list[str]
    storage: SavedDatasetStorage
    full_feature_names: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    feature_service_name: str | None = None
    description: str = ""
    created_timestamp: datetime | None = None
    last_updated_timestamp: datetime | None = None
    min_event_timestamp: datetime | None = None
    max_event_timestamp: datetime | None = None
    sql: str = ""
    registry_fingerprint: str = ""
    feature_view_fingerprints: dict[str, str] = field(default_factory=dict)
    row_count: int | None = None
    # output column -> declared dtype name: the stored columns are read back in these types
    columns: dict[str, str] = field(default_factory=dict)
    _reader: Callable[[], pa.Table] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_name("saved dataset", self.name)

    def __hash__(self) -> int:
        return hash(self.name)

    def with_retrieval_job(self, reader: Callable[[], pa.Table]) -> SavedDataset:
        self._reader = reader
        return self

    def to_arrow(self) -> pa.Table:
        if self._reader is None:
            raise DefinitionError(f"saved dataset {self.name!r}: load it with store.get_saved_dataset({self.name!r})")
        return self._reader()

    def to_df(self) -> pd.DataFrame:
        """The stored rows; features typed as declared (integers and booleans nullable)."""
        table = self.to_arrow()
        out = table.drop_columns([c for c in self.columns if c in table.column_names]).to_pandas()
        from sqlfeat.types import exact_pandas

        for name in self.columns:
            if name in table.column_names:
                out[name] = exact_pandas(table.column(name))
        return out[table.column_names]

    def to_spec(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "name": self.name, "features": list(self.features), "join_keys": list(self.join_keys),
            "storage": self.storage.to_spec(), "full_feature_names": self.full_feature_names, "tags": self.tags,
            "feature_service_name": self.feature_service_name, "description": self.description,
            "created_timestamp": iso(self.created_timestamp), "last_updated_timestamp": iso(self.last_updated_timestamp),
            "min_event_timestamp": iso(self.min_event_timestamp), "max_event_timestamp": iso(self.max_event_timestamp),
            "sql": self.sql, "registry_fingerprint": self.registry_fingerprint,
            "feature_view_fingerprints": dict(self.feature_view_fingerprints), "row_count": self.row_count,
            "columns": dict(self.columns),
        }  # fmt: skip

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> SavedDataset:
        def when(key: str) -> datetime | None:
            return datetime.fromisoformat(spec[key]) if spec.get(key) else None

        return cls(
            name=spec["name"], features=list(spec["features"]), join_keys=list(spec["join_keys"]),
            storage=SavedDatasetStorage.from_spec(spec["storage"]), full_feature_names=spec.get("full_feature_names", False),
            tags=dict(spec.get("tags") or {}), feature_service_name=spec.get("feature_service_name"),
            description=spec.get("description", ""), created_timestamp=when("created_timestamp"),
            last_updated_timestamp=when("last_updated_timestamp"), min_event_timestamp=when("min_event_timestamp"),
            max_event_timestamp=when("max_event_timestamp"), sql=spec.get("sql", ""),
            registry_fingerprint=spec.get("registry_fingerprint", ""),
            feature_view_fingerprints=dict(spec.get("feature_view_fingerprints") or {}), row_count=spec.get("row_count"),
            columns=dict(spec.get("columns") or {}),
        )  # fmt: skip
