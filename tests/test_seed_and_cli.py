"""The seed's own snippets run with only `feast` -> `sqlfeat`; the CLI drives a real repo."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from sqlfeat.cli import cli

SEED_DEFINITIONS = '''
# feature_repo/user_features.py
from datetime import timedelta
from sqlfeat import Entity, Feature, FeatureView, FileSource, ValueType
from sqlfeat.types import Float32, Int64
user = Entity(name='user_id', value_type=ValueType.INT64)
# 数据源:parquet 文件(生产用 BigQuery / Snowflake / S3 等)
user_clicks_source = FileSource(
path='data/user_clicks.parquet',
timestamp_field='event_time',
)
user_clicks_30d = FeatureView(
name='user_clicks_30d',
entities=[user],
ttl=timedelta(days=30),
schema=[
Feature(name='click_count', dtype=Int64),
Feature(name='avg_dwell_seconds', dtype=Float32),
Feature(name='top_category', dtype='string'),
],
source=user_clicks_source,
online=True,
)
'''

SEED_TRAINING = '''
from sqlfeat import FeatureStore
import pandas as pd
store = FeatureStore(repo_path='feature_repo')
# 训练样本(user_id + label + event_time)
training_df = pd.DataFrame({
'user_id': [1, 2, 3],
'event_time': pd.to_datetime(['2024-01-01', '2024-01-02', '2024-01-03']),
'label': [1, 0, 1],
})
# point-in-time 拼接特征(保证不用未来数据)
training = store.get_historical_features(
entity_df=training_df,
features=[
'user_clicks_30d:click_count',
'user_clicks_30d:avg_dwell_seconds',
'user_clicks_30d:top_category',
],
).to_df()
training.to_parquet('training.parquet')
'''


SEED_ONLINE = """
from sqlfeat import FeatureStore
store = FeatureStore(repo_path='feature_repo')
features = store.get_online_features(
features=[
'user_clicks_30d:click_count',
'user_clicks_30d:avg_dwell_seconds',
],
entity_rows=[{'user_id': 42}],
).to_dict()
x = [[features['click_count'][0], features['avg_dwell_seconds'][0]]]
print(repr(x))
"""


def run(args: list[str], cwd: Path) -> str:
    result = CliRunner().invoke(cli, ["--chdir", str(cwd), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("online_store", ["sqlite", "redis"])
def test_seed_snippets_run_with_only_the_import_changed(tmp_path, online_store, request):
    run(["init", str(tmp_path / "my_store")], tmp_path)
    repo = tmp_path / "my_store" / "feature_repo"
    if online_store == "redis":
        url = request.getfixturevalue("redis_url")
        project = f"seed_{tmp_path.name[-12:].replace('-', '_')}"
        config = (repo / "feature_store.yaml").read_text().replace("project: my_store", f"project: {project}")
        config = config.replace("type: sqlite\n  path: data/online_store.db", f"type: redis\n  connection_string: {url}")
        assert f"type: redis\n  connection_string: {url}" in config
        (repo / "feature_store.yaml").write_text(config)
        request.addfinalizer(lambda: _drop_redis_keys(url, project))
    for extra in ("user_features.py", "user_profile.py"):
        (repo / extra).unlink()
    (repo / "user_features.py").write_text(SEED_DEFINITIONS)
    assert "+ feature view user_clicks_30d" in run(["apply"], repo)
    subprocess.run([sys.executable, "-c", SEED_TRAINING], cwd=repo.parent, check=True)
    training = pd.read_parquet(repo.parent / "training.parquet")
    assert list(training.columns) == ["user_id", "event_time", "label", "click_count", "avg_dwell_seconds", "top_category"]
    clicks = pd.read_parquet(repo / "data" / "user_clicks.parquet")
    for row in training.itertuples():
        t = pd.Timestamp(row.event_time, tz="UTC")
        seen = clicks[(clicks.user_id == row.user_id) & (clicks.event_time <= t) & (clicks.event_time >= t - pd.Timedelta(days=30))]
        latest = seen.sort_values("event_time").tail(1)
        assert row.click_count == latest.click_count.iloc[0], "must be the latest value at or before the row's time"

    # Serving, as the seed does it: materialize-incremental up to now, then read user 42 online.
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    assert "user_clicks_30d" in run(["materialize-incremental", now], repo)
    printed = subprocess.run([sys.executable, "-c", SEED_ONLINE], cwd=repo.parent, check=True,
                             capture_output=True, text=True).stdout
    # The sample data ends on 2024-02-01, so today every value is past the 30-day TTL: read as null.
    assert printed.strip() == "[[None, None]]"
    assert "0 mismatched" in run(["consistency"], repo)


def _drop_redis_keys(url: str, project: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{project}:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def repo(tmp_path) -> Path:
    run(["init", str(tmp_path / "shop")], tmp_path)
    repo = tmp_path / "shop" / "feature_repo"
    run(["apply"], repo)
    return repo


def test_plan_list_describe(repo):
    assert "No changes" in run(["plan"], repo)
    listing = run(["list"], repo)
    assert "user_clicks_30d" in listing and "user_profile" in listing
    described = json.loads(run(["describe", "user_profile"], repo))
    assert described["spec"]["name"] == "user_profile" and len(described["fingerprint"]) == 16
    text = (repo / "user_profile.py").read_text().replace('Field(name="country", dtype=String),', "")
    (repo / "user_profile.py").write_text(text)
    planned = run(["plan"], repo)
    assert "removes field country (String)" in planned
    assert "Re-materialize after apply: user_profile" in planned


def test_compile_prints_sql_that_parses(repo):
    import sqlglot

    sql = run(["compile", "-f", "user_clicks_30d:click_count,user_profile:is_premium", "--spine-table", "analytics.rows"], repo)
    assert 'FROM "analytics"."rows"' in sql and "ASOF LEFT JOIN" in sql
    sqlglot.parse_one(sql.rstrip().rstrip(";"), read="duckdb")


def test_get_historical_features_command(repo, tmp_path):
    out = tmp_path / "train.parquet"
    output = run(["get-historical-features", "--entity-df", str(repo / "data" / "spine.parquet"),
                  "-f", "user_clicks_30d:click_count", "-f", "user_profile:country", "--out", str(out),
                  "--sql-out", str(tmp_path / "train.sql")], repo)
    assert "Wrote 5000 rows" in output
    frame = pd.read_parquet(out)
    assert list(frame.columns)[-2:] == ["click_count", "country"]
    assert "ASOF" in (tmp_path / "train.sql").read_text() or "QUALIFY" in (tmp_path / "train.sql").read_text()


def test_usage_errors_are_one_line_with_exit_status_2(repo):
    result = CliRunner().invoke(cli, ["--chdir", str(repo), "compile", "-f", "user_clicks_30d:nope"])
    assert result.exit_code == 2
    assert "Error: feature 'nope' is not in feature view 'user_clicks_30d'" in result.output
    assert "Traceback" not in result.output
    debug = CliRunner().invoke(cli, ["--debug", "--chdir", str(repo), "compile", "-f", "user_clicks_30d:nope"])
    assert debug.exit_code == 2 and "Traceback" in debug.output, "--debug shows the traceback"


def test_a_failed_run_exits_1_and_keeps_its_sql_for_debug(repo, tmp_path):
    spine = tmp_path / "spine.parquet"
    pd.DataFrame({"user_id": [1], "event_timestamp": pd.to_datetime(["2024-01-10"], utc=True)}).to_parquet(spine)
    (repo / "data" / "user_clicks.parquet").write_bytes(b"not a parquet file")
    args = ["--chdir", str(repo), "get-historical-features", "--entity-df", str(spine), "-f", "user_clicks_30d:click_count",
            "--out", str(tmp_path / "out.parquet")]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "-- the SQL that failed" not in result.output
    assert "rerun with --debug" in result.output
    debug = CliRunner().invoke(cli, ["--debug", *args])
    assert debug.exit_code == 1 and "-- the SQL that failed:\nSELECT" in debug.output, "--debug prints the SQL"


def test_no_repo_error_says_how_to_make_one(tmp_path):
    result = CliRunner().invoke(cli, ["--chdir", str(tmp_path), "list"])
    assert result.exit_code == 2 and "sqlfeat init" in result.output


def test_quickstart_builds_a_training_set(tmp_path):
    output = run(["quickstart", str(tmp_path / "demo"), "--rows", "2000"], tmp_path)
    assert "Training set: 2000 rows" in output
    assert output.count("(100%), 0 mismatched, 0 missing") == 2, output
    frame = pd.read_parquet(tmp_path / "demo" / "feature_repo" / "data" / "training.parquet")
    assert len(frame) == 2000 and frame["click_count"].notna().mean() > 0.9
    assert (tmp_path / "demo" / "feature_repo" / "data" / "training.sql").read_text().startswith("WITH")


def test_help_teaches():
    output = CliRunner().invoke(cli, ["--help"]).output
    assert "sqlfeat quickstart" in output and "get-historical-features" in output
