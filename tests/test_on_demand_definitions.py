"""On-demand feature views as definitions: errors at definition and apply naming what is wrong,
the registry round trip (functions re-created from their source text), plan, compile."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from on_demand_defs import pandas_view, python_view, request, sql_view

from sqlfeat import Entity, FeatureStore, FeatureView, Field, FileSource, OnDemandFeatureView, on_demand_feature_view
from sqlfeat.definitions import RequestSource
from sqlfeat.errors import DefinitionError, UsageError
from sqlfeat.types import Float64, Int64

user = Entity(name="user", join_keys=["user_id"])
clicks = FeatureView(name="clicks", entities=[user], ttl=timedelta(days=30),
                     schema=[Field(name="clicks", dtype=Int64), Field(name="impressions", dtype=Int64)],
                     source=FileSource(path="data/clicks.parquet", timestamp_field="event_time"))  # fmt: skip


@pytest.fixture
def store(tmp_path):
    from conftest import write_repo

    source = pd.DataFrame({"user_id": [1], "event_time": pd.to_datetime(["2024-01-01"], utc=True), "clicks": [1],
                           "impressions": [2]})  # fmt: skip
    s = FeatureStore(repo_path=write_repo(tmp_path / "repo", {"clicks": source}))
    yield s
    s.close()


def expression_view(expression: str) -> OnDemandFeatureView:
    return OnDemandFeatureView(name="bad", sources=[clicks, request],
                               features=[Field(name="x", dtype=Float64, expression=expression)])  # fmt: skip


@pytest.mark.parametrize("expression, message", [
    ("clicks / impresions", "'impresions'.*Did you mean 'impressions'"),
    ("SUM(clicks)", "aggregates"),
    ("(SELECT 1) + clicks", "subqueries"),
    ("ROW_NUMBER() OVER (ORDER BY clicks)", "window"),
    ("clicks.clicks + 1", "view__feature"),
    ("clicks +", "not valid SQL"),
])  # fmt: skip
def test_bad_expressions_are_refused_at_apply(store, expression, message):
    with pytest.raises(DefinitionError, match=message):
        store.apply([user, clicks, expression_view(expression)])
    assert not store.registry.exists


def test_function_reading_an_unknown_name_is_refused_at_apply(store):
    @on_demand_feature_view(sources=[clicks, request], schema=[Field(name="y", dtype=Int64)], mode="python")
    def reads_typo(inputs):
        return {"y": inputs["bonsu"]}

    with pytest.raises(DefinitionError, match="'bonsu'.*Did you mean 'bonus'"):
        store.apply([user, clicks, reads_typo])


def test_lambdas_closures_and_unstorable_globals_are_named():
    with pytest.raises(DefinitionError, match="lambda"):
        on_demand_feature_view(sources=[clicks], schema=[Field(name="y", dtype=Int64)])(lambda df: df)
    local = 3

    def closure(df):
        return df * local

    with pytest.raises(DefinitionError, match="closure over \\['local'\\]"):
        on_demand_feature_view(sources=[clicks], schema=[Field(name="y", dtype=Int64)])(closure)
    with pytest.raises(DefinitionError, match="global 'clicks'"):
        on_demand_feature_view(sources=[clicks], schema=[Field(name="y", dtype=Int64)])(_uses_a_view)


def _uses_a_view(df):
    return clicks


def test_registry_round_trip_recreates_functions(store):
    views = [sql_view(clicks), pandas_view(clicks), python_view(clicks)]
    store.apply([user, clicks, *views])
    loaded = FeatureStore(repo_path=store.repo_path).registry.on_demand_feature_views()
    assert [loaded[v.name] for v in views] == views
    frame = pd.DataFrame({"clicks": pd.array([4], "Int64"), "impressions": pd.array([2], "Int64"), "bonus": pd.array([1], "Int64")})
    assert loaded["pandas_ratios"].function()(frame)["plus_pd"].tolist() == [5]
    assert loaded["python_plus"].function()({"clicks": [4], "bonus": [1]}) == {"plus_py": [5]}
    assert "SCALE" in dict(loaded["pandas_ratios"].udf_source.constants)


def test_plan_shows_added_and_changed_views(store):
    plan = store.apply([user, clicks, sql_view(clicks), python_view(clicks)])
    assert {(c.kind, c.name, c.action) for c in plan.changes} >= {
        ("on_demand_feature_views", "ratios", "add"), ("on_demand_feature_views", "python_plus", "add")}

    @on_demand_feature_view(sources=[clicks, request], schema=[Field(name="plus_py", dtype=Int64)], mode="python")
    def python_plus(inputs):
        return {"plus_py": [c for c in inputs["clicks"]]}

    changed = OnDemandFeatureView(name="ratios", sources=[clicks, request], schema=[
        Field(name="ctr", dtype=Float64, expression="clicks / (impressions + 1)")])  # fmt: skip
    plan = store.registry.plan(__import__("sqlfeat.repo", fromlist=["collect"]).collect([user, clicks, changed, python_plus]))
    described = "\n".join(c.describe() for c in plan.changes)
    assert "~ on-demand feature view python_plus\n    function source changed" in described
    assert "expression of ctr: 'clicks / impressions' -> 'clicks / (impressions + 1)'" in described
    assert "removes field half" in described


@pytest.mark.parametrize("dialect", ["duckdb"])  # the warehouse suite runs the SQL on every warehouse
def test_compile_puts_expressions_in_the_query(store, dialect):
    store.apply([user, clicks, sql_view(clicks)])
    sql = store.compile_historical_features(["ratios:ctr", "clicks:clicks"], spine="spine_table", dialect=dialect)
    assert "NULLIF(" in sql and '"ctr"' in sql.replace("`", '"')


def test_request_fields_need_an_entity_df(store):
    store.apply([user, clicks, sql_view(clicks)])
    with pytest.raises(UsageError, match="request field 'bonus'"):
        store.get_historical_features(features=["ratios:plus"], end_date=pd.Timestamp("2024-01-02", tz="UTC").to_pydatetime())


def test_definition_errors():
    with pytest.raises(DefinitionError, match="fields \\['b'\\] have no expression"):
        OnDemandFeatureView(name="v", sources=[clicks], schema=[Field(name="a", dtype=Int64, expression="clicks"),
                                                                 Field(name="b", dtype=Int64)])  # fmt: skip
    with pytest.raises(DefinitionError, match="neither a function nor expressions"):
        OnDemandFeatureView(name="v", sources=[clicks], schema=[Field(name="b", dtype=Int64)])
    with pytest.raises(DefinitionError, match="no schema"):
        RequestSource(name="r", schema=[])


REPO_FILE = '''
from datetime import timedelta
import pandas as pd
from sqlfeat import Entity, FeatureService, FeatureView, Field, FileSource, OnDemandFeatureView, RequestSource, on_demand_feature_view
from sqlfeat.types import Float64, Int64

user = Entity(name="user", join_keys=["user_id"])
clicks = FeatureView(name="clicks", entities=[user], ttl=timedelta(days=30),
                     schema=[Field(name="clicks", dtype=Int64), Field(name="impressions", dtype=Int64)],
                     source=FileSource(path="data/clicks.parquet", timestamp_field="event_time"))
request = RequestSource(name="request", schema=[Field(name="bonus", dtype=Int64)])
ratios = OnDemandFeatureView(name="ratios", sources=[clicks], description="click-through rate",
                             schema=[Field(name="ctr", dtype=Float64, expression="clicks / impressions")])

@on_demand_feature_view(sources=[clicks, request], schema=[Field(name="boosted", dtype=Int64)])
def boosted(inputs: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"boosted": inputs["clicks"] + inputs["bonus"]})

scoring = FeatureService(name="scoring", features=[clicks, ratios, boosted])
'''


def test_catalog_shows_on_demand_views_with_their_code(store):
    from sqlfeat.catalog import generate_catalog

    (store.repo_path / "features.py").write_text(REPO_FILE)
    index = generate_catalog(store)
    site = index.parent
    assert "on_demand/ratios.html" in index.read_text() and "on_demand/boosted.html" in index.read_text()
    function_page = (site / "on_demand" / "boosted.html").read_text()
    assert "boosted" in function_page and "inputs" in function_page and "pandas" in function_page
    expression_page = (site / "on_demand" / "ratios.html").read_text()
    assert "clicks / impressions" in expression_page and "click-through rate" in expression_page
    assert "../on_demand/ratios.html" in (site / "services" / "scoring.html").read_text()


def test_compile_from_definition_files_and_python_views_are_noted(store):
    (store.repo_path / "features.py").write_text(REPO_FILE)
    sql = store.compile_historical_features(["ratios:ctr", "boosted:boosted"], spine="spine_table")
    assert sql.startswith("-- on-demand feature view boosted (pandas function) is applied in Python")
    assert "NULLIF(" in sql


def test_check_plans_services_and_on_demand_views_as_apply_does(store):
    from sqlfeat.checks import plan

    (store.repo_path / "features.py").write_text(REPO_FILE)
    store.apply()
    results = plan.check(store, store.load_repo(), {}, allow_breaking=False)
    assert [r.message for r in results] == ["no changes: the registry matches the definitions"]
    (store.repo_path / "features.py").write_text(REPO_FILE.replace("clicks / impressions", "clicks / (impressions + 1)"))
    messages = [r.message for r in plan.check(store, store.load_repo(), {}, allow_breaking=False)]
    assert any(m.startswith("~ on-demand feature view ratios: expression of ctr") for m in messages), messages


def test_python_views_stay_out_of_warehouse_tables_and_singleton_mode(store):
    @on_demand_feature_view(sources=[clicks, request], schema=[Field(name="one", dtype=Int64)], mode="python", singleton=True)
    def per_row(inputs):
        return {"one": None if inputs["clicks"] is None else inputs["clicks"] + (inputs["bonus"] or 0)}

    store.apply([user, clicks, per_row, python_view(clicks)])
    spine = pd.DataFrame({"user_id": [1, 9], "event_timestamp": pd.Timestamp("2024-01-02", tz="UTC"), "bonus": [5, 1]})
    job = store.get_historical_features(spine, ["per_row:one", "python_plus:plus_py"], full_feature_names=True)
    frame = job.to_df()
    assert list(frame["per_row__one"].astype(object).where(frame["per_row__one"].notna(), None)) == [6, None]
    assert list(frame.columns) == ["user_id", "event_timestamp", "bonus", "per_row__one", "python_plus__plus_py"]
    with pytest.raises(UsageError, match="run in Python"):
        job.to_table("training")


def test_expressions_belong_to_on_demand_views():
    with pytest.raises(DefinitionError, match="expressions belong to on-demand"):
        FeatureView(name="v", entities=[user], source=clicks.source,
                    schema=[Field(name="x", dtype=Int64, expression="clicks + 1")])  # fmt: skip


def test_attribute_access_is_not_a_global():
    @on_demand_feature_view(sources=[clicks], schema=[Field(name="double", dtype=Int64)])
    def double(df: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"double": df.clicks * 2})  # `clicks` is also a global of this module: a view

    assert double.udf_source.imports == (("pd", "pandas", ""),)
    reloaded = OnDemandFeatureView.from_spec(double.to_spec())
    assert reloaded.function()(pd.DataFrame({"clicks": [2]}))["double"].tolist() == [4]


def test_sqlfeat_check_fails_an_expression_reading_an_unknown_feature(store):
    from sqlfeat.checks import definitions

    (store.repo_path / "features.py").write_text(REPO_FILE.replace("clicks / impressions", "clicks / impressionz"))
    _, results = definitions.validate(store.load_repo())
    assert [(r.status, r.view) for r in results] == [("fail", "ratios")] and "'impressionz'" in results[0].message


def test_feast_module_path_and_refused_options():
    from sqlfeat.on_demand_feature_view import on_demand_feature_view as feast_spelling

    assert feast_spelling is on_demand_feature_view
    with pytest.raises(DefinitionError, match="aggregations on on-demand views are not supported"):
        feast_spelling(sources=[clicks], schema=[Field(name="y", dtype=Int64)], aggregations=["x"])(_uses_a_view)
    with pytest.raises(DefinitionError, match="write_to_online_store and explode are not supported"):
        feast_spelling(sources=[clicks], schema=[Field(name="y", dtype=Int64)], write_to_online_store=True)(_uses_a_view)


def test_a_function_that_cannot_be_recreated_fails_only_where_used(store):
    import json

    store.apply([user, clicks, sql_view(clicks), python_view(clicks)])
    path = store.config.registry_path
    data = json.loads(path.read_text())
    data["on_demand_feature_views"]["python_plus"]["spec"]["udf"]["imports"] = [["zz", "no_such_module_zz", ""]]
    path.write_text(json.dumps(data))
    fresh = FeatureStore(repo_path=store.repo_path)
    spine = pd.DataFrame({"user_id": [1], "event_timestamp": pd.Timestamp("2024-01-02", tz="UTC"), "bonus": [1]})
    assert list(fresh.get_historical_features(spine, ["ratios:plus"]).to_df()["plus"]) == [2]
    with pytest.raises(DefinitionError, match="'python_plus'.*cannot be re-created from the registry.*no_such_module_zz"):
        fresh.get_historical_features(spine, ["python_plus:plus_py"]).to_df()
    fresh.close()
