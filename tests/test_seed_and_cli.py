"""A Feast user's getting-started snippets run with only `feast` -> `sqlfeat`; the CLI drives a real repo."""

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
    # `sqlfeat init`'s sample data covers the 180 days before today: the snippet's training rows
    # are moved into it (its code is otherwise run as written).
    clicks = pd.read_parquet(repo / "data" / "user_clicks.parquet")
    end = clicks.event_time.max().floor("D") + pd.Timedelta(days=1)
    assert end == pd.Timestamp.now(tz="UTC").floor("D"), "the sample data ends today"
    days = [(end - pd.Timedelta(days=d)).strftime("%Y-%m-%d") for d in (3, 2, 1)]
    training_code = SEED_TRAINING.replace("'2024-01-01', '2024-01-02', '2024-01-03'", ", ".join(map(repr, days)))
    assert training_code != SEED_TRAINING
    subprocess.run([sys.executable, "-c", training_code], cwd=repo.parent, check=True)
    training = pd.read_parquet(repo.parent / "training.parquet")
    assert list(training.columns) == ["user_id", "event_time", "label", "click_count", "avg_dwell_seconds", "top_category"]
    for row in training.itertuples():
        t = pd.Timestamp(row.event_time, tz="UTC")
        seen = clicks[(clicks.user_id == row.user_id) & (clicks.event_time <= t) & (clicks.event_time >= t - pd.Timedelta(days=30))]
        # The snippet's source has no created_timestamp_column: a correction at the same event time ties.
        latest = seen[seen.event_time == seen.event_time.max()]
        assert row.click_count in set(latest.click_count), "must be the latest value at or before the row's time"

    # Serving, as the snippet does it: materialize-incremental up to now, then read user 42 online.
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    assert "user_clicks_30d" in run(["materialize-incremental", now], repo)
    printed = subprocess.run([sys.executable, "-c", SEED_ONLINE], cwd=repo.parent, check=True,
                             capture_output=True, text=True).stdout
    # The sample data ends today, so user 42's newest row is inside the 30-day TTL: it is served.
    served = eval(printed.strip())  # noqa: S307 - the snippet prints a list literal
    mine = clicks[(clicks.user_id == 42) & (clicks.event_time >= pd.Timestamp(now, tz="UTC") - pd.Timedelta(days=30))]
    newest = mine[mine.event_time == mine.event_time.max()]
    assert not newest.empty and served[0][0] in set(newest.click_count), (served, newest)
    assert served[0][1] == pytest.approx(float(newest.avg_dwell_seconds[newest.click_count == served[0][0]].iloc[0]))
    assert "0 mismatched" in run(["consistency"], repo)


def _drop_redis_keys(url: str, project: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{project}:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def repo(tmp_path) -> Path:
    """A repo whose sample data ends on a fixed day: the spines below are written against it."""
    run(["init", str(tmp_path / "shop"), "--sample-end", "2024-02-01"], tmp_path)
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


def test_quickstart_is_deterministic_for_a_given_day_and_ends_on_it(tmp_path):
    from datetime import datetime, timezone

    from sqlfeat.scaffold import run_quickstart

    now = datetime(2024, 2, 1, 15, 30, tzinfo=timezone.utc)  # any time of that day: data ends at its 00:00 UTC
    first, second = run_quickstart(tmp_path / "a", 300, now=now), run_quickstart(tmp_path / "b", 300, now=now)
    pd.testing.assert_frame_equal(first.frame, second.frame)
    assert first.online_example == second.online_example
    assert all(v is not None for values in first.online_example.values() for v in values), first.online_example
    assert first.consistency.ok and [v.as_of for v in first.consistency.views] == [datetime(2024, 2, 1, tzinfo=timezone.utc)] * 2
    clicks = pd.read_parquet(first.repo / "data" / "user_clicks.parquet")
    assert pd.Timestamp("2024-01-31", tz="UTC") <= clicks.event_time.max() < pd.Timestamp("2024-02-01", tz="UTC")
    bad = CliRunner().invoke(cli, ["init", str(tmp_path / "c"), "--sample-end", "yesterday"])
    assert bad.exit_code == 2 and "'yesterday' is not a date" in bad.output and not (tmp_path / "c").exists()


def test_help_teaches():
    output = CliRunner().invoke(cli, ["--help"]).output
    assert "sqlfeat quickstart" in output and "get-historical-features" in output


# -- nothing lost, outputs well-formed --------------------------------------------------------------
import os  # noqa: E402
import tempfile  # noqa: E402
from datetime import datetime  # noqa: E402

from hypothesis import HealthCheck, Phase, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from test_files import plant, temp_files, tree  # noqa: E402

from sqlfeat.errors import OutputPathError  # noqa: E402
from sqlfeat.scaffold import init_repo  # noqa: E402

SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
INIT_FILES = {"README.md", "feature_repo/feature_store.yaml", "feature_repo/user_features.py",
              "feature_repo/user_profile.py", "feature_repo/data/user_clicks.parquet",
              "feature_repo/data/user_profile.parquet", "feature_repo/data/spine.parquet"}  # fmt: skip


def invoke(args: list[str], cwd: Path):
    return CliRunner().invoke(cli, ["--chdir", str(cwd), *args])


def one_line_error(result, status: int = 2) -> str:
    assert result.exit_code == status, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1, result.output
    return result.output


@st.composite
def trees_near_init(draw) -> dict[str, bytes]:
    """A user's files, some where `sqlfeat init` writes (README.md, feature_repo/...), some not."""
    names = st.sampled_from(["README.md", "feature_repo", "data", "feature_store.yaml", "spine.parquet", "notes.txt",
                             ".git", "user_features.py"])  # fmt: skip
    chosen: dict[str, bytes] = {}
    for parts in draw(st.lists(st.lists(names, min_size=1, max_size=3), max_size=5)):
        path = "/".join(parts)
        if any(path == p or path.startswith(p + "/") or p.startswith(path + "/") for p in chosen):
            continue
        chosen[path] = draw(st.binary(max_size=8))
    return chosen


@SETTINGS
@given(user=trees_near_init())
def test_init_writes_everything_or_nothing_and_never_over_a_users_file(tmp_path, user):
    target = Path(tempfile.mkdtemp(dir=tmp_path)) / "shop"
    plant(target, user)
    before = tree(target) if target.exists() else None
    # A file or a folder where init writes a file, or anything at all in feature_repo.
    conflicts = sorted(rel for rel in INIT_FILES if rel in user or any(p.startswith(rel + "/") for p in user))
    busy_repo = any(p == "feature_repo" or p.startswith("feature_repo/") for p in user)
    try:
        init_repo(target, users=20, spine_rows=20)
    except OutputPathError as err:
        assert conflicts or busy_repo, err
        for rel in conflicts:
            assert str(target / rel) in str(err), "each file in the way is named"
        assert (tree(target) if target.exists() else None) == before, "nothing written"
        return
    assert not conflicts and not busy_repo
    after = tree(target)
    assert {rel: after[rel] for rel in user} == user
    assert INIT_FILES <= after.keys() and temp_files(target) == []


def test_init_refuses_an_existing_readme_naming_it(tmp_path):
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "README.md").write_text("mine")
    output = one_line_error(invoke(["init", str(tmp_path / "shop")], tmp_path))
    assert f"{tmp_path / 'shop' / 'README.md'}" in output and "never overwrites" in output
    assert tree(tmp_path / "shop") == {"README.md": b"mine"}


def test_init_that_fails_part_way_leaves_nothing_behind(tmp_path, monkeypatch):
    import sqlfeat.sample_data

    def broken(*args):
        raise MemoryError("the sample data did not fit")

    monkeypatch.setattr(sqlfeat.sample_data, "user_profile", broken)
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "notes.txt").write_text("mine")
    with pytest.raises(MemoryError):
        init_repo(tmp_path / "shop", users=20, spine_rows=20)
    assert tree(tmp_path / "shop") == {"notes.txt": b"mine"}
    with pytest.raises(MemoryError):
        init_repo(tmp_path / "new" / "shop", users=20, spine_rows=20)
    assert not (tmp_path / "new").exists()


def _historical(repo: Path, spine: Path, out: Path, *extra: str):
    return invoke(["get-historical-features", "--entity-df", str(spine), "-f", "user_clicks_30d:click_count",
                   "--out", str(out), *extra], repo)  # fmt: skip


def test_get_historical_features_checks_its_outputs_before_any_work(repo, tmp_path, monkeypatch):
    from sqlfeat.store import FeatureStore

    monkeypatch.setattr(FeatureStore, "get_historical_features", lambda *a, **k: pytest.fail("work was done"))
    spine = repo / "data" / "spine.parquet"
    output = one_line_error(_historical(repo, spine, tmp_path / "missing" / "train.parquet"))
    assert f"--out {tmp_path / 'missing' / 'train.parquet'}: folder {tmp_path / 'missing'} does not exist" in output
    output = one_line_error(_historical(repo, spine, tmp_path / "t.parquet", "--sql-out", str(tmp_path / "no" / "t.sql")))
    assert "--sql-out" in output and "does not exist" in output
    before = spine.read_bytes()
    output = one_line_error(_historical(repo, spine, spine))
    assert "already exists and sqlfeat did not write it" in output and spine.read_bytes() == before
    (tmp_path / "notes.sql").write_text("select 'mine'")
    output = one_line_error(_historical(repo, spine, tmp_path / "t.parquet", "--sql-out", str(tmp_path / "notes.sql")))
    assert "notes.sql" in output and (tmp_path / "notes.sql").read_text() == "select 'mine'"
    assert not (tmp_path / "t.parquet").exists()


def test_get_historical_features_replaces_its_own_outputs_atomically(repo, tmp_path):
    spine, out, sql = repo / "data" / "spine.parquet", tmp_path / "train.parquet", tmp_path / "train.sql"
    for _ in range(2):  # the second run replaces what the first wrote
        assert _historical(repo, spine, out, "--sql-out", str(sql)).exit_code == 0
    assert len(pd.read_parquet(out)) == 5000 and "SELECT" in sql.read_text()
    assert temp_files(tmp_path) == []


@pytest.mark.parametrize("name, content, words", [
    ("spine.txt", b"user_id\n1\n", "expected a .parquet or .csv file"),
    ("spine.parquet", b"", "is empty"),
    ("spine.parquet", b"PAR1 not really", "is not a readable parquet file"),
    ("spine.csv", b"", "is empty"),
    ("spine.csv", b"user_id,event_timestamp\n", "has no rows"),
    ("spine.csv", b"user_id,event_timestamp\n1,yesterday\n", "'yesterday' in data row 1, not an ISO 8601 date-time"),
    ("spine.csv", b"user_id,event_timestamp\n1,1704067200\n", "not an ISO 8601 date-time"),
])  # fmt: skip
def test_an_unusable_spine_file_is_one_clear_line(repo, tmp_path, name, content, words):
    (tmp_path / name).write_bytes(content)
    output = one_line_error(_historical(repo, tmp_path / name, tmp_path / "out.parquet"))
    assert words in output and str(tmp_path / name) in output
    assert not (tmp_path / "out.parquet").exists()


INSTANTS = st.datetimes(min_value=pd.Timestamp("2023-09-01").to_pydatetime(),
                        max_value=pd.Timestamp("2024-02-10").to_pydatetime())  # fmt: skip


def _iso(instant: pd.Timestamp, style: str) -> str:
    """One UTC instant written as a CSV might hold it."""
    if style == "naive":
        return instant.strftime("%Y-%m-%d %H:%M:%S.%f")
    if style == "Z":
        return instant.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return instant.tz_convert("Asia/Shanghai").isoformat()


# Each example runs the CLI twice: no shrinking, and the case pandas gets wrong (a value without an
# offset after one with an offset) always tried.
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@example(rows=[(1, datetime(2023, 9, 1), "+08:00"), (1, datetime(2023, 9, 1), "naive")], column="label_time")
@given(rows=st.lists(st.tuples(st.integers(1, 1_020), INSTANTS, st.sampled_from(["naive", "Z", "+08:00"])),
                     min_size=1, max_size=12),
       column=st.sampled_from(["event_timestamp", "label_time"]))  # fmt: skip
def test_a_csv_spine_gives_what_the_same_parquet_spine_gives(repo, rows, column):
    folder = Path(tempfile.mkdtemp(dir=repo.parent))
    instants = [pd.Timestamp(t, tz="UTC") for _, t, _ in rows]
    frame = pd.DataFrame({"user_id": [u for u, _, _ in rows], column: instants, "signup_day": ["2023-01-02"] * len(rows)})
    frame.to_parquet(folder / "spine.parquet")
    csv = "user_id,signup_day,%s\n" % column + "".join(
        f"{u},2023-01-02,{_iso(t, style)}\n" for (u, _, style), t in zip(rows, instants))  # fmt: skip
    (folder / "spine.csv").write_text(csv)
    for kind in ("parquet", "csv"):
        result = _historical(repo, folder / f"spine.{kind}", folder / f"{kind}.parquet")
        assert result.exit_code == 0, result.output
    from_csv, from_parquet = pd.read_parquet(folder / "csv.parquet"), pd.read_parquet(folder / "parquet.parquet")
    assert from_csv[column].tolist() == from_parquet[column].tolist(), "times are UTC instants, offsets applied"
    pd.testing.assert_series_equal(from_csv["click_count"], from_parquet["click_count"])
    assert from_csv["signup_day"].tolist() == ["2023-01-02"] * len(rows), "a date without a time stays text"


def test_every_file_the_commands_write_is_renamed_into_place(tmp_path, monkeypatch):
    """The whole class: whatever init, check, docs, get-historical-features and quickstart create or
    change got there by an atomic rename from sqlfeat.files (SQLite databases manage their own
    files; the registry's lock file holds nothing)."""
    from sqlfeat import files

    renamed: set[Path] = set()
    real_replace = os.replace

    def recording(src, dst):
        renamed.add(Path(dst).resolve())
        return real_replace(src, dst)

    def state(root: Path) -> dict[Path, bytes]:
        return {p.resolve(): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    def exempt(path: Path) -> bool:
        return path.name == "registry.json.lock" or path.suffix == ".db" or path.name.endswith(("-wal", "-shm", "-journal"))

    monkeypatch.setattr(files.os, "replace", recording)
    repo = tmp_path / "shop" / "feature_repo"
    steps = [
        ["init", str(tmp_path / "shop")], ["apply"], ["check", "--no-data", "--junit", str(tmp_path / "r" / "j.xml")],
        ["check"], ["docs", "generate"], ["docs", "generate", "--output", str(tmp_path / "site")],
        ["get-historical-features", "--entity-df", str(repo / "data" / "spine.parquet"), "-f", "user_profile:country",
         "--out", str(tmp_path / "t.parquet"), "--sql-out", str(tmp_path / "t.sql")],
        ["quickstart", str(tmp_path / "demo"), "--rows", "200"],
    ]  # fmt: skip
    for args in steps:
        before = state(tmp_path)
        renamed.clear()
        result = CliRunner().invoke(cli, ["--chdir", str(repo if repo.exists() else tmp_path), *args])
        assert result.exit_code in (0, 1), result.output  # check may fail on the sample data's freshness
        changed = {p for p, data in state(tmp_path).items() if before.get(p) != data and not exempt(p)}
        assert changed or args == ["apply"], args
        assert changed <= renamed, f"{args}: written without the atomic writer: {sorted(changed - renamed)}"
    assert temp_files(tmp_path) == []
