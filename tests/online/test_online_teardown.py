"""Deleting a feature view deletes its online values (on every online store), and only those of
this project in the store its watermark names; a store that cannot be reached leaves the deletion
pending in the registry, never lost, and a re-created view never reads the old records."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from online.helpers import DAY0, T, layout, open_store, simple_table, simple_view, user
from sqlfeat import FeatureStore, FeatureView, Field, FileSource
from sqlfeat.cli import cli
from sqlfeat.errors import OnlineStoreError, TeardownPendingError
from sqlfeat.online.base import OnlineView
from sqlfeat.online.response import FieldStatus
from sqlfeat.types import Int64, String

USERS = range(1, 31)
ROWS = [(u, DAY0 + timedelta(days=1, hours=u), u) for u in USERS]
ENTITY_ROWS = [{"user_id": u} for u in USERS]


def stored(store: FeatureStore, project: str, view: str, users=USERS) -> int:
    """How many of ``users`` have a record of ``view`` in the store, read straight from it."""
    bare = OnlineView(project, view, ("user_id",), (Int64,), (), ())
    return sum(ts is not None for ts in store.online_store.read(bare, [], [str(u) for u in users]).event_ts)


def recreated() -> FeatureView:
    """``simple`` again, with another schema: a String ``value`` and no ``value_text``."""
    source = FileSource(name="simple", path="data/simple.parquet", timestamp_field="event_time",
                        created_timestamp_column="created")  # fmt: skip
    return FeatureView(name="simple", entities=[user], schema=[Field("value_text", String)], source=source)


@pytest.fixture
def store(tmp_path, project, online_config) -> FeatureStore:
    tables = {"simple": simple_table(ROWS), "other": simple_table(ROWS)}
    store = open_store(tmp_path / "repo", project, online_config, tables, [user, simple_view(), simple_view(name="other")])
    store.materialize_incremental(T)
    assert stored(store, project, "simple") == stored(store, project, "other") == len(USERS)
    return store


def test_deleting_a_view_deletes_its_online_values_and_only_them(store, project, online_config, tmp_path):
    # Another project in the same online store, with a view of the same name.
    config = dict(online_config)
    if config["type"] == "sqlite":
        config["path"] = str(store.online_store.path)
    neighbour = open_store(tmp_path / "neighbour", f"{project}_b", config, {"simple": simple_table(ROWS)},
                           [user, simple_view()])  # fmt: skip
    neighbour.materialize_incremental(T)
    try:
        plan = store.plan(_contents(store, simple=False))
        removal = next(c for c in plan.changes if c.kind == "feature_views" and c.name == "simple")
        target = store.online_target
        assert removal.details == (f"apply deletes its online values from {target.describe()}",)
        assert [t.view for t in plan.teardowns] == ["simple"]

        applied = store.apply([user, simple_view(name="other")], partial=False)
        assert [t.view for t in applied.teardowns] == ["simple"]
        assert stored(store, project, "simple") == 0, "the deleted view's records are gone"
        assert stored(store, project, "other") == len(USERS), "another view's are untouched"
        assert stored(neighbour, f"{project}_b", "simple") == len(USERS), "another project's are untouched"
        assert store.registry.pending_teardowns() == [] and store.registry.materialization("simple") is None

        # Re-created (another schema): nothing served before it is materialized again.
        store.apply([user, recreated(), simple_view(name="other")], partial=False)
        got = store.get_online_features(["simple:value_text"], ENTITY_ROWS, as_of=T)
        assert got.to_dict()["value_text"] == [None] * len(USERS)
        assert got.statuses()["value_text"] == [FieldStatus.NOT_FOUND] * len(USERS)
        store.materialize_incremental(T)
        assert store.get_online_features(["simple:value_text"], ENTITY_ROWS[:2], as_of=T).to_dict()["value_text"] == ["1", "2"]
    finally:
        neighbour.online_store.teardown(layout(neighbour, "simple"))


def test_deleting_an_entity_with_its_view_and_feasts_objects_to_delete(store, project):
    other = simple_view(name="other")
    # Feast's signature: apply(objects, objects_to_delete, partial=True).
    plan = store.apply([], objects_to_delete=[simple_view()], partial=True)
    assert [(c.action, c.name) for c in plan.changes] == [("remove", "simple")]
    assert stored(store, project, "simple") == 0 and stored(store, project, "other") == len(USERS)

    # The entity goes, and with it its last view: its values go too.
    plan = store.apply([], objects_to_delete=[other, user], partial=True)
    assert {(c.kind, c.name) for c in plan.changes} == {("feature_views", "other"), ("entities", "user")}
    assert stored(store, project, "other") == 0
    assert store.list_feature_views() == [] and store.registry.pending_teardowns() == []


def fail_teardowns(monkeypatch, store: FeatureStore) -> list[str]:
    """Make the configured store's teardown fail as an unreachable store does."""
    attempts: list[str] = []
    online = store.online_store

    def unreachable(view: OnlineView) -> None:
        attempts.append(view.name)
        raise online.unreachable(ConnectionRefusedError("connection refused"), f"deleting feature view {view.name!r}")

    monkeypatch.setattr(type(online), "teardown", lambda self, view: unreachable(view))
    return attempts


def test_an_unreachable_store_leaves_the_deletion_pending_and_a_recreated_view_unserved(
    store, project, monkeypatch
):  # fmt: skip
    attempts = fail_teardowns(monkeypatch, store)
    with pytest.raises(TeardownPendingError) as failure:
        store.apply([user, simple_view(name="other")], partial=False)
    message = str(failure.value)
    assert "could not be deleted" in message and "connection refused" in message and "pending" in message
    assert failure.value.plan is not None and [(c.kind, c.name) for c in failure.value.plan.changes if c.action == "remove"] == [
        ("data_sources", "simple"), ("feature_views", "simple")]
    assert attempts == ["simple"]
    # The registry says what is true: the view is gone from the definitions, its values are not.
    store.refresh_registry()
    assert "simple" not in {v.name for v in store.list_feature_views()}
    assert [(t.view, t.target) for t in store.registry.pending_teardowns()] == [("simple", store.online_target)]
    assert stored(store, project, "simple") == len(USERS)
    assert [t.view for t in store.plan(_contents(store, simple=False)).teardowns] == ["simple"], "plan says so"

    # Re-created with another schema while the store still fails: registered, but never served.
    with pytest.raises(TeardownPendingError):
        store.apply([user, recreated(), simple_view(name="other")], partial=False)
    store.refresh_registry()
    assert "simple" in {v.name for v in store.list_feature_views()}
    with pytest.raises(TeardownPendingError, match="deleted and re-created") as refused:
        store.get_online_features(["simple:value_text"], ENTITY_ROWS, as_of=T)
    assert "sqlfeat apply" in str(refused.value)
    assert store.get_online_features(["other:value"], ENTITY_ROWS[:1], as_of=T).to_dict()["value"] == [1]

    # The store is back: the next apply (no changes) finishes the deletion.
    monkeypatch.undo()
    plan = store.apply([user, recreated(), simple_view(name="other")], partial=False)
    assert plan.is_empty and [t.view for t in plan.teardowns] == ["simple"]
    assert stored(store, project, "simple") == 0 and store.registry.pending_teardowns() == []
    got = store.get_online_features(["simple:value_text"], ENTITY_ROWS, as_of=T).to_dict()
    assert got["value_text"] == [None] * len(USERS), "the re-created view never read the old records"


def _contents(store: FeatureStore, simple: bool):
    from sqlfeat.repo import RepoContents

    views = [simple_view(name="other"), *([recreated()] if simple else [])]
    return RepoContents(entities=[user], feature_views=views, data_sources=[v.source for v in views])


def test_materializing_a_recreated_view_deletes_the_old_records_first(store, project, monkeypatch):
    fail_teardowns(monkeypatch, store)
    with pytest.raises(TeardownPendingError):
        store.apply([user, simple_view(name="other")], partial=False)
    with pytest.raises(TeardownPendingError):
        store.apply([user, recreated(), simple_view(name="other")], partial=False)
    monkeypatch.undo()
    # Fewer entities in the new data: old records of the others must not survive.
    from online.helpers import write_tables

    write_tables(store.repo_path, {"simple": simple_table(ROWS[:3])})
    store.refresh_registry()
    store.materialize_incremental(T)
    assert store.registry.pending_teardowns() == []
    assert stored(store, project, "simple") == 3
    got = store.get_online_features(["simple:value_text"], ENTITY_ROWS[:5], as_of=T).to_dict()["value_text"]
    assert got == ["1", "2", "3", None, None]


@pytest.mark.parametrize("online_config", ["sqlite"], indirect=True)
def test_values_in_another_online_store_are_only_deleted_through_it(store, project, tmp_path):
    repo = Path(store.repo_path)
    config = yaml.safe_load((repo / "feature_store.yaml").read_text())
    first = dict(config["online_store"])
    config["online_store"] = {"type": "sqlite", "path": "data/elsewhere.db"}
    (repo / "feature_store.yaml").write_text(yaml.safe_dump(config))
    moved = FeatureStore(repo_path=repo)
    plan = moved.apply([user, simple_view(name="other")], partial=False)
    removal = next(c for c in plan.changes if c.name == "simple" and c.kind == "feature_views")
    assert "stay in sqlite online store" in removal.details[0] and "not the configured online store" in removal.details[0]
    assert plan.teardowns == [] and not (repo / "data" / "elsewhere.db").exists(), "the configured store is not touched"
    assert not any("simple was materialized into" in n for n in plan.notices), "a deleted view is not to be backfilled"
    assert any("other was materialized into" in n for n in plan.notices), "a kept one is"
    assert stored(store, project, "simple") == len(USERS), "the first store's values were not touched either"
    notice = next(n for n in moved.plan(_contents(moved, simple=False)).notices if "simple" in n)
    assert "still in sqlite online store" in notice and "apply whose online_store points there" in notice

    config["online_store"] = first
    (repo / "feature_store.yaml").write_text(yaml.safe_dump(config))
    back = FeatureStore(repo_path=repo)
    assert [t.view for t in back.apply([user, simple_view(name="other")], partial=False).teardowns] == ["simple"]
    assert stored(back, project, "simple") == 0 and back.registry.pending_teardowns() == []


def test_an_unreachable_redis_leaves_the_deletion_pending_until_an_apply_reaches_it(tmp_path, project, own_redis):
    """A real outage: the test's own redis-server is killed before the apply, restarted after."""
    port, start, servers = own_redis
    online = {"type": "redis", "connection_string": f"127.0.0.1:{port}"}
    tables = {"simple": simple_table(ROWS), "other": simple_table(ROWS)}
    store = open_store(tmp_path / "repo", project, online, tables, [user, simple_view(), simple_view(name="other")])
    store.materialize_incremental(T)
    servers[-1].kill()
    servers[-1].wait()
    with pytest.raises(TeardownPendingError, match="could not be deleted") as failure:
        store.apply([user, simple_view(name="other")], partial=False)
    assert isinstance(failure.value, OnlineStoreError) and f"127.0.0.1:{port}" in str(failure.value)
    store.refresh_registry()
    assert [t.view for t in store.registry.pending_teardowns(store.online_target)] == ["simple"]

    start()  # the same server, its data intact (append-only file)
    store.close_online()
    assert stored(store, project, "simple") == len(USERS), "still there: the registry was right to keep it pending"
    assert [t.view for t in store.apply([user, simple_view(name="other")], partial=False).teardowns] == ["simple"]
    assert stored(store, project, "simple") == 0 and stored(store, project, "other") == len(USERS)
    assert store.registry.pending_teardowns() == []


@pytest.mark.parametrize("online_config", ["sqlite"], indirect=True)
def test_cli_plan_and_apply_say_what_happens_to_online_values(store, monkeypatch):
    repo = Path(store.repo_path)
    definitions = '''
from sqlfeat import Entity, FeatureView, Field, FileSource, ValueType
from sqlfeat.types import Int64, String

user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)
other = FeatureView(
    name="other", entities=[user], schema=[Field("value", Int64), Field("value_text", String)],
    source=FileSource(name="other", path="data/other.parquet", timestamp_field="event_time",
                      created_timestamp_column="created"),
)
'''
    (repo / "views.py").write_text(definitions)
    invoke = lambda *args: CliRunner().invoke(cli, ["--chdir", str(repo), *args])
    planned = invoke("plan")
    assert planned.exit_code == 0, planned.output
    assert "- feature view simple" in planned.output
    assert f"apply deletes its online values from {store.online_target.describe()}" in planned.output

    fail_teardowns(monkeypatch, store)
    failed = invoke("apply")
    assert failed.exit_code == 1, failed.output
    assert "- feature view simple" in failed.output and "Registry written to" in failed.output
    assert "Error: the online values of deleted feature view(s) simple could not be deleted" in failed.output
    assert "Pending: the online values of feature view simple in" in invoke("plan").output

    monkeypatch.undo()
    done = invoke("apply")
    assert done.exit_code == 0, done.output
    assert f"Deleted the online values of feature view simple in {store.online_target.describe()}" in done.output
    assert "Pending" not in invoke("plan").output
