"""Feature services in the registry (apply, plan, delete), listing with Feast's tag filter, the
CLI's --feature-service / --start-date, and `sqlfeat compile` straight from the definition files."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import write_repo

from sqlfeat import Entity, FeatureService, FeatureStore, FeatureView, Field, FileSource, ValueType
from sqlfeat.cli import cli
from sqlfeat.errors import DefinitionError, FeatureReferenceError
from sqlfeat.types import Float64, Int64, String

CLICKS = pd.DataFrame({
    "user_id": [1, 1, 2], "event_time": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-02"], utc=True),
    "clicks": [1, 2, 3], "dwell": [1.5, 2.5, 3.5], "category": ["a", "b", "c"],
})  # fmt: skip

DEFINITIONS = """
from datetime import timedelta
from sqlfeat import Aggregation, Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from sqlfeat.types import Float64, Int64

user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)
source = FileSource(path="data/clicks.parquet", timestamp_field="event_time")
clicks = FeatureView(name="clicks", entities=[user], ttl=timedelta(days=30), source=source, tags={"team": "growth"},
                     schema=[Field(name="clicks", dtype=Int64), Field(name="dwell", dtype=Float64)])
ranking = FeatureService(name="ranking", features=[clicks[["clicks"]]], tags={"team": "growth"}, owner="ml@x")
"""


def run(repo: Path, *args: str, code: int = 0, stdout: bool = False) -> str:
    result = CliRunner().invoke(cli, ["--chdir", str(repo), *args])
    assert result.exit_code == code, result.output
    return result.stdout if stdout else result.output


@pytest.fixture
def repo(tmp_path) -> Path:
    root = write_repo(tmp_path / "repo", {"clicks": CLICKS})
    (root / "features.py").write_text(DEFINITIONS)
    return root


USER = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)


def _view(**kwargs) -> FeatureView:
    schema = kwargs.pop("schema", [Field(name="clicks", dtype=Int64), Field(name="dwell", dtype=Float64)])
    return FeatureView(name="clicks", entities=[USER], schema=schema,
                       source=FileSource(path="data/clicks.parquet", timestamp_field="event_time"), **kwargs)  # fmt: skip


def test_apply_registers_a_service_with_its_features_listed(repo):
    plan = FeatureStore(repo_path=repo).plan()
    assert "+ feature service ranking" in [c.describe() for c in plan.changes]
    store = FeatureStore(repo_path=repo)
    store.apply()
    record = store.registry.record("feature_services", "ranking")
    assert record["spec"]["features"][0]["features"] == ["clicks"] and record["fingerprint"]
    service = store.get_feature_service("ranking")
    assert service.owner == "ml@x" and service.feature_view_projections[0].features == ("clicks",)
    # a service of a whole view lists the view's features at apply, and the plan says when they change
    (repo / "features.py").write_text(DEFINITIONS.replace("features=[clicks[[\"clicks\"]]]", "features=[clicks]"))
    assert [c.describe() for c in FeatureStore(repo_path=repo).plan().changes] == [
        "~ feature service ranking\n    serves clicks:dwell"
    ]
    FeatureStore(repo_path=repo).apply()
    (repo / "features.py").write_text(DEFINITIONS.replace("features=[clicks[[\"clicks\"]]]", "features=[clicks]").replace(
        'Field(name="dwell", dtype=Float64)', 'Field(name="dwell", dtype=Float64), Field(name="category", dtype="string")'))
    changes = [c.describe() for c in FeatureStore(repo_path=repo).plan().changes]
    assert "~ feature service ranking\n    serves clicks:category" in changes
    (repo / "features.py").write_text(DEFINITIONS.split("ranking =")[0])
    assert "- feature service ranking" in [c.describe() for c in FeatureStore(repo_path=repo).plan().changes]


def test_deleting_a_view_a_service_uses_is_an_error_naming_both(repo):
    store = FeatureStore(repo_path=repo)
    store.apply()
    before = store.registry.path.read_text()
    (repo / "features.py").write_text(DEFINITIONS.replace('clicks = FeatureView(name="clicks"', 'clicks_v2 = FeatureView(name="clicks_v2"')
                                      .replace("features=[clicks[[", "features=[clicks_v2[["))
    FeatureStore(repo_path=repo).apply()  # renaming both is fine
    store = FeatureStore(repo_path=repo)
    service = store.get_feature_service("ranking")
    with pytest.raises(DefinitionError, match="feature service 'ranking' uses feature view 'clicks_v2', which this apply deletes"):
        store.apply(objects=[], objects_to_delete=[store.get_feature_view("clicks_v2")])
    assert store.get_feature_view("clicks_v2") and service == store.get_feature_service("ranking")
    (repo / "features.py").write_text(DEFINITIONS.split("clicks = FeatureView(")[0] + "\nranking = FeatureService(name='ranking', features=[])\n")
    with pytest.raises(DefinitionError, match="non-empty list"):
        FeatureStore(repo_path=repo).plan()
    assert before  # the first registry was written; a refused apply wrote nothing after it


def test_a_service_of_an_undefined_view_is_refused_at_apply(make_repo):
    store = FeatureStore(repo_path=make_repo({"clicks": CLICKS}))
    view = _view()
    with pytest.raises(DefinitionError, match="feature service 's' uses feature view 'clicks', which is not defined"):
        store.apply([USER, FeatureService(name="s", features=[view])])
    store.apply([USER, view])
    with pytest.raises(DefinitionError, match="feature service 's' uses feature view 'clicks', which has no feature 'x'"):
        store.apply([FeatureService(name="s", features=[view.unprojected()._projected(features=("x",))])])
    store.apply([FeatureService(name="s", features=[view])])  # a partial apply finds the registered view
    assert [s.name for s in store.list_feature_services()] == ["s"]


def test_tag_filters_are_feasts(make_repo):
    store = FeatureStore(repo_path=make_repo({"clicks": CLICKS}))
    tagged = _view(tags={"team": "growth", "tier": "1"})
    other = FeatureView(name="other", entities=[USER], schema=[Field(name="category", dtype=String)], tags={"team": "ads"},
                        source=FileSource(path="data/clicks.parquet", timestamp_field="event_time"))  # fmt: skip
    service = FeatureService(name="s", features=[tagged], tags={"team": "growth"})
    store.apply([USER, tagged, other, service])
    names = lambda views: sorted(v.name for v in views)  # noqa: E731
    assert names(store.list_feature_views()) == names(store.list_feature_views(tags={})) == ["clicks", "other"]
    assert names(store.list_feature_views(tags={"team": "growth"})) == ["clicks"]
    assert names(store.list_feature_views(tags={"team": "growth", "tier": "2"})) == []
    assert names(store.list_feature_views(tags={"missing": ""})) == []
    assert names(store.list_feature_services(tags={"team": "growth"})) == ["s"]
    assert names(store.list_feature_services(tags={"team": "ads"})) == []
    with pytest.raises(FeatureReferenceError, match="feature service 'nope' is not registered; registered: \\['s'\\]"):
        store.get_feature_service("nope")


def test_cli_takes_a_feature_service_and_a_time_range(repo, tmp_path):
    run(repo, "apply")
    listed = run(repo, "list", "--tags", "team:growth")
    assert "ranking" in listed and "clicks:clicks" in listed
    assert "ranking" not in run(repo, "list", "--tags", "team:ads")
    sql = run(repo, "compile", "--feature-service", "ranking", "--start-date", "2024-01-01", "--end-date", "2024-01-02")
    assert "2024-01-01 00:00:00" in sql and '"dwell"' not in sql
    out = tmp_path / "train.parquet"
    said = run(repo, "get-historical-features", "--feature-service", "ranking", "--start-date", "2024-01-01",
               "--end-date", "2024-01-03", "-o", str(out))  # fmt: skip
    assert "Wrote 3 rows x 3 columns" in said
    frame = pd.read_parquet(out)
    assert list(frame.columns) == ["user_id", "event_timestamp", "clicks"] and frame["clicks"].tolist() == [1, 3, 2]
    run(repo, "materialize-incremental", "2024-01-04")
    online = json.loads(run(repo, "get-online-features", "--feature-service", "ranking", "-e", "user_id=1", stdout=True))
    assert list(online) == ["user_id", "clicks", "clicks__status"] and online["user_id"] == [1]  # not dwell
    assert "one of them" in run(repo, "compile", "-f", "clicks:clicks", "--feature-service", "ranking", code=2)
    assert "one of them" in run(repo, "get-historical-features", "-f", "clicks:clicks", "-o", str(out), code=2)
    assert "not registered" in run(repo, "compile", "--feature-service", "nope", code=2)


def test_compile_needs_no_registry_and_no_credentials(repo, monkeypatch):
    monkeypatch.delenv("SQLFEAT_TEST_UNSET_PASSWORD", raising=False)
    config = repo / "feature_store.yaml"
    config.write_text(config.read_text().replace("  type: duckdb\n", "  type: duckdb\n  database: ${SQLFEAT_TEST_UNSET_PASSWORD}\n"))
    sql = run(repo, "compile", "-f", "clicks:clicks,clicks:dwell", "--dialect", "duckdb")
    assert 'AS "dwell"' in sql and "read_parquet" in sql.lower()
    explained = run(repo, "compile", "--feature-service", "ranking", "--explain")
    assert explained.startswith("-- clicks (lookup)") and 'AS "clicks"' in explained and '"dwell"' not in explained
    assert not (repo / "data" / "registry.json").exists()
    # commands that connect still need the variable, and say so
    assert "SQLFEAT_TEST_UNSET_PASSWORD" in run(repo, "apply", code=2)


def test_compile_from_definitions_types_aggregates_from_an_unchanged_registry(repo):
    events = repo / "events.py"
    events.write_text(textwrap.dedent("""
        from datetime import timedelta
        from sqlfeat import Aggregation, FeatureView, FileSource
        from features import user
        stats = FeatureView(name="stats", entities=[user], aggregations=[Aggregation("dwell", "sum", timedelta(days=7))],
                            source=FileSource(path="data/clicks.parquet", timestamp_field="event_time"))
    """))
    failed = run(repo, "compile", "-f", "stats:dwell_sum_7d", code=1)
    assert "'stats'" in failed and "inferred from the source when the view is applied" in failed
    run(repo, "apply")
    from_files = run(repo, "compile", "-f", "stats:dwell_sum_7d", "--from-definitions")
    assert "SUM(" in from_files.upper() and "DOUBLE" in from_files.upper()
    events.write_text(events.read_text().replace('"sum"', '"max"'))  # changed since apply: not typed
    assert "run `sqlfeat apply` first" in run(repo, "compile", "-f", "stats:dwell_max_7d", "--from-definitions", code=1)
    assert "SUM(" in run(repo, "compile", "-f", "stats:dwell_sum_7d").upper()  # the registry, as applied


def test_a_registry_written_before_feature_services_still_loads(repo):
    store = FeatureStore(repo_path=repo)
    store.apply()
    data = json.loads(store.registry.path.read_text())
    del data["feature_services"], data["saved_datasets"]
    store.registry.path.write_text(json.dumps(data))
    store = FeatureStore(repo_path=repo)
    assert [v.name for v in store.list_feature_views()] == ["clicks"] and store.list_feature_services() == []
    assert [c.describe() for c in store.plan().changes] == ["+ feature service ranking"]
