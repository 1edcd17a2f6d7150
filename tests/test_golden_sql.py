"""Golden SQL: a change to the generated SQL shows up in review as a diff of these files.

Regenerate with `SQLFEAT_UPDATE_GOLDEN=1 make test` and read the diff before committing.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlglot
from sqlglot.errors import ErrorLevel

from sqlfeat import (
    Aggregation,
    BigQuerySource,
    DuckDBSource,
    Entity,
    FeatureView,
    Field,
    FileSource,
    PostgreSQLSource,
    SnowflakeSource,
    SparkSource,
    ValueType,
)
from sqlfeat.compiler import Spine, compile_point_in_time, plan_retrieval
from sqlfeat.types import Bool, Float32, Int64, String
from sqlfeat.warehouses import get_dialect

GOLDEN = Path(__file__).parent / "golden"
REPO = Path("/repo")

user = Entity(name="user_id", value_type=ValueType.INT64)
pair = Entity(name="user_merchant", join_keys=["user_id", "merchant_id"])
ENTITIES = {e.name: e for e in (user, pair)}
TABLE_SOURCES = {"postgres": PostgreSQLSource, "bigquery": BigQuerySource, "snowflake": SnowflakeSource, "spark": SparkSource}


def views_for(dialect: str) -> dict[str, FeatureView]:
    """The same three views; on warehouses other than DuckDB their sources are that warehouse's tables."""

    def source(duckdb_source, table, **kwargs):
        if dialect == "duckdb":
            return duckdb_source
        return TABLE_SOURCES[dialect](table=table, **kwargs)

    clicks = FeatureView(
        name="user_clicks_30d", entities=[user], ttl=timedelta(days=30),
        schema=[Field(name="click_count", dtype=Int64), Field(name="avg_dwell_seconds", dtype=Float32),
                Field(name="top_category", dtype=String)],
        source=source(
            FileSource(path="data/user_clicks.parquet", timestamp_field="event_time", created_timestamp_column="created"),
            "analytics.user_clicks", timestamp_field="event_time", created_timestamp_column="created",
        ),
    )
    profile = FeatureView(
        name="user_profile", entities=[user], schema=[Field(name="is_premium", dtype=Bool)],
        source=source(DuckDBSource(table="warehouse.profiles", timestamp_field="updated_at"),
                      "warehouse.profiles", timestamp_field="updated_at"),
    )
    payments = "SELECT * FROM payments WHERE status = 'ok'"
    spend = FeatureView(
        name="user_merchant_spend", entities=[pair], ttl=timedelta(hours=12),
        schema=[Field(name="spend", dtype="float64")],
        source=source(
            DuckDBSource(query=payments, timestamp_field="paid_at", field_mapping={"amount": "spend", "uid": "user_id"}),
            None, query=payments, timestamp_field="paid_at", field_mapping={"amount": "spend", "uid": "user_id"},
        ),
    )
    stats = FeatureView(
        name="user_click_stats", entities=[user],
        source=source(
            FileSource(path="data/click_events.parquet", timestamp_field="event_time", created_timestamp_column="created"),
            "analytics.click_events", timestamp_field="event_time", created_timestamp_column="created",
        ),
        aggregations=[
            Aggregation("click_id", "count", timedelta(days=30), name="clicks_30d", dtype="Int64"),
            Aggregation("dwell_seconds", "mean", timedelta(days=7), dtype="Float64"),
            Aggregation("category", "last", timedelta(days=1), dtype="String"),
        ],
    )
    return {v.name: v for v in (clicks, profile, spend, stats)}


CASES = {
    "seed_asof": (["user_clicks_30d:click_count", "user_clicks_30d:avg_dwell_seconds", "user_clicks_30d:top_category"],
                  Spine("entity_df", "event_timestamp"), "asof", False),
    "seed_window": (["user_clicks_30d:click_count", "user_clicks_30d:top_category"],
                    Spine("entity_df", "event_timestamp"), "window", False),
    "three_views_asof": (["user_clicks_30d:click_count", "user_profile:is_premium", "user_merchant_spend:spend"],
                         Spine("SELECT * FROM training_rows WHERE split = 'train'", "ts", is_query=True), "asof", True),
    "three_views_window": (["user_clicks_30d:click_count", "user_profile:is_premium", "user_merchant_spend:spend"],
                           Spine("SELECT * FROM training_rows WHERE split = 'train'", "ts", is_query=True), "window", True),
    "aggregates_with_lookup_asof": (["user_click_stats:clicks_30d", "user_click_stats:dwell_seconds_mean_7d",
                                     "user_click_stats:category_last_1d", "user_clicks_30d:click_count"],
                                    Spine("entity_df", "event_timestamp"), "asof", False),
    "aggregates_window": (["user_click_stats:clicks_30d", "user_click_stats:dwell_seconds_mean_7d",
                           "user_click_stats:category_last_1d"], Spine("entity_df", "event_timestamp"), "window", False),
    "dataframe_spine_window": (["user_profile:is_premium", "user_merchant_spend:spend"],
                               Spine("__sqlfeat_spine_0", "event_timestamp", row_id="__sqlfeat_row", rows=10), "window", False),
    "three_views_carry": (["user_clicks_30d:click_count", "user_profile:is_premium", "user_merchant_spend:spend"],
                          Spine("SELECT * FROM training_rows WHERE split = 'train'", "ts", is_query=True), "carry", True),
    "aggregates_carry": (["user_click_stats:clicks_30d", "user_click_stats:dwell_seconds_mean_7d",
                          "user_click_stats:category_last_1d"], Spine("entity_df", "event_timestamp"), "carry", False),
    "seed_lateral": (["user_clicks_30d:click_count", "user_clicks_30d:top_category"],
                     Spine("entity_df", "event_timestamp"), "lateral", False),
    "bounded_spine_carry": (["user_clicks_30d:click_count"],
                            Spine("__sqlfeat_spine_0", "event_timestamp", row_id="__sqlfeat_row", rows=10,
                                  bounds=(datetime(2024, 1, 1, tzinfo=timezone.utc), datetime(2024, 3, 1, tzinfo=timezone.utc))),
                            "carry", False),
}
DIALECTS = ["duckdb", "postgres", "bigquery", "snowflake", "spark"]
# ASOF JOIN is DuckDB's alone, the lateral strategy PostgreSQL's.
ABLE = {"asof": {"duckdb"}, "lateral": {"postgres"}}
PAIRS = [(d, c) for d in DIALECTS for c in sorted(CASES) if d in ABLE.get(CASES[c][2], {d})]


@pytest.mark.parametrize(("dialect_name", "case"), PAIRS)
def test_compiled_sql_matches_golden(dialect_name, case):
    features, spine, strategy, full_names = CASES[case]
    dialect = get_dialect(dialect_name)
    plan = plan_retrieval(features, views_for(dialect_name), ENTITIES, full_names)
    sql = dialect.render(compile_point_in_time(plan, spine, dialect, REPO, strategy)) + ";\n"
    # Emulators are permissive: every emitted statement must also parse in its own dialect at RAISE.
    sqlglot.parse(sql, read=dialect.SQLGLOT_DIALECT, error_level=ErrorLevel.RAISE)
    path = GOLDEN / dialect_name / f"{case}.sql"
    if os.environ.get("SQLFEAT_UPDATE_GOLDEN") or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sql)
        if not os.environ.get("SQLFEAT_UPDATE_GOLDEN"):
            pytest.fail(f"golden file {path} was missing and has been written; review and commit it")
    assert sql == path.read_text(), f"compiled SQL for {case} changed; rerun with SQLFEAT_UPDATE_GOLDEN=1 to accept"


def test_user_values_are_never_pasted_into_identifiers():
    nasty = FeatureView(
        name="v", entities=[user], schema=[Field(name="x", dtype=Int64)],
        source=FileSource(path="data/it's; DROP TABLE x.parquet", timestamp_field="event_time"),
    )
    dialect = get_dialect("duckdb")
    plan = plan_retrieval(["v:x"], {"v": nasty}, ENTITIES)
    sql = dialect.render(compile_point_in_time(plan, Spine('"my ""odd"" table"', "ts"), dialect, REPO))
    statements = sqlglot.parse(sql, read="duckdb", error_level=ErrorLevel.RAISE)
    assert len(statements) == 1
    assert "'/repo/data/it''s; DROP TABLE x.parquet'" in sql
    assert 'FROM "my ""odd"" table"' in sql
