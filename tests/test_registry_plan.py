"""`plan` says what `apply` changes, and flags changes that invalidate materialized data."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from conftest import record_materialization

from sqlfeat import Entity, FeatureStore, FeatureView, Field, FileSource
from sqlfeat.types import Float32, Float64, Int64

user = Entity(name="user_id")
source = FileSource(path="data/clicks.parquet", timestamp_field="event_time", created_timestamp_column="created")


def view(schema, ttl=30, **kw) -> FeatureView:
    return FeatureView(name="user_clicks", entities=[user], ttl=timedelta(days=ttl), source=source, schema=schema, **kw)


BASE = [Field(name="click_count", dtype=Int64), Field(name="avg_dwell_seconds", dtype=Float32)]


@pytest.fixture
def store(make_repo, clicks_frame):
    s = FeatureStore(repo_path=make_repo({"clicks": clicks_frame}))
    s.apply([user, view(BASE)])
    return s


def test_registry_is_readable_json_with_fingerprints(store):
    data = json.loads(store.config.registry_path.read_text())
    record = data["feature_views"]["user_clicks"]
    assert record["spec"]["schema"][0] == {"name": "click_count", "dtype": "Int64", "description": "", "tags": {}}
    assert len(record["fingerprint"]) == 16
    assert data["project"] == "test_project"


def test_reapplying_the_same_definitions_changes_nothing(store):
    before = store.config.registry_path.read_text()
    assert store.registry.plan(_contents(view(BASE)), partial=True).is_empty
    store.apply([user, view(BASE)])
    after = json.loads(store.config.registry_path.read_text())
    assert after["feature_views"] == json.loads(before)["feature_views"]


def _contents(*objects):
    from sqlfeat.repo import collect

    return collect([user, *objects])


def test_adding_a_field_is_not_breaking(store):
    plan = store.registry.plan(_contents(view([*BASE, Field(name="top_category", dtype="string")])), partial=True)
    (change,) = plan.changes
    assert change.details == ("adds field top_category (String)",)
    assert not change.invalidates_online


@pytest.mark.parametrize(
    ("schema", "detail"),
    [
        ([BASE[0]], "removes field avg_dwell_seconds (Float32)"),
        ([BASE[0], Field(name="avg_dwell_seconds", dtype=Float64)], "retypes field avg_dwell_seconds: Float32 -> Float64"),
    ],
)
def test_removing_or_retyping_a_field_requires_rematerialization(store, schema, detail):
    record_materialization(store, "user_clicks", "2024-01-10T00:00:00+00:00")
    plan = store.registry.plan(_contents(view(schema)), partial=True)
    (change,) = plan.changes
    assert detail in change.details
    assert change.invalidates_online and plan.views_to_rematerialize == ["user_clicks"]
    assert any("materialized up to 2024-01-10" in d for d in change.details)
    store.apply([view(schema)])
    assert store.registry.materialization("user_clicks") is None, "apply must reset the watermark"


def test_ttl_change_is_reported_but_not_breaking(store):
    (change,) = store.registry.plan(_contents(view(BASE, ttl=7)), partial=True).changes
    assert change.details == ("ttl: 2592000.0s -> 604800.0s (enforced at read time)",)
    assert not change.invalidates_online


def test_offline_only_view_change_does_not_ask_for_rematerialization(store):
    (change,) = store.registry.plan(_contents(view([BASE[0]], online=False)), partial=True).changes
    assert not change.invalidates_online


def test_adding_a_field_to_a_materialized_view_backfills_it(store):
    record_materialization(store, "user_clicks", "2024-01-10T00:00:00+00:00")
    plan = store.apply([view([*BASE, Field(name="top_category", dtype="string")])])
    (change,) = plan.changes
    assert change.needs_backfill and not change.invalidates_online
    assert any("backfills the full history" in d for d in change.details)
    assert store.registry.materialization("user_clicks") is None


def test_redefining_an_aggregation_requires_rematerialization(make_repo, clicks_frame):
    from sqlfeat import Aggregation

    s = FeatureStore(repo_path=make_repo({"clicks": clicks_frame}))

    def stats(window):
        return FeatureView(name="stats", entities=[user], source=source,
                           aggregations=[Aggregation("click_count", "sum", timedelta(days=window), name="clicks")])

    s.apply([user, stats(7)])
    plan = s.plan(_contents(stats(30)), partial=True)
    (change,) = plan.changes
    assert change.invalidates_online
    assert "redefines aggregation clicks: sum(click_count) over 604800s -> sum(click_count) over 2592000s" in change.details
