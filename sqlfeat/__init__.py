"""sqlfeat: a feature store that compiles one feature definition into warehouse SQL.

The public API follows Feast's names, so ``from feast import ...`` becomes ``from sqlfeat import ...``.
"""

from __future__ import annotations

from sqlfeat.definitions import (
    Aggregation,
    BigQuerySource,
    DataSource,
    DuckDBSource,
    Entity,
    Feature,
    FeatureService,
    FeatureView,
    FeatureViewProjection,
    Field,
    FileSource,
    OnDemandFeatureView,
    PostgreSQLSource,
    PushMode,
    PushSource,
    RequestSource,
    SavedDataset,
    SavedDatasetBigQueryStorage,
    SavedDatasetDuckDBStorage,
    SavedDatasetFileStorage,
    SavedDatasetPostgreSQLStorage,
    SavedDatasetSnowflakeStorage,
    SavedDatasetSparkStorage,
    SavedDatasetStorage,
    SnowflakeSource,
    SparkSource,
    on_demand_feature_view,
)
from sqlfeat.errors import SqlfeatError
from sqlfeat.store import FeatureStore
from sqlfeat.types import ValueType

__version__ = "0.1.0"

__all__ = [
    "Aggregation",
    "BigQuerySource",
    "DataSource",
    "DuckDBSource",
    "Entity",
    "Feature",
    "FeatureService",
    "FeatureStore",
    "FeatureView",
    "FeatureViewProjection",
    "Field",
    "FileSource",
    "OnDemandFeatureView",
    "PostgreSQLSource",
    "PushMode",
    "PushSource",
    "RequestSource",
    "SavedDataset",
    "SavedDatasetBigQueryStorage",
    "SavedDatasetDuckDBStorage",
    "SavedDatasetFileStorage",
    "SavedDatasetPostgreSQLStorage",
    "SavedDatasetSnowflakeStorage",
    "SavedDatasetSparkStorage",
    "SavedDatasetStorage",
    "SnowflakeSource",
    "SparkSource",
    "SqlfeatError",
    "ValueType",
    "__version__",
    "on_demand_feature_view",
]
