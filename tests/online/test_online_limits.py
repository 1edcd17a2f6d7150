"""Entities an online store cannot hold: rejected by name, counted, the rest written, the run failed.

Materialization counts what any store's ``write_batch`` rejects (here a SQLite store with a
made-up limit): per view, across batches, the first few named; the run ends in
``RejectedEntitiesError`` after moving its watermarks.
"""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pytest

from online.helpers import DAY0, T, open_store, simple_table, simple_view
from sqlfeat.errors import OnlineStoreError, RejectedEntitiesError
from sqlfeat.online.base import Rejection, WriteResult, key_values
from sqlfeat.online.materialize import EXAMPLES, materialize
from sqlfeat.online.sqlite import SqliteOnlineStore


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
