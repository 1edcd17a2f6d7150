"""Strategies: chosen per view by estimated cost, forced per call or per view, explained, and
fed by facts read cheaply (cached per file version: a stale "no ties" must never change a row)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
import sqlglot
from click.testing import CliRunner

from conftest import write_repo
from sqlfeat import DuckDBSource, Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
from sqlfeat.cli import cli
from sqlfeat.compiler import plan_retrieval
from sqlfeat.compiler.strategy import SourceStats, choose_strategies, estimate_costs
from sqlfeat.errors import UsageError
from sqlfeat.types import Int64
from sqlfeat.warehouses import get_dialect

UTC = timezone.utc
user = Entity(name="user_id", value_type=ValueType.INT64)


def clicks_view(created: bool = True, ttl_days: int = 30) -> FeatureView:
    source = FileSource(path="data/clicks.parquet", timestamp_field="event_time",
                        created_timestamp_column="created" if created else None)  # fmt: skip
    return FeatureView(name="clicks", entities=[user], ttl=timedelta(days=ttl_days), source=source,
                       schema=[Field(name="value", dtype=Int64)])  # fmt: skip


def frame(users: int, per_user: int, ties: bool = False) -> pd.DataFrame:
    rows = [(u, datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=i), u * 1000 + i) for u in range(users) for i in range(per_user)]
    data = pd.DataFrame(rows, columns=["user_id", "event_time", "value"])
    data["created"] = data["event_time"]
    if ties:  # the same (user, event time) twice: the later created row must win
        extra = data.head(1).assign(value=-1, created=data["created"].iloc[0] + timedelta(seconds=5))
        data = pd.concat([data, extra], ignore_index=True)
    return data


SPINE = pd.DataFrame({"user_id": [0, 0, 1], "event_timestamp": pd.to_datetime(["2024-01-02 00:00", "2024-01-01 00:00", "2024-01-05 00:00"], utc=True)})


@pytest.fixture
def store(tmp_path):
    repo = write_repo(tmp_path / "repo", {"clicks": frame(5, 200)})
    s = FeatureStore(repo_path=repo)
    s.apply([user, clicks_view()])
    return s


def test_forced_strategies_agree_and_say_so(store):
    results = {}
    for strategy in ("asof", "carry", "window"):
        job = store.get_historical_features(SPINE, ["clicks:value"], strategy=strategy)
        assert job.strategies == {"clicks": strategy}
        results[strategy] = job.to_df()["value"].tolist()
    assert results["asof"] == results["carry"] == results["window"] == [24, 0, 1096]
    per_view = store.get_historical_features(SPINE, ["clicks:value"], strategy={"clicks": "carry"})
    assert per_view.strategies == {"clicks": "carry"} and "forced" in per_view.explain()


def test_auto_reads_facts_and_explains_its_choice(store):
    job = store.get_historical_features(SPINE, ["clicks:value"])
    line = job.explain()
    assert line.startswith("-- clicks (lookup): ") and "1,000 source rows over 5 keys" in line and "estimated seconds" in line
    assert job.strategies["clicks"] in ("asof", "carry", "window")


@pytest.mark.parametrize(("dialect", "strategy"), [("postgres", "asof"), ("bigquery", "asof"), ("duckdb", "lateral"),
                                                   ("snowflake", "lateral"), ("duckdb", "nope")])  # fmt: skip
def test_a_strategy_the_engine_lacks_is_a_usage_error(store, dialect, strategy):
    with pytest.raises(UsageError, match="strategy must be one of|has no"):
        store.compile_historical_features(["clicks:value"], "t", dialect=dialect, strategy=strategy)


def test_the_cost_model_prefers_sorting_as_density_grows():
    """At one row per key inside the TTL the range join is cheapest; at thousands it never is."""
    dialect = get_dialect("postgres")
    view = clicks_view()
    request = plan_retrieval(["clicks:value"], {"clicks": view}, {"user_id": user}).views[0]
    sparse = SourceStats(rows=1_000_000, keys=1_000_000, span=timedelta(days=180))
    dense = SourceStats(rows=1_000_000, keys=100, span=timedelta(days=30))
    sparse_costs = estimate_costs(dialect, request, 100_000, sparse, 1.0)
    dense_costs = estimate_costs(dialect, request, 100_000, dense, 10_000.0)
    assert min(sparse_costs, key=sparse_costs.get) == "window"
    assert min(dense_costs, key=dense_costs.get) != "window"
    plan = plan_retrieval(["clicks:value"], {"clicks": view}, {"user_id": user})
    assert choose_strategies(plan, dialect, "auto", 100_000, {"clicks": dense})["clicks"].strategy != "window"
    assert choose_strategies(plan, dialect, "auto", None, None)["clicks"].strategy == "carry", "no facts: never quadratic"
    assert choose_strategies(plan, get_dialect("duckdb"), "auto")["clicks"].strategy == "asof"


def test_no_ties_skip_the_created_time_dedupe_until_the_file_changes(tmp_path):
    repo = write_repo(tmp_path / "repo", {"clicks": frame(3, 50)})
    store = FeatureStore(repo_path=repo)
    store.apply([user, clicks_view()])
    clean = store.get_historical_features(SPINE, ["clicks:value"], strategy={"clicks": "auto"})
    if clean.strategies["clicks"] == "asof":
        assert '"clicks__latest"' not in clean.sql, "a file source without ties needs no dedupe"
    # The file changes under the same path: a tie appears; the dedupe must come back.
    frame(3, 50, ties=True).to_parquet(repo / "data" / "clicks.parquet", index=False)
    tied = store.get_historical_features(SPINE, ["clicks:value"], strategy="asof")
    asked_auto = store.get_historical_features(SPINE, ["clicks:value"])
    for job in (tied, asked_auto):
        assert job.to_df()["value"].tolist()[1] == -1, "the later created row wins the tie"


def test_dataframe_spines_prune_sources_with_constants(store):
    job = store.get_historical_features(SPINE, ["clicks:value"], strategy="carry")
    assert "MAX(" not in job.sql.split('"clicks__numbered"')[0], "bounds are literals, not subqueries"
    assert "2024-01-05" in job.sql and "2023-12-02" in job.sql.replace("2023-12-02 00:00", "2023-12-02")


def test_a_partition_column_gets_a_constant_lower_bound(tmp_path):
    repo = write_repo(tmp_path / "repo", offline_store={"type": "duckdb", "database": "data/w.duckdb"})
    data = frame(2, 48).assign(day=lambda f: f["event_time"].dt.date)
    store = FeatureStore(repo_path=repo)
    store.offline_store.connection.register("frame", data)
    store.offline_store.connection.execute("CREATE TABLE clicks AS SELECT * FROM frame")
    source = DuckDBSource(table="clicks", timestamp_field="event_time", partition_column="day")
    view = FeatureView(name="clicks", entities=[user], ttl=timedelta(hours=5), source=source, schema=[Field(name="value", dtype=Int64)])
    store.apply([user, view])
    spine = pd.DataFrame({"user_id": [1], "event_timestamp": pd.to_datetime(["2024-01-02 10:30"], utc=True)})
    for strategy in ("asof", "carry", "window"):
        job = store.get_historical_features(spine, ["clicks:value"], strategy=strategy)
        assert re.search(r'"src"\."day" >= CAST\(\'2024-01-02\' AS DATE\)', job.sql), job.sql
        assert job.to_df()["value"].tolist() == [1034]


def test_compile_explain_prints_one_line_per_view_then_sql(store):
    result = CliRunner().invoke(cli, ["--chdir", str(store.repo_path), "compile", "-f", "clicks:value", "--explain"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("-- clicks (lookup): asof: no statistics")
    assert len(sqlglot.parse(result.output, read="duckdb")) == 1
    carry = CliRunner().invoke(cli, ["--chdir", str(store.repo_path), "compile", "-f", "clicks:value", "--strategy",
                                     "carry", "--explain"])  # fmt: skip
    assert carry.exit_code == 0 and carry.output.startswith("-- clicks (lookup): carry: forced") and "__sqlfeat_src_row" in carry.output
    dry = CliRunner().invoke(cli, ["--chdir", str(store.repo_path), "compile", "-f", "clicks:value", "--dry-run"])
    assert dry.exit_code == 2 and "DuckDB has no dry run" in dry.output


def test_the_index_check_names_the_index_postgres_needs(postgres_harness, tmp_path):
    from sqlfeat.checks import CheckOptions, run_checks

    repo = write_repo(tmp_path / "repo", offline_store=postgres_harness.offline_store)
    name = f"idx_{tmp_path.name[-10:].replace('-', '_')}"
    source = postgres_harness.source(repo, name, frame(2, 10), timestamp_field="event_time", created_timestamp_column="created")
    view = FeatureView(name="clicks", entities=[user], ttl=timedelta(days=1), source=source, schema=[Field(name="value", dtype=Int64)])
    (repo / "features.py").write_text("")  # definitions come from apply below and from this empty file
    with FeatureStore(repo_path=repo) as store:
        store.apply([user, view])

    def index_results():
        import sqlfeat.checks.indexes as indexes
        from sqlfeat.checks.definitions import CheckedViews

        with FeatureStore(repo_path=repo) as s:
            return indexes.check(CheckedViews({"clicks": view}, {"user_id": user}), s)

    (warned,) = index_results()
    assert warned.status == "warn" and "CREATE INDEX ON" in warned.message and '"user_id", "event_time", "created"' in warned.message
    with FeatureStore(repo_path=repo) as s:
        s.offline_store.execute(warned.data["create_index"].rstrip(";"), "creating the index")
    (passed,) = index_results()
    assert passed.status == "pass"
    assert run_checks  # the family runs inside `sqlfeat check` (runner.py) with the data checks
    assert CheckOptions


def test_a_bigquery_dry_run_says_what_the_query_would_scan(bigquery_harness, tmp_path):
    repo = write_repo(tmp_path / "repo", offline_store=bigquery_harness.offline_store)
    name = f"dry_{tmp_path.name[-10:].replace('-', '_')}"
    source = bigquery_harness.source(repo, name, frame(2, 10), timestamp_field="event_time", created_timestamp_column="created")
    view = FeatureView(name="clicks", entities=[user], ttl=timedelta(days=1), source=source, schema=[Field(name="value", dtype=Int64)])
    with FeatureStore(repo_path=repo) as store:
        store.apply([user, view])
        spine = f"{bigquery_harness.namespace}.{name}"
        said = [store.offline_store.dry_run(store.compile_historical_features(["clicks:value"], spine, "event_time", strategy=strategy))
                for strategy in ("carry", "window")]  # fmt: skip
    assert all(re.fullmatch(r"would scan [\d,]+ bytes \([\d.,]+ GiB\)", s) for s in said), said
