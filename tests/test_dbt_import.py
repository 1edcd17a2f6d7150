"""`sqlfeat dbt import` on the manifest a real `dbt parse` writes for a small dbt project: a
generated definition file (source on the model's relation, features from its columns, dtypes from
their types), replaced on re-import, never over a hand-written file; `plan` shows the change.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml
from click.testing import CliRunner
from conftest import write_repo
from test_dbt_export import run_dbt

from sqlfeat import FeatureStore
from sqlfeat.cli import cli
from sqlfeat.dbt.import_ import HEADER
from sqlfeat.types import Float64, Int64, String

HAND = "from sqlfeat import Entity, ValueType\nteam = Entity(name='team_id', value_type=ValueType.INT64)\n"
MODEL_SQL = "select cast(1 as bigint) as user_id, timestamp '2024-03-01' as event_time, 2 as clicks"


def schema_yaml(extra_column: bool) -> dict:
    columns = [
        {"name": "user_id", "data_type": "bigint"}, {"name": "event_time", "data_type": "timestamp"},
        {"name": "clicks", "data_type": "bigint"}, {"name": "dwell", "data_type": "double"},
    ]  # fmt: skip
    if extra_column:
        columns.append({"name": "tier"})  # no declared type: catalog.json gives it
    meta = {"sqlfeat": {"join_keys": ["user_id"], "timestamp_field": "event_time", "ttl_seconds": 86400}}
    return {"version": 2, "models": [
        {"name": "user_events", "config": {"tags": ["features"], "meta": meta}, "columns": columns},
        {"name": "team_stats", "config": {"tags": ["features"], "meta": {"sqlfeat": {
            "entities": ["team_id"], "exclude": ["team_id"], "timestamp_field": "ts"}}},  # a hand-written entity
         "columns": [{"name": "team_id", "data_type": "bigint"}, {"name": "ts", "data_type": "timestamp"},
                     {"name": "score", "data_type": "double"}]},
        {"name": "scratch", "columns": [{"name": "x", "data_type": "integer"}]},
    ]}  # fmt: skip


@pytest.fixture
def dbt_project(tmp_path) -> Path:
    project = tmp_path / "analytics"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(yaml.safe_dump(
        {"name": "analytics", "version": "1.0.0", "config-version": 2, "profile": "analytics"}
    ))  # fmt: skip
    profile = {"type": "duckdb", "path": str(tmp_path / "warehouse.duckdb"), "schema": "main", "threads": 1}
    (project / "profiles.yml").write_text(yaml.safe_dump({"analytics": {"target": "test", "outputs": {"test": profile}}}))
    (project / "models" / "user_events.sql").write_text(MODEL_SQL)
    (project / "models" / "scratch.sql").write_text("select 1 as x")
    (project / "models" / "team_stats.sql").write_text("select 1 as team_id, timestamp '2024-03-01' as ts, 1.5 as score")
    (project / "models" / "schema.yml").write_text(yaml.safe_dump(schema_yaml(False)))
    return project


def import_(repo: Path, manifest: Path, *args: str):
    return CliRunner().invoke(cli, ["--chdir", str(repo), "dbt", "import", "--manifest", str(manifest), *args])


def test_import_a_parsed_dbt_project_then_plan_shows_the_change(dbt_project, tmp_path):
    database = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(database)) as connection:  # what `dbt build` would create
        connection.execute("CREATE TABLE main.user_events (user_id BIGINT, event_time TIMESTAMP, clicks BIGINT, "
                           "dwell DOUBLE, tier VARCHAR)")  # fmt: skip
        connection.execute("INSERT INTO main.user_events VALUES (1, TIMESTAMP '2024-03-01', 2, 1.5, 'a')")
        connection.execute("CREATE TABLE main.team_stats AS SELECT 7 AS team_id, TIMESTAMP '2024-03-01' AS ts, 1.5 AS score")
    repo = write_repo(tmp_path / "repo", offline_store={"type": "duckdb", "database": str(database)})
    hand = repo / "hand_written.py"
    hand.write_text(HAND)
    run_dbt(dbt_project, "parse")
    manifest = dbt_project / "target" / "manifest.json"

    result = import_(repo, manifest, "--select", "tag:features")
    assert result.exit_code == 0, result.output
    generated = repo / "dbt_models.py"
    assert generated.read_text().startswith(HEADER)
    store = FeatureStore(repo_path=repo)
    view = {v.name: v for v in store.load_repo().feature_views}["user_events"]
    assert [(f.name, f.dtype) for f in view.schema] == [("clicks", Int64), ("dwell", Float64)]
    assert view.ttl.total_seconds() == 86400 and view.source.timestamp_field == "event_time"
    assert view.source.table == '"warehouse"."main"."user_events"'
    team = {v.name: v for v in store.load_repo().feature_views}["team_stats"]
    assert team.entities == ("team_id",) and [(f.name, f.dtype) for f in team.schema] == [("score", Float64)]
    with store:
        store.apply()
        spine = "SELECT 1 AS user_id, TIMESTAMP '2024-03-01 01:00' AS event_timestamp"
        assert store.get_historical_features(entity_df=spine, features=["user_events:clicks"]).to_df()["clicks"].tolist() == [2]

    (dbt_project / "models" / "schema.yml").write_text(yaml.safe_dump(schema_yaml(True)))
    run_dbt(dbt_project, "docs", "generate")  # a new manifest, and catalog.json: the warehouse's column types
    assert (manifest.parent / "catalog.json").exists()
    result = import_(repo, manifest, "--select", "tag:features")
    assert result.exit_code == 0, result.output
    with FeatureStore(repo_path=repo) as again:
        plan = again.plan()
    assert [c.name for c in plan.changes] == ["user_events"]
    view = {v.name: v for v in store.load_repo().feature_views}["user_events"]
    assert [(f.name, f.dtype) for f in view.schema] == [("clicks", Int64), ("dwell", Float64), ("tier", String)]
    assert hand.read_text() == HAND

    site = tmp_path / "catalog"  # lineage: dbt model -> source -> view
    result = CliRunner().invoke(cli, ["--chdir", str(repo), "docs", "generate", "--output", str(site), "--manifest", str(manifest)])
    assert result.exit_code == 0, result.output
    page = (site / "views" / "user_events.html").read_text()
    assert "<h3>dbt model</h3>" in page and "model.analytics.user_events" in page

    result = import_(repo, manifest, "--select", "tag:features", "--out", "hand_written.py")
    assert result.exit_code != 0 and "sqlfeat did not write it" in result.output
    assert hand.read_text() == HAND

    result = import_(repo, manifest, "--select", "scratch")
    assert result.exit_code != 0 and "needs join keys and a timestamp field" in result.output
