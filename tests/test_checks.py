"""`sqlfeat check`: a clean repo passes every check; each failure mode fails exactly its check,
with a message naming the view and the column."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
from conftest import record_materialization
from click.testing import CliRunner

from sqlfeat import FeatureStore
from sqlfeat.checks import CheckOptions, run_checks
from sqlfeat.cli import cli

NOW = datetime(2024, 2, 1, tzinfo=timezone.utc)

DEFINITIONS = '''\
from datetime import timedelta
from sqlfeat import Entity, FeatureView, Field, FileSource, ValueType
from sqlfeat.types import Bool, Float32, Float64, Int32, Int64, String

user = Entity(name="user_id", value_type=ValueType.INT64)
clicks = FileSource(path="data/clicks.parquet", timestamp_field="event_time", created_timestamp_column="created")

user_clicks = FeatureView(
    name="user_clicks",
    entities=[user],
    ttl=timedelta(days={ttl}),
    source=clicks,
    schema=[
        Field(name="click_count", dtype={click_count}),
        Field(name="avg_dwell_seconds", dtype=Float32),
        {extra_field}
    ],
    {extra}
)
'''


def definitions(ttl: int = 30, click_count: str = "Int64", extra_field: str = 'Field(name="top_category", dtype=String),',
                extra: str = "") -> str:
    return DEFINITIONS.format(ttl=ttl, click_count=click_count, extra_field=extra_field, extra=extra)


@pytest.fixture
def repo(make_repo, clicks_frame):
    """A repo whose definitions live in a file, as `sqlfeat check` reads them."""

    def build(frame: pd.DataFrame | None = None, text: str | None = None) -> Path:
        root = make_repo({"clicks": clicks_frame if frame is None else frame})
        (root / "features.py").write_text(definitions() if text is None else text)
        return root

    return build


def check(root: Path, **options):
    options.setdefault("now", NOW)
    with FeatureStore(repo_path=root) as store:
        return run_checks(store, CheckOptions(**options))


def not_passing(run) -> dict[str, list]:
    found: dict[str, list] = {}
    for result in run.results:
        if result.status != "pass":
            found.setdefault(result.unique_id, []).append(result)
    return found


def only_failure(run, check_name: str):
    failed = [r for r in run.results if r.status == "fail"]
    assert [r.check for r in failed] == [check_name], [r.message for r in failed]
    assert run.exit_code == 1
    return failed[0]


def test_a_clean_repo_passes_every_check(repo):
    root = repo()
    run = check(root)
    assert not not_passing(run), [r.message for r in run.results if r.status != "pass"]
    assert run.exit_code == 0
    checks = {r.check for r in run.results}
    assert checks == {
        "definitions", "schema", "compile", "snapshot", "keys_not_null", "unique_rows", "timestamps_not_future",
        "timestamps_utc", "freshness", "leakage", "plan",
    }
    sql = (root / "target" / "compiled" / "duckdb" / "user_clicks.sql").read_text()
    assert "ASOF LEFT JOIN" in sql and "read_parquet('data/clicks.parquet')".upper() in sql.upper()
    assert str(root) not in sql, "snapshots must not depend on where the repo is checked out"
    results = json.loads((root / "target" / "run_results.json").read_text())
    assert results["summary"] == {"pass": len(run.results), "warn": 0, "fail": 0}
    leakage = next(r for r in results["results"] if r["check"] == "leakage")
    assert leakage["data"]["spine_rows"] > 10 and "asof and carry and window" in leakage["message"]
    assert not (root / "data" / "registry.json").exists(), "check must not write the registry"


def test_definitions_that_do_not_load_fail_with_file_and_line(repo):
    root = repo(text=definitions() + "\nbroken = FeatureView(name='x', source=None)\n")
    run = check(root)
    failure = only_failure(run, "definitions")
    assert failure.file.endswith("features.py") and failure.line == len(definitions().splitlines()) + 2
    assert "source must be a data source" in failure.message


def test_a_view_naming_an_undefined_entity_fails_definitions(repo):
    root = repo(text=definitions() + '''
orphan = FeatureView(name="orphan_view", entities=["merchant_id"], source=clicks,
                     schema=[Field(name="click_count", dtype=Int64)])
''')
    failure = only_failure(check(root), "definitions")
    assert failure.view == "orphan_view" and "'merchant_id', which is not defined" in failure.message


def test_a_declared_dtype_that_cannot_read_the_warehouse_column_fails_schema(repo):
    failure = only_failure(check(repo(text=definitions(click_count="Bool"))), "schema")
    assert failure.view == "user_clicks" and failure.column == "click_count"
    assert "feature 'click_count' is declared Bool but source column 'click_count' is BIGINT (Int64), which does not convert" in failure.message


def test_a_narrower_declared_dtype_warns_and_fails_when_strict(repo):
    # Feast's example repositories declare Int32 over int64 columns: cast, with a warning.
    root = repo(text=definitions(click_count="Int32"))
    run = check(root)
    (warned,) = not_passing(run)["dtypes.user_clicks.click_count"]
    assert warned.status == "warn" and run.exit_code == 0
    assert "feature 'click_count' is declared Int32 but source column 'click_count' is BIGINT (Int64): narrowed" in warned.message
    assert only_failure(check(root, strict=True), "dtypes").column == "click_count"
    assert invoke(root, "--strict").exit_code == 1 and invoke(root).exit_code == 0
    config = root / "feature_store.yaml"
    config.write_text(config.read_text() + "strict_dtypes: true\n")
    assert only_failure(check(root), "dtypes").view == "user_clicks"


def test_a_view_its_warehouse_cannot_read_fails_compile(repo):
    text = definitions().replace(
        'FileSource(path="data/clicks.parquet",', 'BigQuerySource(table="analytics.clicks",'
    ).replace("FileSource, ValueType", "FileSource, BigQuerySource, ValueType")
    failure = only_failure(check(repo(text=text), data=False), "compile")
    assert (failure.view, failure.dialect) == ("user_clicks", "duckdb")
    assert "BigQuerySource, which the duckdb warehouse cannot read" in failure.message


def test_sql_that_does_not_parse_back_fails_compile(repo, monkeypatch):
    from sqlfeat.warehouses.duckdb import DuckDBDialect

    monkeypatch.setattr(DuckDBDialect, "render", lambda self, expression, pretty=True: "SELECT (((")
    failure = only_failure(check(repo(), data=False), "compile")
    assert failure.view == "user_clicks" and "point-in-time join, strategy asof" in failure.message


def test_other_dialects_that_cannot_read_the_source_are_skipped_as_warnings(repo):
    run = check(repo(), dialects=("all",), data=False)
    skipped = [r for r in run.results if r.check == "compile" and r.status == "warn"]
    assert sorted(r.dialect for r in skipped) == ["bigquery", "postgres", "snowflake"]
    assert all(r.skipped and "source kind 'file' (FileSource) is not readable by" in r.message for r in skipped)
    assert run.exit_code == 0


def test_changed_sql_is_shown_as_a_diff_against_the_state(repo, tmp_path):
    root = repo()
    check(root, data=False)
    state = tmp_path / "main-target"
    shutil.copytree(root / "target", state)
    (root / "features.py").write_text(definitions(ttl=7))
    run = check(root, data=False, state=state)
    (changed,) = [r for r in run.results if r.check == "snapshot" and r.status == "warn"]
    assert (changed.view, changed.dialect) == ("user_clicks", "duckdb")
    assert "-" in changed.details and "INTERVAL '2592000' SECOND" in changed.details
    assert "+" in changed.details and "INTERVAL '604800' SECOND" in changed.details
    assert run.exit_code == 0
    assert check(root, data=False, state=state, warn_error=True).exit_code == 1
    # Without --state the baseline is the target/ already there (the previous run's).
    rerun = check(root, data=False)
    assert [r.message for r in rerun.results if r.check == "snapshot"] == ["compiled SQL unchanged"]


def test_null_join_keys_fail_keys_not_null(repo, clicks_frame):
    frame = clicks_frame.astype({"user_id": "Int64"})
    frame.loc[5, "user_id"] = None
    failure = only_failure(check(repo(frame)), "keys_not_null")
    assert failure.view == "user_clicks" and failure.column == "user_id"
    assert "join key 'user_id' is null in 1 of 6 rows" in failure.message


def test_duplicate_event_rows_fail_unique_rows(repo, clicks_frame):
    frame = pd.concat([clicks_frame, clicks_frame.iloc[[3]]], ignore_index=True)
    failure = only_failure(check(repo(frame)), "unique_rows")
    assert failure.view == "user_clicks" and failure.column == "event_time"
    assert "1 (user_id, event_time, created) combinations" in failure.message and "user_id=2" in failure.message


def test_event_times_in_the_future_fail(repo, clicks_frame):
    frame = clicks_frame.copy()
    frame.loc[3, ["event_time", "created"]] = pd.Timestamp("2030-01-01", tz="UTC")
    failure = only_failure(check(repo(frame)), "timestamps_not_future")
    assert failure.view == "user_clicks" and failure.column == "event_time"
    assert "1 rows have 'event_time' after now" in failure.message


def test_naive_timestamp_columns_are_flagged(repo, clicks_frame):
    frame = clicks_frame.assign(
        event_time=clicks_frame["event_time"].dt.tz_localize(None), created=clicks_frame["created"].dt.tz_localize(None)
    )
    run = check(repo(frame))
    flagged = [r for r in run.results if r.status != "pass"]
    assert {(r.check, r.status, r.view, r.column) for r in flagged} == {
        ("timestamps_utc", "warn", "user_clicks", "event_time"),
        ("timestamps_utc", "warn", "user_clicks", "created"),
    }
    assert "timestamp without time zone; sqlfeat reads it as UTC" in flagged[0].message
    assert run.exit_code == 0


@pytest.mark.parametrize(
    ("now", "status", "words"),
    [
        (datetime(2024, 1, 10, 12, tzinfo=timezone.utc), "pass", "12h old (within 1d)"),
        (datetime(2024, 1, 12, tzinfo=timezone.utc), "warn", "2d old; warn_after is 1d"),
        (datetime(2024, 2, 1, tzinfo=timezone.utc), "fail", "22d old; error_after is 7d"),
    ],
)
def test_freshness_warns_then_fails(repo, now, status, words):
    text = definitions(extra="freshness_warn_after=timedelta(days=1), freshness_error_after=timedelta(days=7),")
    run = check(repo(text=text), now=now)
    (freshness,) = [r for r in run.results if r.check == "freshness"]
    assert (freshness.status, freshness.column) == (status, "event_time")
    assert words in freshness.message and "2024-01-10 00:00:00 UTC" in freshness.message
    assert freshness.data["newest_event"] == "2024-01-10T00:00:00+00:00"
    if status == "fail":
        assert only_failure(run, "freshness").message.startswith("feature view 'user_clicks': ")


def test_a_point_in_time_join_that_leaks_fails_leakage(repo, monkeypatch):
    """Simulate pitfall 1 in the compiler: spine times taken 8 hours late (local time read as UTC)."""
    from sqlglot import exp

    import sqlfeat.retrieval
    from sqlfeat.compiler.plan import ROW_ID

    original = sqlfeat.retrieval.compile_point_in_time

    def shifted(plan, spine, dialect, repo_path, strategy="auto", **choice):
        time = exp.column(spine.timestamp_column, quoted=True)
        late = exp.Add(this=time, expression=exp.Interval(this=exp.Literal.string("8"), unit=exp.var("HOUR")))
        keys = [exp.column(k, quoted=True) for k in plan.join_keys]
        query = exp.select(exp.column(ROW_ID, quoted=True), *keys, exp.alias_(late, spine.timestamp_column, quoted=True))
        query = query.from_(exp.to_table(spine.relation))
        return original(plan, replace(spine, relation=query.sql("duckdb"), is_query=True), dialect, repo_path, strategy, **choice)

    monkeypatch.setattr(sqlfeat.retrieval, "compile_point_in_time", shifted)
    failure = only_failure(check(repo()), "leakage")
    assert failure.view == "user_clicks" and failure.column == "click_count"
    assert "uses rows with event time after the row's time: the point-in-time join leaks future data" in failure.message
    assert "for user_id=2 at 2024-01-09 23:59:59.999999 UTC (strategy asof) returned 6" in failure.message


def test_windowed_aggregations_are_checked_for_leakage_too(repo):
    text = definitions() + '''
from sqlfeat import Aggregation
clicks_window = FeatureView(
    name="clicks_window", entities=[user], source=clicks,
    aggregations=[Aggregation("click_count", "sum", timedelta(days=5)), Aggregation("click_count", "count", timedelta(days=2)),
                  Aggregation("avg_dwell_seconds", "max", timedelta(days=5)), Aggregation("top_category", "last", timedelta(days=5))],
)
'''
    run = check(repo(text=text))
    (leakage,) = [r for r in run.results if r.check == "leakage" and r.view == "clicks_window"]
    assert leakage.status == "pass", leakage.message
    assert run.exit_code == 0, [r.message for r in run.results if r.status != "pass"]


def _apply_and_materialize(root: Path) -> None:
    with FeatureStore(repo_path=root) as store:
        store.apply()
        record_materialization(store, "user_clicks", "2024-01-10T00:00:00+00:00")


def test_removing_a_field_of_a_materialized_view_fails_plan(repo):
    root = repo()
    _apply_and_materialize(root)
    (root / "features.py").write_text(definitions(extra_field=""))
    failure = only_failure(check(root), "plan")
    assert failure.view == "user_clicks" and failure.column == "top_category"
    assert "removes field top_category (String)" in failure.message
    assert "re-materialize user_clicks after apply" in failure.message and "--allow-breaking" in failure.message
    assert failure.data == {"rematerialize": ["user_clicks"]}
    allowed = check(root, allow_breaking=True)
    assert allowed.exit_code == 0
    (warned,) = [r for r in allowed.results if r.check == "plan"]
    assert warned.status == "warn" and "--allow-breaking" not in warned.message


def test_retyping_a_field_fails_plan_only_when_the_view_has_online_data(repo):
    root = repo()
    with FeatureStore(repo_path=root) as store:
        store.apply()
    (root / "features.py").write_text(definitions().replace("avg_dwell_seconds\", dtype=Float32", "avg_dwell_seconds\", dtype=Float64"))
    run = check(root)
    assert run.exit_code == 0
    (change,) = [r for r in run.results if r.check == "plan"]
    assert "retypes field avg_dwell_seconds: Float32 -> Float64" in change.message
    with FeatureStore(repo_path=root) as store:
        record_materialization(store, "user_clicks", "2024-01-10T00:00:00+00:00")
    failure = only_failure(check(root), "plan")
    assert failure.column == "avg_dwell_seconds"


# -- the command ---------------------------------------------------------------------------------


def invoke(root: Path, *args: str, env: dict | None = None):
    return CliRunner().invoke(cli, ["--chdir", str(root), "check", *args], env=env, catch_exceptions=False)


def test_cli_exit_codes(repo, tmp_path):
    root = repo()
    assert invoke(root).exit_code == 0
    (root / "features.py").write_text(definitions(click_count="Bool"))
    assert invoke(root).exit_code == 1
    assert invoke(tmp_path / "nowhere").exit_code == 2, "no feature_store.yaml is a configuration error"
    result = invoke(root, "--state", str(tmp_path / "missing"))
    assert result.exit_code == 2 and "--state" in result.output
    assert invoke(root, "--dialect", "oracle").exit_code == 2


def test_cli_writes_junit_and_github_annotations(repo, tmp_path):
    root = repo(text=definitions(click_count="Bool"))
    junit = tmp_path / "reports" / "sqlfeat.xml"
    result = invoke(root, "--junit", str(junit), "--format", "github", env={"GITHUB_WORKSPACE": str(root)})
    assert result.exit_code == 1
    (annotation,) = [line for line in result.output.splitlines() if line.startswith("::error")]
    assert annotation.startswith("::error file=features.py,line=9,title=sqlfeat check%3A schema.user_clicks.click_count::")
    assert "feature 'click_count' is declared Bool" in annotation

    from xml.etree import ElementTree

    tree = ElementTree.parse(junit).getroot()
    assert tree.get("failures") == "1"
    (failure,) = tree.iter("failure")
    assert "click_count" in failure.get("message")
    case = next(c for c in tree.iter("testcase") if c.find("failure") is not None)
    assert case.get("name") == "schema.user_clicks.click_count" and case.get("file") == "features.py"


def test_cli_report_names_failures_and_shows_diffs(repo):
    root = repo()
    invoke(root, "--no-data")
    (root / "features.py").write_text(definitions(ttl=7))
    result = invoke(root, "--no-data")
    assert result.exit_code == 0
    assert "WARN" in result.output and "compiled duckdb SQL changed" in result.output
    assert "INTERVAL '604800' SECOND" in result.output and "PASS=" in result.output


def test_freshness_fields_round_trip_and_old_specs_still_load():
    from sqlfeat import Entity, FeatureView, Field, FileSource
    from sqlfeat.definitions import fingerprint
    from sqlfeat.errors import DefinitionError

    source = FileSource(path="data/clicks.parquet", timestamp_field="event_time")
    plain = FeatureView(name="v", entities=[Entity(name="user_id")], source=source, schema=[Field(name="x", dtype="int64")])
    spec = plain.to_spec()
    assert "freshness_warn_after_seconds" not in spec, "views without a policy keep their fingerprints"
    assert FeatureView.from_spec(spec) == plain
    policy = replace_view(plain, freshness_warn_after=timedelta(hours=6), freshness_error_after=timedelta(days=1))
    again = FeatureView.from_spec(policy.to_spec())
    assert (again.freshness_warn_after, again.freshness_error_after) == (timedelta(hours=6), timedelta(days=1))
    assert fingerprint(policy.to_spec()) != fingerprint(spec)
    with pytest.raises(DefinitionError, match="'v': freshness_warn_after .* is longer than freshness_error_after"):
        replace_view(plain, freshness_warn_after=timedelta(days=2), freshness_error_after=timedelta(days=1))
    with pytest.raises(DefinitionError, match="'v': freshness_error_after must be a positive"):
        replace_view(plain, freshness_error_after=3600)


def replace_view(view, **changes):
    from sqlfeat import FeatureView

    values = {k: getattr(view, k) for k in ("name", "source", "schema", "ttl", "online", "description", "tags", "owner")}
    return FeatureView(entities=list(view.entities), **values, **changes)


def test_data_checks_and_leakage_run_on_postgres(postgres_harness, tmp_path, clicks_frame):
    from conftest import write_repo

    root = write_repo(tmp_path / "repo", offline_store=postgres_harness.offline_store)
    frame = pd.concat([clicks_frame, clicks_frame.iloc[[3]]], ignore_index=True).astype({"user_id": "Int64"})
    frame.loc[5, "user_id"] = None
    name = f"clicks_{tmp_path.name[-12:].replace('-', '_')}"
    source = postgres_harness.source(root, name, frame, timestamp_field="event_time", created_timestamp_column="created")
    text = definitions().replace(
        'FileSource(path="data/clicks.parquet",', f'PostgreSQLSource(table="{source.table}",'
    ).replace("FileSource, ValueType", "PostgreSQLSource, ValueType")
    (root / "features.py").write_text(text)
    run = check(root)
    failed = {r.check: r for r in run.results if r.status == "fail"}
    assert sorted(failed) == ["keys_not_null", "unique_rows"], [r.message for r in run.results if r.status != "pass"]
    assert "join key 'user_id' is null in 1 of 7 rows" in failed["keys_not_null"].message
    assert "user_id=2" in failed["unique_rows"].message
    (leakage,) = [r for r in run.results if r.check == "leakage"]
    assert leakage.status == "pass" and "strategy carry and window and lateral" in leakage.message
    assert (root / "target" / "compiled" / "postgres" / "user_clicks.sql").is_file()


# -- nothing lost, outputs well-formed --------------------------------------------------------------
import tempfile  # noqa: E402
from xml.etree import ElementTree  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from test_files import apart, plant, temp_files, tree, user_trees  # noqa: E402

from sqlfeat.checks.report import junit_xml, write_junit  # noqa: E402
from sqlfeat.checks.results import CheckResult, CheckRun  # noqa: E402
from sqlfeat.errors import OutputPathError  # noqa: E402
from sqlfeat.files import MARKER  # noqa: E402

SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
DBT_TARGET = {
    "run_results.json": b'{"metadata": {"dbt_version": "1.7.4"}, "results": [{"unique_id": "model.shop.orders"}]}',
    "manifest.json": b"{}",
    "compiled/shop/models/orders.sql": b"select 1",
}


def test_a_dbt_target_is_neither_crashed_on_nor_overwritten(repo):
    root = repo()
    plant(root / "target", DBT_TARGET)
    before = tree(root)
    result = invoke(root, "--no-data")
    assert result.exit_code == 2, result.output
    assert "--target-path" in result.output and "is not empty and sqlfeat did not create it" in result.output
    assert tree(root) == before, "nothing written, nothing deleted"
    # Pointed elsewhere, it runs, and dbt's files are still untouched.
    assert invoke(root, "--no-data", "--target-path", str(root / "target" / "sqlfeat")).exit_code == 0
    assert {rel: tree(root / "target").get(rel) for rel in DBT_TARGET} == DBT_TARGET


@SETTINGS
@given(user=user_trees())
def test_user_files_in_the_target_survive_check(repo, user):
    root = repo()
    target = Path(tempfile.mkdtemp(dir=root.parent)) / "target"
    text = definitions() + 'second = FeatureView(name="second", entities=[user], source=clicks, schema=[Field(name="click_count", dtype=Int64)])\n'  # fmt: skip
    (root / "features.py").write_text(text)
    check(root, data=False, target=target)
    listed = set(json.loads((target / MARKER).read_text())["files"])
    assert "compiled/duckdb/second.sql" in listed
    user = apart(user, listed | {"compiled/duckdb/user_clicks.sql"})
    plant(target, user)
    (root / "features.py").write_text(definitions())  # the view "second" is removed
    check(root, data=False, target=target)
    after = tree(target)
    assert {rel: after.get(rel) for rel in user} == user, "every user file survives"
    assert "compiled/duckdb/second.sql" not in after and "compiled/duckdb/user_clicks.sql" in after
    assert json.loads(after["run_results.json"])["metadata"]["format"] == "sqlfeat-run-results/1"
    assert temp_files(target) == []


@SETTINGS
@given(user=user_trees())
def test_a_foreign_target_is_refused_before_any_check_runs(repo, user, monkeypatch):
    from sqlfeat.checks import definitions as definition_checks

    root = repo()
    target = Path(tempfile.mkdtemp(dir=root.parent))
    plant(target, user)
    before = tree(target)
    with monkeypatch.context() as patch:
        patch.setattr(definition_checks, "load", lambda store: pytest.fail("a check ran"))
        with pytest.raises(OutputPathError, match="--target-path"):
            check(root, data=False, target=target)
    assert tree(target) == before


def test_a_foreign_junit_file_is_refused_before_the_run_and_its_own_is_replaced(repo, tmp_path):
    root = repo()
    junit = tmp_path / "reports" / "junit.xml"
    junit.parent.mkdir()
    junit.write_text('<?xml version="1.0"?><testsuites name="pytest"><testsuite name="unit"/></testsuites>')
    result = invoke(root, "--no-data", "--junit", str(junit))
    assert result.exit_code == 2 and "--junit" in result.output and "sqlfeat did not write it" in result.output
    assert "pytest" in junit.read_text() and not (root / "target").exists(), "refused before the run"
    fresh = tmp_path / "reports" / "sqlfeat.xml"
    assert invoke(root, "--no-data", "--junit", str(fresh)).exit_code == 0
    first = fresh.read_text()
    assert invoke(root, "--no-data", "--junit", str(fresh)).exit_code == 0, "sqlfeat's own report is replaced"
    assert ElementTree.parse(fresh).getroot().get("name") == "sqlfeat check test_project" and first
    assert temp_files(tmp_path) == []


# Every character XML 1.0 forbids, plus neighbours it allows.
FORBIDDEN = [chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)]] + ["\ud800", "\udfff", "\ufffe", "\uffff"]
ALLOWED_EDGE = ["\t", "\n", "\r", "\x7f", "\x85", "\ud7ff", "\ue000", "\ufffd", "\U00010000", "\U0010ffff", "<", "&", '"', "]]>"]
MESSY = st.lists(st.sampled_from(FORBIDDEN + ALLOWED_EDGE) | st.text(max_size=4), max_size=10).map("".join)


def _allowed(char: str) -> bool:
    code = ord(char)
    return code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF


def _expected(text: str) -> str:
    return "".join(c if _allowed(c) else (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}") for c in text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(message=MESSY, details=MESSY, view=MESSY, column=MESSY, project=MESSY, status=st.sampled_from(["fail", "warn"]))
def test_junit_stays_valid_xml_whatever_the_messages_quote(tmp_path, message, details, view, column, project, status):
    results = [CheckResult("keys_not_null", status, message, view=view or None, column=column or None, details=details,
                           file=f"{view}.py", line=3),
               CheckResult("compile", "warn", message, skipped=True)]  # fmt: skip
    run = CheckRun(project, tmp_path, tmp_path, CheckOptions(), results, NOW)
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "junit.xml"
    write_junit(run, path)
    root = ElementTree.parse(path).getroot()  # raises on invalid XML
    assert root.get("name") == _expected(f"sqlfeat check {project}")
    case = next(root.iter("testcase"))
    assert case.get("name") == _expected(results[0].unique_id) and case.get("file") == _expected(f"{view}.py")
    if status == "fail":
        failure = case.find("failure")
        assert failure.get("message") == _expected(message)
        body = (details or message)
        assert (failure.text or "") == _expected(body).replace("\r\n", "\n").replace("\r", "\n")
    assert next(root.iter("skipped")).get("message") == _expected(message)
    assert junit_xml(run).encode("utf-8")  # no lone surrogate reaches the encoder
