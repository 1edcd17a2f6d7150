"""A watermark belongs to (project, view, online store): change any of them and nothing is lost.

Renaming ``project:``, pointing Redis at another database, SQLite at another file or DynamoDB at
another table or region must not inherit the old watermarks: ``plan`` and ``apply`` say so, the
next ``materialize-incremental`` backfills the full history, reads find the values and the
consistency check passes. Concurrent ``apply`` and ``materialize`` never lose each other's writes.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from online.helpers import DAY0, T, open_store, simple_table, simple_view
from sqlfeat import FeatureStore
from sqlfeat.cli import cli
from sqlfeat.errors import RegistryError
from sqlfeat.repo import collect

ROWS = [(u, DAY0 + timedelta(days=1, seconds=u), 100 + u) for u in range(1, 9)]


def _rewrite(root: Path, change) -> None:
    path = root / "feature_store.yaml"
    config = yaml.safe_load(path.read_text())
    change(config)
    path.write_text(yaml.safe_dump(config))


def _cleanup_redis(address: str, projects: list[str], dbs: list[int]) -> None:
    import redis

    host, _, port = address.rpartition(":")
    for db in dbs:
        client = redis.Redis(host=host, port=int(port), db=db)
        for project in projects:
            keys = list(client.scan_iter(match=f"{project}:*"))
            if keys:
                client.unlink(*keys)
        client.close()


def _moves(request, project: str):
    """(first online_store, a change of feature_store.yaml, cleanup) for each kind of move."""
    kind = request.param
    if kind == "project renamed":
        return {"type": "sqlite", "path": "data/online.db"}, lambda c: c.update(project=project + "_renamed"), None
    if kind == "sqlite path":
        return {"type": "sqlite", "path": "data/online.db"}, lambda c: c["online_store"].update(path="data/other.db"), None
    if kind == "redis db":
        address = request.getfixturevalue("redis_address")
        online = {"type": "redis", "connection_string": f"{address},db=1"}
        move = lambda c: c["online_store"].update(connection_string=f"{address},db=2")  # noqa: E731
        return online, move, lambda: _cleanup_redis(address, [project], [1, 2])
    endpoint = request.getfixturevalue("moto_endpoint")
    online = {"type": "dynamodb", "region": "us-east-1", "table_name": f"t1_{project}", "endpoint_url": endpoint}
    if kind == "dynamodb table":
        return online, lambda c: c["online_store"].update(table_name=f"t2_{project}"), None
    return online, lambda c: c["online_store"].update(region="eu-west-1"), None


@pytest.fixture(params=["project renamed", "sqlite path", "redis db", "dynamodb table", "dynamodb region"])
def move(request, project):
    online, change, cleanup = _moves(request, project)
    yield online, change
    if cleanup:
        cleanup()


def test_a_new_online_store_is_backfilled_in_full(tmp_path, project, move):
    online, change = move
    root = tmp_path / "repo"
    store = open_store(root, project, online, {"simple": simple_table(ROWS)}, [simple_view()])
    (root / "features.py").write_text("from online.helpers import simple_view\n\nsimple = simple_view()\n")
    assert store.materialize_incremental(T).rows == len(ROWS)
    assert store.check_consistency().ok
    before = store.online_target
    _rewrite(root, change)

    moved = FeatureStore(repo_path=root)
    assert moved.online_target != before
    plan = moved.plan()
    assert plan.is_empty and len(plan.notices) == 1, plan.notices
    assert "feature view simple was materialized into" in plan.notices[0] and "backfills its full history" in plan.notices[0]
    assert before.store in plan.notices[0] and moved.online_target.store in plan.notices[0]
    out = CliRunner().invoke(cli, ["--chdir", str(root), "apply"])
    assert out.exit_code == 0 and "Online store changed" in out.output and "No changes" in out.output, out.output

    report = moved.materialize_incremental(T)
    assert report.runs[0].start is None and report.rows == len(ROWS), "the new store gets the full history"
    values = moved.get_online_features(["simple:value"], [{"user_id": u} for u, _, _ in ROWS], as_of=T).to_dict()
    assert values["value"] == [v for _, _, v in ROWS]
    consistency = moved.check_consistency()
    assert consistency.ok and consistency.views[0].matched == len(ROWS), consistency.summary()
    assert moved.plan().notices == [], "once materialized there, nothing more to say"


def test_consistency_of_a_store_never_filled_says_so(tmp_path, project):
    root = tmp_path / "repo"
    store = open_store(root, project, {"type": "sqlite", "path": "data/a.db"}, {"simple": simple_table(ROWS)}, [simple_view()])
    store.materialize_incremental(T)
    _rewrite(root, lambda c: c["online_store"].update(path="data/b.db"))
    report = FeatureStore(repo_path=root).check_consistency()
    assert not report.ok and "never materialized" in report.summary(), "not '0% consistent' against an empty store"


def test_concurrent_apply_and_materialize_keep_both_writes(tmp_path, project, monkeypatch):
    """An apply that validates slowly while a materialization records its watermark must not
    write back the registry it read before: the watermark survives, the new view lands."""
    root = tmp_path / "repo"
    store = open_store(root, project, {"type": "sqlite", "path": "data/online.db"},
                       {"simple": simple_table(ROWS), "other": simple_table(ROWS)}, [simple_view()])  # fmt: skip
    slow_apply = FeatureStore(repo_path=root)
    validating, release = threading.Event(), threading.Event()
    original = FeatureStore._validate

    def slow_validate(self, plan):
        original(self, plan)
        validating.set()
        assert release.wait(30)

    monkeypatch.setattr(FeatureStore, "_validate", slow_validate)
    worker_errors: list[BaseException] = []

    def apply_other() -> None:
        try:
            slow_apply.apply([simple_view(name="other")])
        except BaseException as err:  # noqa: BLE001 - reported by the assertion below
            worker_errors.append(err)

    worker = threading.Thread(target=apply_other)
    worker.start()
    assert validating.wait(30)
    store.materialize_incremental(T, ["simple"])  # records its watermark while apply validates
    release.set()
    worker.join(30)
    assert worker_errors == []
    on_disk = FeatureStore(repo_path=root).registry
    assert on_disk.materialization("simple")["watermark"] == T.isoformat(), "the watermark was not erased"
    assert "other" in on_disk.feature_views(), "the apply landed"


def test_two_applies_of_different_definitions_do_not_both_win(tmp_path, project, monkeypatch):
    root = tmp_path / "repo"
    open_store(root, project, {"type": "sqlite", "path": "data/online.db"},
               {"simple": simple_table(ROWS), "other": simple_table(ROWS)}, [simple_view()])  # fmt: skip
    first, second = FeatureStore(repo_path=root), FeatureStore(repo_path=root)
    plan = first.registry.plan(collect([simple_view(name="other")]), partial=True)
    second.apply([simple_view(ttl=timedelta(days=3))])  # lands between first's plan and its write
    with pytest.raises(RegistryError, match="changed while this apply was validating"):
        first.registry.apply(plan)
    assert FeatureStore(repo_path=root).registry.feature_views()["simple"].ttl == timedelta(days=3)
