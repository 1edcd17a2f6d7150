"""Every validation `apply` does names the offending view, source or column."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from sqlfeat import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
from sqlfeat.errors import DefinitionError, SchemaMismatchError
from sqlfeat.types import Bool, Float32, Float64, Int32, Int64, String

user = Entity(name="user_id", value_type=ValueType.INT64)


def clicks_view(**overrides) -> FeatureView:
    source = overrides.pop("source", None) or FileSource(
        path="data/clicks.parquet", timestamp_field="event_time", created_timestamp_column="created"
    )
    values = dict(
        name="user_clicks", entities=[user], ttl=timedelta(days=30), source=source,
        schema=[Field(name="click_count", dtype=Int64), Field(name="avg_dwell_seconds", dtype=Float32)],
    )
    values.update(overrides)
    return FeatureView(**values)


@pytest.fixture
def store(make_repo, clicks_frame):
    return FeatureStore(repo_path=make_repo({"clicks": clicks_frame}))


def test_valid_definitions_apply_and_persist(store):
    plan = store.apply([user, clicks_view()])
    assert [(c.kind, c.name, c.action) for c in plan.changes] == [
        ("entities", "user_id", "add"),
        ("data_sources", "data/clicks.parquet", "add"),
        ("feature_views", "user_clicks", "add"),
    ]
    store.refresh_registry()
    assert [v.name for v in store.list_feature_views()] == ["user_clicks"]
    assert store.get_feature_view("user_clicks") == clicks_view()


@pytest.mark.parametrize(
    ("view", "message"),
    [
        (clicks_view(schema=[Field(name="clicks", dtype=Int64)]), "'user_clicks'.*no column 'clicks' \\(feature 'clicks'\\)"),
        (clicks_view(schema=[Field(name="click_count", dtype=Bool)]), "feature 'click_count' is declared Bool but source column 'click_count' is BIGINT \\(Int64\\), which does not convert"),
        (clicks_view(schema=[Field(name="avg_dwell_seconds", dtype=Int32)]), "feature 'avg_dwell_seconds' is declared Int32 but source column 'avg_dwell_seconds' is REAL \\(Float32\\), which does not convert"),
        (clicks_view(schema=[Field(name="top_category", dtype=Int64)]), "feature 'top_category' is declared Int64 but source column 'top_category' is TEXT \\(String\\), which does not convert"),
        (clicks_view(source=FileSource(path="data/clicks.parquet", timestamp_field="ts")), "no column 'ts' \\(timestamp_field\\)"),
        (clicks_view(source=FileSource(path="data/clicks.parquet", timestamp_field="top_category")), "timestamp_field 'top_category' has type TEXT, not a timestamp"),
        (clicks_view(source=FileSource(path="data/clicks.parquet", timestamp_field="event_time", created_timestamp_column="made")), "no column 'made' \\(created_timestamp_column\\)"),
        (clicks_view(source=FileSource(path="data/missing.parquet", timestamp_field="event_time")), "source 'data/missing.parquet' cannot be read"),
        (clicks_view(entities=[Entity(name="merchant_id")]), "no column 'merchant_id' \\(join key of entity 'merchant_id'\\)"),
        (clicks_view(entities=[Entity(name="user_id", value_type=ValueType.BOOL)]), "join key 'user_id' is BIGINT in the source but entity 'user_id' declares Bool"),
    ],
)
def test_schema_problems_name_view_and_column(store, view, message):
    with pytest.raises(SchemaMismatchError, match=message):
        store.apply([view])
    assert not store.config.registry_path.exists(), "a failed apply must not write the registry"


def test_float64_accepts_float32_columns_without_loss(store):
    store.apply([clicks_view(schema=[Field(name="avg_dwell_seconds", dtype=Float64)])])


def test_unknown_entity_is_named(store):
    view = clicks_view(entities=["customer"])
    with pytest.raises(DefinitionError, match="'user_clicks' uses entity 'customer', which is not defined"):
        store.apply([view])


def test_two_different_views_with_one_name(make_repo, clicks_frame):
    repo = make_repo({"clicks": clicks_frame})
    (repo / "a.py").write_text(VIEW_FILE.format(ttl=1))
    (repo / "b.py").write_text(VIEW_FILE.format(ttl=2))
    with pytest.raises(DefinitionError, match="two different FeatureView definitions are named 'user_clicks'"):
        FeatureStore(repo_path=repo).apply()


def test_definition_file_errors_name_the_file_and_line(make_repo, clicks_frame):
    repo = make_repo({"clicks": clicks_frame})
    (repo / "broken.py").write_text("from sqlfeat import Entity\n\nuser = Entity(name='bad name')\n")
    with pytest.raises(DefinitionError, match="broken.py, line 3: entity name 'bad name' is not valid"):
        FeatureStore(repo_path=repo).apply()


VIEW_FILE = """
from datetime import timedelta
from sqlfeat import Entity, FeatureView, Field, FileSource
from sqlfeat.types import Int64

user = Entity(name="user_id")
user_clicks = FeatureView(
    name="user_clicks", entities=[user], ttl=timedelta(days={ttl}),
    schema=[Field(name="click_count", dtype=Int64)],
    source=FileSource(path="data/clicks.parquet", timestamp_field="event_time"),
)
"""


def test_repo_apply_removes_deleted_definitions(make_repo, clicks_frame):
    repo = make_repo({"clicks": clicks_frame})
    (repo / "defs.py").write_text(VIEW_FILE.format(ttl=1))
    store = FeatureStore(repo_path=repo)
    store.apply()
    (repo / "defs.py").write_text(VIEW_FILE.format(ttl=1).split("user_clicks =")[0])
    plan = store.apply()
    assert [(c.name, c.action) for c in plan.changes] == [
        ("data/clicks.parquet", "remove"), ("user_clicks", "remove")
    ]
    assert store.list_feature_views() == []


def test_naive_source_timestamps_are_taken_as_utc(make_repo, clicks_frame):
    naive = clicks_frame.assign(event_time=clicks_frame.event_time.dt.tz_localize(None))
    store = FeatureStore(repo_path=make_repo({"clicks": naive}))
    store.apply([user, clicks_view()])
    # 2024-01-02 12:00 UTC is 20:00 in Shanghai: user 2's row of that instant is visible then.
    spine = pd.DataFrame({
        "user_id": [2, 2],
        "event_timestamp": pd.to_datetime(["2024-01-02 20:00", "2024-01-02 19:59"]).tz_localize("Asia/Shanghai"),
    })
    result = store.get_historical_features(spine, ["user_clicks:click_count"]).to_df()
    assert result["click_count"].tolist()[0] == 5
    assert pd.isna(result["click_count"].tolist()[1])


def test_two_repos_in_one_process_never_share_their_sibling_modules(tmp_path):
    """Definition files import each other by plain names (``from features import clicks``): the
    second repo, and a repo whose file changed, must read their own files, not a cached module."""
    from sqlfeat.repo import load_definitions

    def write(root, ttl_days):
        root.mkdir(parents=True)
        (root / "features.py").write_text(
            "from datetime import timedelta\n"
            "from sqlfeat import Entity, FeatureView, Field, FileSource\n"
            "user = Entity(name='user_id')\n"
            f"clicks = FeatureView(name='clicks', entities=[user], ttl=timedelta(days={ttl_days}), schema=[Field(name='n', dtype='int64')],\n"
            "                      source=FileSource(path='data/c.parquet', timestamp_field='t'))\n"
        )
        (root / "services.py").write_text("from features import clicks\n\nalso = clicks\n")

    write(tmp_path / "a", 1)
    write(tmp_path / "b", 2)
    assert load_definitions(tmp_path / "a").feature_views[0].ttl.days == 1
    assert load_definitions(tmp_path / "b").feature_views[0].ttl.days == 2
    (tmp_path / "a" / "features.py").write_text((tmp_path / "a" / "features.py").read_text().replace("days=1", "days=3"))
    assert load_definitions(tmp_path / "a").feature_views[0].ttl.days == 3
    import sys

    assert "features" not in sys.modules, "nothing of a repo stays imported after its load"


def test_a_narrower_declared_dtype_is_cast_with_a_warning(store):
    # Feast's example repositories declare Int32 / Float32 over int64 / float64 columns.
    from sqlfeat.validation import DtypeNotice

    narrow = clicks_view(schema=[Field(name="click_count", dtype=Int32), Field(name="avg_dwell_seconds", dtype=Float32)])
    with pytest.warns(DtypeNotice, match="feature 'click_count' is declared Int32 but source column 'click_count' is BIGINT \\(Int64\\): narrowed to Int32") as caught:
        store.apply([user, narrow])
    assert len(caught) == 1, "Float32 over a REAL column reads it exactly"
    spine = pd.DataFrame({"user_id": [1, 2], "event_timestamp": pd.to_datetime(["2024-01-06", "2024-01-11"], utc=True)})
    job = store.get_historical_features(spine, ["user_clicks:click_count"])
    assert 'CAST("src"."click_count" AS INT)' in job.sql
    table = job.to_arrow()
    assert str(table.schema.field("click_count").type) == "int32" and table.column("click_count").to_pylist() == [21, 6]


def test_strict_makes_a_narrower_dtype_an_error(store):
    narrow = clicks_view(schema=[Field(name="click_count", dtype=Int32)])
    with pytest.raises(SchemaMismatchError, match="declared Int32 but source column 'click_count' is BIGINT \\(Int64\\).*strict_dtypes is on"):
        store.apply([user, narrow], strict=True)
    assert not store.config.registry_path.exists()


def test_strict_dtypes_in_the_config_and_on_the_command_line(make_repo, clicks_frame):
    from click.testing import CliRunner

    from sqlfeat.cli import cli

    repo = make_repo({"clicks": clicks_frame})
    (repo / "defs.py").write_text(VIEW_FILE.format(ttl=1).replace("dtype=Int64", "dtype=Int32").replace("Int64", "Int32"))
    applied = CliRunner().invoke(cli, ["--chdir", str(repo), "apply"])
    assert applied.exit_code == 0, applied.output
    assert "Warning: feature view 'user_clicks': source 'data/clicks.parquet': feature 'click_count' is declared Int32" in applied.output
    refused = CliRunner().invoke(cli, ["--chdir", str(repo), "apply", "--strict"])
    assert refused.exit_code == 1 and "strict_dtypes is on" in refused.output
    config = repo / "feature_store.yaml"
    config.write_text(config.read_text() + "strict_dtypes: true\n")
    with pytest.raises(SchemaMismatchError, match="strict_dtypes is on"):
        FeatureStore(repo_path=repo).plan()
    config.write_text(config.read_text().replace("strict_dtypes: true", "strict_dtypes: maybe"))
    bad = CliRunner().invoke(cli, ["--chdir", str(repo), "plan"])
    assert bad.exit_code == 2 and "`strict_dtypes` must be true or false, got 'maybe'" in bad.output


def test_schema_inference_leaves_out_keys_timestamps_internal_and_untyped_columns(make_repo, clicks_frame):
    from datetime import date

    from sqlfeat.validation import DtypeNotice

    frame = clicks_frame.rename(columns={"event_time": "ts", "click_count": "cc"}).assign(
        day=date(2024, 1, 1), __loaded_by="etl", batch__="b1", **{"dwell in s": 1.0},
    )
    store = FeatureStore(repo_path=make_repo({"clicks": frame}))
    source = FileSource(path="data/clicks.parquet", timestamp_field="event_time", created_timestamp_column="created",
                        field_mapping={"ts": "event_time", "cc": "click_count"})  # fmt: skip
    view = FeatureView(name="user_clicks", entities=[user], source=source)
    with pytest.warns(DtypeNotice) as caught:
        store.apply([user, view])
    notes = [str(w.message) for w in caught if w.category is DtypeNotice]
    assert notes[0] == ("feature view 'user_clicks': source column 'day' (DATE) is not inferred as a feature: no sqlfeat "
                        "dtype reads it; declare the schema to choose the features")  # fmt: skip
    assert notes[1].startswith("feature view 'user_clicks': source column 'dwell in s' (DOUBLE) is not inferred as a "
                               "feature: field name 'dwell in s' is not valid")  # fmt: skip
    assert len(notes) == 2
    inferred = {f.name: f.dtype.name for f in store.get_feature_view("user_clicks").schema}
    assert inferred == {"click_count": "Int64", "avg_dwell_seconds": "Float32", "top_category": "String"}


def test_a_view_with_nothing_to_infer_is_refused(make_repo, clicks_frame):
    store = FeatureStore(repo_path=make_repo({"clicks": clicks_frame[["user_id", "event_time", "created"]]}))
    view = clicks_view(schema=[])
    with pytest.raises(DefinitionError, match="'user_clicks' lists no features and its source 'data/clicks.parquet' has no other column"):
        store.apply([user, view])


def test_check_infers_the_schema_and_no_data_borrows_the_registered_one(make_repo, clicks_frame):
    from sqlfeat.checks import CheckOptions, run_checks

    repo = make_repo({"clicks": clicks_frame})
    text = VIEW_FILE.format(ttl=1).replace("schema=[Field(name=\"click_count\", dtype=Int64)],", "")
    (repo / "defs.py").write_text(text.replace('timestamp_field="event_time")', 'timestamp_field="event_time", created_timestamp_column="created")'))
    with FeatureStore(repo_path=repo) as store:
        run = run_checks(store, CheckOptions())
        assert run.exit_code == 0, [r.message for r in run.results if r.status != "pass"]
        compiled = (repo / "target" / "compiled" / "duckdb" / "user_clicks.sql").read_text()
        assert '"avg_dwell_seconds"' in compiled and '"top_category"' in compiled
        skipped = run_checks(store, CheckOptions(data=False))
        assert [r.message for r in skipped.results if r.skipped][0].startswith("feature view 'user_clicks': lists no features")
        store.apply()
        borrowed = run_checks(store, CheckOptions(data=False))
        assert not [r for r in borrowed.results if r.status != "pass"], [r.message for r in borrowed.results]
