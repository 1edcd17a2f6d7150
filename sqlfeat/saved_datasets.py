"""Saved datasets (Feast's ``create_saved_dataset`` / ``get_saved_dataset``): a training set
written once, inside the warehouse, and recorded in the registry with the exact SQL that wrote
it, the features, the registry's and each view's fingerprint, its row count and time.

Nothing of the user's is lost: a table (or file) that exists is replaced only when sqlfeat saved
a dataset there and the call says ``allow_overwrite=True``; one sqlfeat did not write is refused
whatever the call says, naming it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlfeat.definitions import FeatureService, SavedDataset, SavedDatasetStorage, fingerprint
from sqlfeat.errors import OutputPathError, RegistryError, UsageError

if TYPE_CHECKING:
    import pyarrow as pa

    from sqlfeat.config import RepoConfig
    from sqlfeat.registry import Registry
    from sqlfeat.retrieval import RetrievalJob
    from sqlfeat.warehouses.base import OfflineStore


class DatasetSurface(Protocol):
    """The part of ``FeatureStore`` saved datasets use."""

    config: RepoConfig
    repo_path: Path

    @property
    def registry(self) -> Registry: ...
    @property
    def offline_store(self) -> OfflineStore: ...


def _registry(store: DatasetSurface) -> Registry:
    if not store.registry.exists:
        raise RegistryError(f"no registry at {store.config.registry_path}: run `sqlfeat apply` in {store.repo_path} first")
    return store.registry


def _file(store: DatasetSurface, storage: SavedDatasetStorage) -> Path:
    path = Path(storage.location)
    return path if path.is_absolute() else store.repo_path / path


def _check_storage(store: DatasetSurface, storage: Any) -> None:
    if not isinstance(storage, SavedDatasetStorage):
        raise UsageError(f"storage must be a SavedDatasetStorage such as SavedDatasetFileStorage(path=...), got {storage!r}")
    offline = store.config.offline_type
    if storage.warehouse != offline:
        raise UsageError(
            f"{type(storage).__name__} is stored in {storage.warehouse}, but the offline store is {offline}; save "
            f"into the offline store (a {offline} table{', or SavedDatasetFileStorage(path=...)' if offline == 'duckdb' else ''})"
        )
    if storage.kind == "duckdb" and store.config.offline_store.get("database", ":memory:") == ":memory:":
        raise UsageError(
            f"SavedDatasetDuckDBStorage({storage.location!r}) would vanish with the in-memory DuckDB database; set "
            "offline_store.database in feature_store.yaml, or use SavedDatasetFileStorage(path='data/<name>.parquet')"
        )


def _exists(store: DatasetSurface, job: RetrievalJob, storage: SavedDatasetStorage) -> bool:
    return _file(store, storage).exists() if storage.is_file else job.store.table_exists(storage.location)


def _claim(store: DatasetSurface, job: RetrievalJob, registry: Registry, name: str, storage: SavedDatasetStorage,
           allow_overwrite: bool) -> bool:  # fmt: skip
    """Check before any work that ``storage`` may be written; True when it replaces a dataset."""
    where = f"{'file' if storage.is_file else 'table'} {storage.location!r}"
    datasets = registry.saved_datasets()
    holder = next((n for n, d in datasets.items() if d.storage.location == storage.location), None)
    if _exists(store, job, storage):
        if holder is None:
            raise OutputPathError(
                f"saved dataset {name!r}: {where} already exists and sqlfeat did not save a dataset there; sqlfeat never "
                f"replaces or drops what it did not write: choose another {where.split()[0]}, or remove it yourself"
            )
        if not allow_overwrite:
            raise OutputPathError(
                f"saved dataset {name!r}: {where} already holds saved dataset {holder!r}; pass allow_overwrite=True to "
                "replace it"
            )
        return True
    previous = datasets.get(name)
    if previous is not None and not allow_overwrite:
        raise OutputPathError(
            f"a saved dataset named {name!r} already exists ({previous.storage.describe()}); pass allow_overwrite=True "
            "to record this one under that name, or choose another name"
        )
    return False


def create_saved_dataset(
    store: DatasetSurface, job: RetrievalJob, name: str, storage: SavedDatasetStorage, tags: dict[str, str] | None,
    feature_service: FeatureService | None, allow_overwrite: bool,
) -> SavedDataset:  # fmt: skip
    from sqlfeat.files import atomic_path

    SavedDataset(name, [], [], storage)  # the name is checked before any work
    _check_storage(store, storage)
    registry = _registry(store)
    replaces = _claim(store, job, registry, name, storage, allow_overwrite)
    with job.full_sql() as sql:
        if storage.is_file:
            with atomic_path(_file(store, storage)) as temp:
                job.store.export_parquet(sql, temp)
        else:
            job.store.create_table(storage.location, sql, replace=replaces)
    plan = job.plan
    bounds = job.spine.bounds
    dataset = SavedDataset(
        name=name, features=[f"{r.name}:{f.name}" for r in plan.views for f in r.features], join_keys=list(plan.join_keys),
        storage=storage, full_feature_names=plan.full_feature_names, tags=dict(tags or {}),
        feature_service_name=feature_service.name if feature_service is not None else None,
        created_timestamp=datetime.now(timezone.utc), min_event_timestamp=bounds[0] if bounds else None,
        max_event_timestamp=bounds[1] if bounds else None, sql=sql, row_count=_count(store, job, storage),
        columns={n: f.dtype.name for r in plan.views for f, n in zip(r.features, r.output_names)},
    )  # fmt: skip
    with registry.transaction():
        dataset.registry_fingerprint = fingerprint(registry.fingerprints())
        dataset.feature_view_fingerprints = {
            r.view.name: registry.fingerprint_of("feature_views", r.view.name) or "" for r in plan.views
        }
        dataset.last_updated_timestamp = dataset.created_timestamp
        registry.record_saved_dataset(dataset)
    return dataset.with_retrieval_job(lambda: _read(store, dataset))


def _count(store: DatasetSurface, job: RetrievalJob, storage: SavedDatasetStorage) -> int:
    if storage.is_file:
        import pyarrow.parquet as pq

        return pq.ParquetFile(_file(store, storage)).metadata.num_rows
    from sqlglot import exp

    dialect = job.store.dialect
    query = exp.select(exp.alias_(exp.Count(this=exp.Star()), "n", quoted=True)).from_(dialect.table(storage.location))
    return int(job.store.fetch_arrow(dialect.render(query, pretty=False)).column(0)[0].as_py())


def get_saved_dataset(store: DatasetSurface, name: str) -> SavedDataset:
    datasets = _registry(store).saved_datasets()
    if name not in datasets:
        raise RegistryError(f"no saved dataset named {name!r}; saved datasets: {sorted(datasets)}")
    dataset = datasets[name]
    return dataset.with_retrieval_job(lambda: _read(store, dataset))


def _read(store: DatasetSurface, dataset: SavedDataset) -> pa.Table:
    """The stored rows, feature columns in their declared Arrow types (whatever the warehouse
    stored: Snowflake NUMBER, BigQuery FLOAT64...)."""
    from sqlglot import exp

    from sqlfeat.types import dtype_from_name

    storage = dataset.storage
    if storage.is_file:
        import pyarrow.parquet as pq

        path = _file(store, storage)
        if not path.exists():
            raise UsageError(f"saved dataset {dataset.name!r}: file {path} is gone")
        table = pq.read_table(path)
    else:
        offline = store.offline_store
        query = exp.select(exp.Star()).from_(offline.dialect.table(storage.location))
        table = offline.fetch_arrow(offline.dialect.render(query, pretty=False))
    for index, column in enumerate(table.column_names):
        declared = dataset.columns.get(column)
        if declared is not None:
            arrow = dtype_from_name(declared).to_arrow()
            if table.schema.field(index).type != arrow:
                table = table.set_column(index, column, table.column(index).cast(arrow))
    return table
