"""Example feature definitions: a Feast repo's file with `feast` replaced by `sqlfeat`."""

from datetime import timedelta

from sqlfeat import Entity, Feature, FeatureView, FileSource, ValueType
from sqlfeat.types import Float32, Int64

user = Entity(name="user_id", value_type=ValueType.INT64)

# Data source: a parquet file (in production: BigQuery / Snowflake / PostgreSQL tables).
# One row per user per day: the user's click statistics over the 30 days before event_time.
user_clicks_source = FileSource(
    path="data/user_clicks.parquet",
    timestamp_field="event_time",
    created_timestamp_column="created",
)

user_clicks_30d = FeatureView(
    name="user_clicks_30d",
    entities=[user],
    ttl=timedelta(days=30),
    schema=[
        Feature(name="click_count", dtype=Int64),
        Feature(name="avg_dwell_seconds", dtype=Float32),
        Feature(name="top_category", dtype="string"),
    ],
    source=user_clicks_source,
    online=True,
    tags={"owner": "growth-team"},
)
