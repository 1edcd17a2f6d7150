"""`sqlfeat dbt export`: the package real dbt-core builds (`dbt build`: models and the contract's
tests) on DuckDB and PostgreSQL, whose training-set model holds, value by value, the rows
`get_historical_features` returns on the same data; its SQL is `sqlfeat compile`'s.

dbt runs from its own venv (`.venv-dbt`, `make dbt`): it pins dependencies of its own. With
CI=true a missing dbt fails; locally it skips.
"""

from __future__ import annotations

import os
import subprocess
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from conftest import write_repo
from reference import assert_pit_frames_equal
from services.fixtures import services_required

from sqlfeat import Entity, FeatureService, FeatureStore, FeatureView, Field, ValueType
from sqlfeat.cli import cli
from sqlfeat.errors import OutputPathError
from sqlfeat.types import Float64, Int64, String

DBT = Path(__file__).resolve().parent.parent / ".venv-dbt" / "bin" / "dbt"
T0 = pd.Timestamp("2024-03-01", tz="UTC")
USER = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)
EVENTS = pd.DataFrame({
    "user_id": [1, 1, 2, 3, 3],
    "event_time": [T0, T0 + timedelta(hours=2), T0 + timedelta(hours=1), T0, T0 + timedelta(days=3)],
    "clicks": [10, 11, 20, 30, 31], "dwell": [1.5, None, 2.5, 3.5, 4.5],
})  # fmt: skip
PROFILES = pd.DataFrame({
    "user_id": [1, 1, 2], "updated_at": [T0, T0, T0 - timedelta(days=9)],
    "created_at": [T0, T0 + timedelta(minutes=5), T0], "tier": ["a", "b", "c"],
})  # fmt: skip
RATINGS = pd.DataFrame({
    "user_id": [1, 2, 2], "event_time": [T0 - timedelta(days=1), T0, T0 + timedelta(minutes=30)], "rating": [4.0, 3.0, 5.0],
})  # fmt: skip
SPINE = pd.DataFrame({
    "user_id": [1, 1, 2, 3, 3, 4, 1],
    "event_timestamp": [T0 + timedelta(hours=1), T0 + timedelta(hours=3), T0 + timedelta(hours=1),
                        T0 + timedelta(days=2), T0 + timedelta(days=3, hours=1), T0, T0 + timedelta(hours=1)],
})  # fmt: skip


def dbt_bin() -> Path:
    if not DBT.exists():
        message = f"dbt is not installed at {DBT}: run `make dbt`"
        if services_required():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return DBT


def make_store(root: Path, offline: dict, schema: str, write_table, file_view: bool = False) -> FeatureStore:
    """A repo whose two views read tables `schema.user_events` and `schema.user_profiles` (and with
    ``file_view``, a third a parquet file and a fourth aggregates `user_events` over 2 days)."""
    import sqlfeat

    repo = write_repo(root / "repo", offline_store=offline)
    source_class = sqlfeat.DuckDBSource if offline["type"] == "duckdb" else sqlfeat.PostgreSQLSource
    write_table(f"{schema}.user_events", EVENTS)
    write_table(f"{schema}.user_profiles", PROFILES)
    clicks = FeatureView(
        name="clicks", entities=[USER], ttl=timedelta(days=1), freshness_warn_after=timedelta(days=1),
        schema=[Field(name="clicks", dtype=Int64), Field(name="dwell", dtype=Float64)],
        source=source_class(table=f"{schema}.user_events", timestamp_field="event_time", name="user_events"),
    )  # fmt: skip
    profile = FeatureView(
        name="profile", entities=[USER], schema=[Field(name="tier", dtype=String)],
        source=source_class(table=f"{schema}.user_profiles", timestamp_field="updated_at",
                            created_timestamp_column="created_at", name="user_profiles"),
    )  # fmt: skip
    views = [clicks, profile]
    if file_view:
        RATINGS.to_parquet(repo / "data" / "ratings.parquet", index=False)
        views.append(FeatureView(name="rating", entities=[USER], schema=[Field(name="rating", dtype=Float64)],
                                 source=sqlfeat.FileSource(path="data/ratings.parquet", timestamp_field="event_time")))  # fmt: skip
        views.append(FeatureView(name="recent", entities=[USER], source=clicks.source,
                                 aggregations=[sqlfeat.Aggregation("clicks", "sum", timedelta(days=2), name="clicks_2d")]))
    store = FeatureStore(repo_path=repo)
    store.apply([USER, *views, FeatureService(name="ranking", features=views)])
    return store


def export(store: FeatureStore, out: Path) -> None:
    result = CliRunner().invoke(cli, [
        "--chdir", str(store.repo_path), "dbt", "export", "--out", str(out), "--package-name", "features",
        "--training-set", "ranking_training", "--feature-service", "ranking", "--spine-model", "training_rows",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output


def run_dbt(project: Path, *args: str, ok: bool = True) -> str:
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}
    done = subprocess.run(
        [str(dbt_bin()), *args, "--project-dir", str(project), "--profiles-dir", str(project)],
        capture_output=True, text=True, env=env, cwd=project, timeout=600,
    )  # fmt: skip
    assert (done.returncode == 0) == ok, f"dbt {' '.join(args)} exited {done.returncode}:\n{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def consumer_project(root: Path, package: Path, profile: dict, spine_sql: str) -> Path:
    """The analysts' dbt project: the exported package as a local package, and the spine model."""
    project = root / "analytics"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(yaml.safe_dump(
        {"name": "analytics", "version": "1.0.0", "config-version": 2, "profile": "analytics"}
    ))  # fmt: skip
    (project / "packages.yml").write_text(yaml.safe_dump({"packages": [{"local": str(package)}]}))
    (project / "profiles.yml").write_text(yaml.safe_dump({"analytics": {"target": "test", "outputs": {"test": profile}}}))
    (project / "models" / "training_rows.sql").write_text(spine_sql)
    return project


def assert_training_set(built: pd.DataFrame, expected: pd.DataFrame, context: str) -> None:
    def tidy(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.copy()
        frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"], utc=True)
        frame["user_id"] = frame["user_id"].astype("int64")
        return frame.sort_values(["user_id", "event_timestamp"], kind="stable").reset_index(drop=True)

    assert len(built) == len(SPINE)
    assert_pit_frames_equal(tidy(built)[list(expected.columns)], tidy(expected), ["user_id", "event_timestamp"],
                            check_spine_dtypes=False, context=context)  # fmt: skip


def test_duckdb_dbt_build_equals_get_historical_features(tmp_path):
    import duckdb

    database = tmp_path / "warehouse.duckdb"

    def write_table(name: str, frame: pd.DataFrame) -> None:
        with duckdb.connect(str(database)) as connection:
            connection.register("frame", frame)
            connection.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")

    write_table("main.spine_rows", SPINE)
    store = make_store(tmp_path, {"type": "duckdb", "database": str(database)}, "main", write_table, file_view=True)
    try:
        expected = store.get_historical_features(entity_df=SPINE, features=store.get_feature_service("ranking")).to_df()
        export(store, tmp_path / "package")
    finally:
        store.close()
    profile = {"type": "duckdb", "path": str(database), "schema": "analytics", "threads": 1}
    project = consumer_project(tmp_path, tmp_path / "package", profile, 'select * from main."spine_rows"\n')
    run_dbt(project, "deps")
    out = run_dbt(project, "build")
    assert "sqlfeat_unique_combination" in out and "sqlfeat_not_in_future" in out  # the contract's tests ran
    with duckdb.connect(str(database), read_only=True) as connection:
        built = connection.execute('SELECT * FROM analytics."ranking_training"').df()
        latest = connection.execute('SELECT * FROM analytics."clicks" ORDER BY "user_id"').df()
    assert_training_set(built, expected, "duckdb")
    assert built["rating"].notna().sum() == 4  # the parquet view, read through dbt-duckdb's external location
    assert built["clicks_2d"].notna().sum() > 0  # the aggregated view
    assert latest["user_id"].tolist() == [1, 2, 3] and latest["clicks"].tolist() == [11, 20, 31]

    # The contract's tests catch what breaks it: a row from the future, two rows for one key and time.
    with duckdb.connect(str(database)) as connection:
        connection.execute("INSERT INTO main.user_events VALUES (1, TIMESTAMP '2999-01-01', 1, 1.0), "
                           "(2, TIMESTAMP '2024-03-01 01:00:00', 21, 2.0)")  # fmt: skip
    out = run_dbt(project, "test", "--select", "source:user_events", ok=False)
    failed = [line for line in out.splitlines() if "FAIL" in line and "sqlfeat_" in line]
    assert any("not_in_future" in line for line in failed) and any("unique_combination" in line for line in failed), out


def test_postgres_dbt_build_equals_get_historical_features(tmp_path, postgres_dsn):
    import psycopg
    from psycopg.conninfo import conninfo_to_dict
    from services.emulators import unique_name
    from warehouses import drop_postgres_schema

    schema = unique_name("dbt", max_len=40)
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        _postgres_round_trip(tmp_path, postgres_dsn, schema, conninfo_to_dict(postgres_dsn))
    finally:
        drop_postgres_schema(postgres_dsn, schema)
        drop_postgres_schema(postgres_dsn, f"{schema}_out")


def _postgres_round_trip(tmp_path: Path, dsn: str, schema: str, info: dict) -> None:
    import psycopg
    import pyarrow as pa

    from sqlfeat.warehouses import warehouse_module

    offline = {"type": "postgres", "url": dsn}

    def write_table(name: str, frame: pd.DataFrame) -> None:
        with warehouse_module("postgres").connect(offline, tmp_path) as warehouse:
            warehouse.write_arrow(pa.Table.from_pandas(frame, preserve_index=False), name)

    write_table(f"{schema}.spine_rows", SPINE)
    store = make_store(tmp_path, offline, schema, write_table)
    try:
        expected = store.get_historical_features(entity_df=SPINE, features=store.get_feature_service("ranking")).to_df()
        export(store, tmp_path / "package")
    finally:
        store.close()
    profile = {
        "type": "postgres", "host": info.get("host", "127.0.0.1"), "port": int(info.get("port", 5432)),
        "user": info.get("user", "postgres"), "password": info.get("password", ""), "dbname": info.get("dbname", "test"),
        "schema": f"{schema}_out", "threads": 1,
    }  # fmt: skip
    project = consumer_project(tmp_path, tmp_path / "package", profile, f'select * from "{schema}"."spine_rows"\n')
    run_dbt(project, "deps")
    run_dbt(project, "build")
    with psycopg.connect(dsn) as connection:
        cursor = connection.execute(f'SELECT * FROM "{schema}_out"."ranking_training"')
        built = pd.DataFrame(cursor.fetchall(), columns=[c.name for c in cursor.description])
    assert_training_set(built, expected, "postgres")


def test_exported_sql_is_compiled_sql(tmp_path):
    """The training-set model is `sqlfeat compile`'s SQL with the relations read through dbt."""
    import duckdb

    database = tmp_path / "warehouse.duckdb"

    def write_table(name: str, frame: pd.DataFrame) -> None:
        with duckdb.connect(str(database)) as connection:
            connection.register("frame", frame)
            connection.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")

    store = make_store(tmp_path, {"type": "duckdb", "database": str(database)}, "main", write_table)
    store.close()
    export(store, tmp_path / "package")
    model = (tmp_path / "package" / "models" / "ranking_training.sql").read_text()
    body = model.split("\n\n", 1)[1].strip()
    for jinja, table in [("{{ ref('training_rows') }}", '"main"."spine"'),
                         ("{{ source('user_events', 'user_events') }}", '"main"."user_events"'),
                         ("{{ source('user_profiles', 'user_profiles') }}", '"main"."user_profiles"')]:  # fmt: skip
        assert jinja in body
        body = body.replace(jinja, table)
    result = CliRunner().invoke(cli, ["--chdir", str(store.repo_path), "compile", "--feature-service", "ranking",
                                      "--spine-table", "main.spine"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert body == result.output.strip().rstrip(";")
    sources = yaml.safe_load((tmp_path / "package" / "models" / "sources.yml").read_text())["sources"]
    events = next(s for s in sources if s["name"] == "user_events")
    assert events["schema"] == "main" and events["tables"][0]["identifier"] == "user_events"
    assert events["tables"][0]["freshness"] == {"warn_after": {"count": 1440, "period": "minute"}}


def test_feature_list_training_set_and_re_export(tmp_path):
    """-f gives a training set too; re-exporting without it deletes that model and nothing else."""
    import duckdb

    database = tmp_path / "warehouse.duckdb"

    def write_table(name: str, frame: pd.DataFrame) -> None:
        with duckdb.connect(str(database)) as connection:
            connection.register("frame", frame)
            connection.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")

    store = make_store(tmp_path, {"type": "duckdb", "database": str(database)}, "main", write_table)
    store.close()
    out = tmp_path / "package"
    base = ["--chdir", str(store.repo_path), "dbt", "export", "--out", str(out)]
    result = CliRunner().invoke(cli, [*base, "--training-set", "clicks_only", "-f", "clicks:clicks",
                                      "--spine-model", "rows", "--timestamp-column", "ts"])  # fmt: skip
    assert result.exit_code == 0, result.output
    model = (out / "models" / "clicks_only.sql").read_text()
    assert "{{ ref('rows') }}" in model and '"ts"' in model and '"tier"' not in model
    (out / "models" / "mine.sql").write_text("select 1")
    result = CliRunner().invoke(cli, base)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "models").iterdir()) == [
        "clicks.sql", "mine.sql", "profile.sql", "schema.yml", "sources.yml"]
    result = CliRunner().invoke(cli, [*base, "-f", "clicks:clicks"])
    assert result.exit_code == 2 and "--training-set" in result.output


def test_export_never_writes_into_a_folder_it_does_not_own(tmp_path):
    store = FeatureStore(repo_path=write_repo(tmp_path / "repo"))
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    from sqlfeat.dbt import export_package

    with pytest.raises(OutputPathError, match="did not create it"):
        export_package(store, out)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
