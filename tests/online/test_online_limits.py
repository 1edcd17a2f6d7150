"""Entities an online store cannot hold: rejected by name, counted, the rest written, the run failed.

DynamoDB (moto's server, both write modes): a partition key over 2,048 bytes and an item over
400 KB are refused before sending, named in the report and the error, and read back as nulls,
while every other entity of the same batch (the same 25-item BatchWriteItem) is written. Big but
legal items are sent in requests under 16 MB and read back across 16 MB responses. Materialization
counts rejections of any store (a SQLite store with a made-up limit shows it is store-neutral).
"""

from __future__ import annotations

import json
from datetime import timedelta

import pyarrow as pa
import pytest
from click.testing import CliRunner

from online.helpers import DAY0, T, open_store, simple_table, simple_view, shop
from sqlfeat import FeatureView, Field, FileSource
from sqlfeat.cli import cli
from sqlfeat.errors import OnlineStoreError, RejectedEntitiesError
from sqlfeat.online.base import Rejection, WriteResult, key_values
from sqlfeat.online.dynamodb_limits import ITEM_BYTES, KEY_BYTES, REQUEST_BYTES, WRITE_ITEMS
from sqlfeat.online.materialize import EXAMPLES, materialize
from sqlfeat.online.sqlite import SqliteOnlineStore
from sqlfeat.types import Int64, String

DYNAMODB = pytest.mark.parametrize("online_config", ["dynamodb", "dynamodb-batch"], indirect=True)
LONG_KEY = "€" * 1_000  # 1,000 characters, 3,000 bytes: a character count would let it through
BIG_VALUE = "x" * 500_000


def limits_view() -> FeatureView:
    source = FileSource(name="limits", path="data/limits.parquet", timestamp_field="event_time")
    return FeatureView(name="limits", entities=[shop], schema=[Field("value", Int64), Field("blob", String)], source=source)


def limits_table(rows: list[tuple[str, int, str]]) -> pa.Table:
    return pa.table({
        "shop": pa.array([r[0] for r in rows], pa.string()),
        "event_time": pa.array([DAY0 + timedelta(days=1)] * len(rows), pa.timestamp("us", tz="UTC")),
        "value": pa.array([r[1] for r in rows], pa.int64()), "blob": pa.array([r[2] for r in rows], pa.string()),
    })  # fmt: skip


def sent_requests(store) -> list[tuple[str, bytes]]:
    """Every DynamoDB request the store sends from now on: (operation, the JSON body as sent)."""
    sent: list[tuple[str, bytes]] = []
    store.online_store.client.meta.events.register(
        "before-call.dynamodb", lambda model, params, **_: sent.append((model.name, params["body"]))
    )
    return sent


def keys_in(sent: list[tuple[str, bytes]]) -> list[str]:
    """The partition keys of every item put and every key asked for."""
    keys = []
    for operation, raw in sent:
        body = json.loads(raw)
        if operation == "PutItem":
            keys.append(body["Item"][":key"]["S"])
        for requests in body.get("RequestItems", {}).values():
            if isinstance(requests, dict):  # BatchGetItem
                keys.extend(key[":key"]["S"] for key in requests["Keys"])
            else:
                keys.extend(r["PutRequest"]["Item"][":key"]["S"] for r in requests if "PutRequest" in r)
    return keys


@pytest.fixture
def oversized(tmp_path, project, online_config):
    """Five normal entities (one with a key of exactly 2,048 bytes) and three DynamoDB cannot hold."""
    prefix = f"{project}:limits:"
    edge = "é" * ((KEY_BYTES - len(prefix)) // 2) + "a" * ((KEY_BYTES - len(prefix)) % 2)
    assert len((prefix + edge).encode()) == KEY_BYTES
    normal = [("a", 1, "one"), ("b,c", 2, "two"), ("ü", 3, ""), (edge, 4, "edge"), ("e", 5, "ü" * 1_000)]
    bad = [(LONG_KEY, 6, "long key"), (edge + "a", 7, "one byte too long"), ("big", 8, BIG_VALUE)]
    store = open_store(tmp_path / "repo", project, online_config, {"limits": limits_table(normal + bad)}, [limits_view()])
    return store, normal, bad


@DYNAMODB
def test_oversized_entities_are_rejected_by_name_and_the_rest_is_written(oversized):
    store, normal, bad = oversized
    sent = sent_requests(store)
    with pytest.raises(RejectedEntitiesError) as raised:
        store.materialize(DAY0, T)
    report = raised.value.report
    (run,) = report.runs
    assert (run.rows, run.rejected, report.rows, report.rejected, report.ok) == (5, 3, 5, 3, False)
    assert run.reasons == {f"DynamoDB partition key over {KEY_BYTES:,} bytes": 2, f"DynamoDB item over {ITEM_BYTES:,} bytes": 1}
    by_key = {tuple(r.key.values())[0]: r for r in run.examples}
    assert set(by_key) == {LONG_KEY, normal[3][0] + "a", "big"}
    prefix = len(f"{store.project}:limits:")
    assert (by_key[LONG_KEY].size, by_key[normal[3][0] + "a"].size) == (prefix + 3_000, KEY_BYTES + 1)
    assert by_key["big"].size > 500_000 and by_key["big"].limit == "DynamoDB item"

    # Refused before sending: nothing too long or too big ever left the process.
    assert sorted(set(keys_in(sent))) == sorted(f"{store.project}:limits:{shop}" for shop, _, _ in normal)
    assert all(len(body) < 100_000 for _, body in sent)

    message = str(raised.value)
    assert "3 entities were not written to dynamodb online store" in message and "feature view 'limits'" in message
    assert f"shop='{'€' * 20}" in message and "(1,000 chars): DynamoDB partition key is" in message
    assert f"over the {KEY_BYTES:,}-byte limit; shorten the entity key" in message
    assert "rerunning will not write these" in message and "it converges" not in message
    summary = report.summary()
    assert "limits: 5 entities from" in summary and "3 entities NOT written: 2 DynamoDB partition key over" in summary
    assert "shop='big': DynamoDB item is 500,0" in summary and "feature 'blob' alone takes 500,004 bytes" in summary

    rows = [{"shop": s} for s, _, _ in normal + bad]
    got = store.get_online_features(["limits:value", "limits:blob"], rows).to_dict()
    assert got["value"] == [v for _, v, _ in normal] + [None, None, None]
    assert got["blob"] == [b for _, _, b in normal] + [None, None, None]
    assert max(len(key.encode()) for key in keys_in(sent)) == KEY_BYTES, "a key too long to exist is never asked for"


@DYNAMODB
def test_a_run_with_rejections_moves_the_watermark_and_a_rerun_rejects_them_again(oversized):
    store, normal, _ = oversized
    with pytest.raises(RejectedEntitiesError):
        store.materialize_incremental(T)
    record = store.registry.materialization("limits")
    assert (record["watermark"], record["rows"]) == (T.isoformat(), 5), "rejections are final: the watermark moves"
    later = store.materialize_incremental(T + timedelta(days=1))
    assert later.ok and later.runs[0].start == T and later.rows == 0

    with pytest.raises(RejectedEntitiesError) as again:  # a backfill over the same rows: the same refusals
        store.materialize(DAY0, T)
    assert again.value.report.rejected == 3 and again.value.report.rows == 5
    got = store.get_online_features(["limits:value"], [{"shop": s} for s, _, _ in normal]).to_dict()
    assert got["value"] == [v for _, v, _ in normal]


@pytest.mark.parametrize("online_config", ["dynamodb-batch"], indirect=True)
def test_cli_prints_the_rejected_entities_and_exits_1(oversized):
    store, _, _ = oversized
    result = CliRunner().invoke(cli, ["--chdir", str(store.repo_path), "materialize", "2024-01-01", "2024-02-01"])
    assert result.exit_code == 1, result.output
    output = result.output
    assert "limits: 5 entities from 2024-01-01T00:00:00+00:00" in output
    assert "3 entities NOT written: 2 DynamoDB partition key over 2,048 bytes, 1 DynamoDB item over 409,600 bytes" in output
    assert "shop='big': DynamoDB item is" in output and "shrink its values" in output
    assert "Error: 3 entities were not written to dynamodb online store" in output and "Traceback" not in output
    incremental = CliRunner().invoke(cli, ["--chdir", str(store.repo_path), "materialize-incremental", "2024-02-02"])
    assert incremental.exit_code == 0 and "NOT written" not in incremental.output, incremental.output


@pytest.mark.parametrize("online_config", ["dynamodb-batch"], indirect=True)
def test_large_legal_items_go_in_requests_under_16_mb_and_come_back_whole(tmp_path, project, online_config):
    # 130,000 three-byte characters: 390,000 bytes stored, 780,000 as sent (each one is \uXXXX),
    # so 25 of them would make a 19.5 MB request; 45 of them are 17.5 MB stored, over one response.
    rows = [(f"s{i:02d}", i, chr(0x4E00 + i) * 130_000) for i in range(45)]
    store = open_store(tmp_path / "repo", project, online_config, {"limits": limits_table(rows)}, [limits_view()])
    sent = sent_requests(store)
    report = store.materialize(DAY0, T)
    assert (report.rows, report.rejected) == (45, 0)
    writes = [body for operation, body in sent if operation == "BatchWriteItem"]
    sizes = [len(body) for body in writes]
    assert len(writes) >= 3 and max(sizes) <= REQUEST_BYTES, sizes
    counts = [len(json.loads(body)["RequestItems"][online_config["table_name"]]) for body in writes]
    assert sum(counts) == 45 and max(counts) <= WRITE_ITEMS, counts

    del sent[:]
    got = store.get_online_features(["limits:blob"], [{"shop": s} for s, _, _ in rows]).to_dict()
    assert got["blob"] == [blob for _, _, blob in rows]
    reads = [body for operation, body in sent if operation == "BatchGetItem"]
    assert len(reads) >= 2, "moto answers at most 16 MB: the rest came back unprocessed and was asked again"


@pytest.mark.parametrize("online_config", ["dynamodb"], indirect=True)
def test_a_request_dynamodb_refuses_is_not_called_transient(oversized, monkeypatch):
    """If sqlfeat's count ever missed, DynamoDB's refusal must not be sold as "rerun: it converges"."""
    from sqlfeat.online import dynamodb

    store, _, _ = oversized
    monkeypatch.setattr(dynamodb, "within_limits", lambda view, batch, items, bound: (items, [], bound))
    with pytest.raises(OnlineStoreError) as raised:
        store.materialize(DAY0, T)
    message = str(raised.value)
    assert "refused writing an item as invalid" in message and "This is not transient" in message
    assert "Rerunning will fail the same way" in message and "it converges" not in message
    assert raised.value.transient is False and store.registry.materialization("limits") is None


# -- any store: materialization counts what write_batch rejects -----------------------------------
class OddsRejected(SqliteOnlineStore):
    """SQLite with a made-up limit: odd user ids of view 'simple' are refused; 'fail' views fail."""

    def write_batch(self, view, batch):
        if view.name == "fail":
            raise OnlineStoreError("the store went away")
        if view.name != "simple":
            return super().write_batch(view, batch)
        ids = batch.column("user_id").to_pylist()
        odd = [row for row, user in enumerate(ids) if user % 2]
        kept = super().write_batch(view, batch.filter(pa.array([user % 2 == 0 for user in ids])))
        rejected = [Rejection(view.name, key_values(view, batch, row), "test record", 10, 5, "use even ids") for row in odd]
        return WriteResult(kept.rows, rejected)


@pytest.fixture
def odd_store(tmp_path, project):
    rows = [(u, DAY0 + timedelta(days=1), u) for u in range(1, 21)]
    tables = {"simple": simple_table(rows), "other": simple_table(rows), "fail": simple_table(rows)}
    views = [simple_view(), simple_view(name="other"), simple_view(name="fail")]
    store = open_store(tmp_path / "repo", project, {"type": "sqlite", "path": "data/online.db"}, tables, views)
    store._online = OddsRejected(tmp_path / "repo" / "data" / "online.db")
    return store


def test_rejections_are_counted_across_batches_and_views_of_any_store(odd_store):
    seen = []
    with pytest.raises(RejectedEntitiesError) as raised:
        materialize(odd_store, DAY0, T, ["simple", "other"], batch_rows=3, on_progress=lambda r, run: seen.append(r.finished))
    report = raised.value.report
    simple, other = report.runs
    assert simple.batches >= 4 and (simple.rows, simple.rejected, other.rows, other.rejected) == (10, 10, 20, 0)
    assert simple.reasons == {"test record over 5 bytes": 10} and len(simple.examples) == EXAMPLES
    named = [r.key["user_id"] for r in simple.examples]
    assert len(set(named)) == EXAMPLES and all(u % 2 for u in named), "the first few, by their join-key values"
    assert "10 entities NOT written: 10 test record over 5 bytes (and 5 more)" in report.summary()
    assert f"user_id={named[0]}: test record is 10 bytes, over the 5-byte limit; use even ids" in report.summary()
    assert seen[-1] is True, "the run finished (progress told so) before the error"
    assert {v: odd_store.registry.materialization(v)["rows"] for v in ("simple", "other")} == {"simple": 10, "other": 20}
    got = odd_store.get_online_features(["simple:value", "other:value_text"], [{"user_id": 1}, {"user_id": 2}]).to_dict()
    assert got == {"user_id": [1, 2], "value": [None, 2], "value_text": ["1", "2"]}, "the other entities and views are written"


def test_a_later_failure_still_says_which_entities_no_rerun_will_write(odd_store):
    with pytest.raises(OnlineStoreError) as raised:
        odd_store.materialize(DAY0, T, ["simple", "fail"])
    message = str(raised.value)
    assert not isinstance(raised.value, RejectedEntitiesError)
    assert "no watermark moved. Rerun the same command: it converges." in message
    assert "It will not write the 10 entities this run rejected" in message
    assert odd_store.registry.materialization("simple") is None
