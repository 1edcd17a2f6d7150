"""Feature definitions: frozen values with no SQL and no I/O.

Each definition turns into a plain-JSON ``spec`` (what the registry stores and fingerprints) and
back, so what ``apply`` persisted is exactly what retrieval compiles.
"""

from __future__ import annotations

from sqlfeat.definitions.aggregation import Aggregation
from sqlfeat.definitions.entity import Entity
from sqlfeat.definitions.feature_service import FeatureService
from sqlfeat.definitions.feature_view import FeatureView
from sqlfeat.definitions.field import Feature, Field
from sqlfeat.definitions.on_demand import OnDemandFeatureView, on_demand_feature_view
from sqlfeat.definitions.projection import FeatureViewProjection
from sqlfeat.definitions.push_source import PushMode, PushSource
from sqlfeat.definitions.request_source import RequestSource
from sqlfeat.definitions.saved_dataset import (
    SavedDataset,
    SavedDatasetBigQueryStorage,
    SavedDatasetDuckDBStorage,
    SavedDatasetFileStorage,
    SavedDatasetPostgreSQLStorage,
    SavedDatasetSnowflakeStorage,
    SavedDatasetSparkStorage,
    SavedDatasetStorage,
)
from sqlfeat.definitions.sources import (
    BigQuerySource,
    DataSource,
    DuckDBSource,
    FileSource,
    PostgreSQLSource,
    SnowflakeSource,
    SparkSource,
    source_from_spec,
)
from sqlfeat.definitions.spec import fingerprint

__all__ = [
    "Aggregation",
    "BigQuerySource",
    "DataSource",
    "DuckDBSource",
    "Entity",
    "Feature",
    "FeatureService",
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
    "fingerprint",
    "on_demand_feature_view",
    "source_from_spec",
]
