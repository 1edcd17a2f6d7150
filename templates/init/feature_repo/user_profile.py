"""A second view on the same entity: slowly changing profile attributes that never expire."""

from sqlfeat import FeatureView, Field, FileSource
from sqlfeat.types import Bool, Int32, String

from user_features import user

user_profile_source = FileSource(path="data/user_profile.parquet", timestamp_field="event_time")

user_profile = FeatureView(
    name="user_profile",
    entities=[user],
    ttl=None,  # profile rows stay valid until a newer one arrives
    schema=[
        Field(name="account_age_days", dtype=Int32),
        Field(name="is_premium", dtype=Bool),
        Field(name="country", dtype=String),
    ],
    source=user_profile_source,
)
