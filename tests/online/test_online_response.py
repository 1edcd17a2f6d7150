"""``OnlineResponse`` in Feast's shapes, with a status per value, on every online store; and
``sqlfeat get-online-features`` saying why a value is null."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pyarrow as pa
import pytest
from click.testing import CliRunner

from online.helpers import DAY0, T, open_store, simple_table, simple_view
from sqlfeat.cli import cli
from sqlfeat.online.response import FieldStatus

PRESENT, NULL_VALUE, NOT_FOUND, OUTSIDE_MAX_AGE = (
    FieldStatus.PRESENT, FieldStatus.NULL_VALUE, FieldStatus.NOT_FOUND, FieldStatus.OUTSIDE_MAX_AGE,
)  # fmt: skip
FIRST = DAY0 + timedelta(days=1, microseconds=250_001)  # sub-second: the __ts seconds truncate it
SECOND = DAY0 + timedelta(days=3)
AS_OF = SECOND + timedelta(hours=12)


def seconds(when: datetime) -> int:
    return int((when - datetime(1970, 1, 1, tzinfo=when.tzinfo)).total_seconds())


@pytest.fixture
def store(tmp_path, project, online_config):
    tables = {
        # user 1: expired at AS_OF (1-day TTL); user 2: a null value, fresh.
        "simple": simple_table([(1, FIRST, 10), (2, SECOND, None)]),
        "forever": simple_table([(1, FIRST, 11)]),
    }
    views = [simple_view(ttl=timedelta(days=1)), simple_view(name="forever")]
    store = open_store(tmp_path / "repo", project, online_config, tables, views)
    store.materialize_incremental(T)
    return store


FEATURES = ["simple:value", "simple:value_text", "forever:value_text"]
ROWS = [{"user_id": 1}, {"user_id": 2}, {"user_id": 9}]


def test_every_value_has_feasts_status(store):
    response = store.get_online_features(FEATURES, ROWS, full_feature_names=True, as_of=AS_OF)
    assert response.to_dict() == {
        "user_id": [1, 2, 9], "simple__value": [None, None, None], "simple__value_text": [None, "None", None],
        "forever__value_text": ["11", None, None],
    }  # fmt: skip
    assert response.statuses() == {
        "user_id": [PRESENT] * 3,
        "simple__value": [OUTSIDE_MAX_AGE, NULL_VALUE, NOT_FOUND],
        "simple__value_text": [OUTSIDE_MAX_AGE, PRESENT, NOT_FOUND],
        "forever__value_text": [PRESENT, NOT_FOUND, NOT_FOUND],
    }
    assert [int(s) for s in response.statuses()["simple__value"]] == [4, 2, 3], "Feast's FieldStatus numbers"
    # Within the TTL the same record is PRESENT: the status follows the read's instant.
    fresh = store.get_online_features(["simple:value"], [{"user_id": 1}], as_of=FIRST + timedelta(days=1))
    assert fresh.to_dict()["value"] == [10] and fresh.statuses()["value"] == [PRESENT]
    # As of before a record's event time it is not that time's value either, TTL or not.
    early = store.get_online_features(["forever:value_text"], [{"user_id": 1}], as_of=FIRST - timedelta(microseconds=1))
    assert early.to_dict()["value_text"] == [None] and early.statuses()["value_text"] == [OUTSIDE_MAX_AGE]
    assert early.explain_nulls() == [
        f"forever for user_id=1 is OUTSIDE_MAX_AGE: its event time {FIRST.isoformat()} is after "
        f"{(FIRST - timedelta(microseconds=1)).isoformat()}: the online store keeps only the newest record, so the "
        "value as of then is not online (get_historical_features has it)"
    ]
    assert store.get_online_features(["forever:value_text"], [{"user_id": 1}]).statuses()["value_text"] == [PRESENT]


def test_to_dict_with_event_timestamps_is_feasts_shape(store):
    response = store.get_online_features(FEATURES, ROWS, full_feature_names=True, as_of=AS_OF)
    got = response.to_dict(include_event_timestamps=True)
    assert list(got) == [
        "user_id", "user_id__ts", "simple__value", "simple__value__ts", "simple__value_text",
        "simple__value_text__ts", "forever__value_text", "forever__value_text__ts",
    ]  # fmt: skip
    assert got["user_id__ts"] == [None, None, None], "join keys have no event time"
    # The expired record still tells when it was written: that is why it reads null.
    assert got["simple__value__ts"] == [seconds(FIRST), seconds(SECOND), None]
    assert got["forever__value_text__ts"] == [seconds(FIRST), None, None]
    assert response.event_timestamps()["simple__value"] == [FIRST, SECOND, None], "exact, to the microsecond"
    assert response.to_dict() == {k: v for k, v in got.items() if not k.endswith("__ts")}


def test_to_df_and_to_arrow_keep_the_declared_types(store):
    response = store.get_online_features(["simple:value", "forever:value_text"], ROWS, as_of=AS_OF)
    frame = response.to_df(include_event_timestamps=True)
    assert list(frame.columns) == ["user_id", "user_id__ts", "value", "value__ts", "value_text", "value_text__ts"]
    assert str(frame["value__ts"].dtype) == "Int64" and frame["value__ts"].tolist()[:2] == [seconds(FIRST), seconds(SECOND)]
    assert list(response.to_df().columns) == ["user_id", "value", "value_text"]
    table = response.to_arrow()
    # Every value of `value` is null here: the column still has its declared type, not Arrow's null.
    assert table.schema.field("value").type == pa.int64() and table.column("value").null_count == 3
    assert table.schema.field("value_text").type == pa.string()
    assert response.to_arrow(include_event_timestamps=True).schema.field("value__ts").type == pa.int64()


def test_json_is_strict_and_carries_statuses(store):
    response = store.get_online_features(FEATURES, ROWS, full_feature_names=True, as_of=AS_OF)
    parsed = json.loads(response.to_json(include_statuses=True, include_event_timestamps=True))
    assert parsed["simple__value__status"] == ["OUTSIDE_MAX_AGE", "NULL_VALUE", "NOT_FOUND"]
    assert "user_id__status" not in parsed, "join keys are inputs: no status"
    assert parsed["simple__value__ts"][0] == seconds(FIRST)
    assert json.loads(response.to_json()) == response.to_dict()


def test_explain_nulls_names_the_reason_and_for_an_expired_record_its_time_and_ttl(store):
    response = store.get_online_features(FEATURES, ROWS, full_feature_names=True, as_of=AS_OF)
    lines = response.explain_nulls()
    assert lines == [
        f"simple for user_id=1 is OUTSIDE_MAX_AGE: its event time {FIRST.isoformat()} is more than the view's ttl "
        f"(1 day) before {AS_OF.isoformat()}; read it as of {FIRST.isoformat()} (as_of=, or --as-of) to see the "
        "value it had then",
        "simple__value of simple for user_id=2 is NULL_VALUE: the source row it was materialized from holds null",
        "simple for user_id=9 is NOT_FOUND: the online store has no record of it (not materialized yet, or no source "
        "row for it)",
        "forever for user_id=2 is NOT_FOUND: the online store has no record of it (not materialized yet, or no "
        "source row for it)",
        "forever for user_id=9 is NOT_FOUND: the online store has no record of it (not materialized yet, or no "
        "source row for it)",
    ]
    assert response.explain_nulls(limit=2)[-1] == "... and 3 more"
    assert store.get_online_features(["forever:value_text"], [{"user_id": 1}]).explain_nulls() == []
    now = store.get_online_features(["simple:value"], [{"user_id": 1}]).explain_nulls()
    assert len(now) == 1 and "(now)" in now[0], "without as_of the TTL is measured from now, and it says so"


def cli_run(repo, *args: str) -> tuple[str, str]:
    result = CliRunner().invoke(cli, ["--chdir", str(repo), *args])
    assert result.exit_code == 0, result.output
    return result.stdout, result.stderr


@pytest.mark.parametrize("online_config", ["sqlite"], indirect=True)
def test_cli_prints_statuses_and_says_why_a_value_is_null(store):
    args = ["get-online-features", "-f", "simple:value,forever:value_text", "-e", "user_id=1", "-e", "user_id=9"]
    stdout, stderr = cli_run(store.repo_path, *args)
    parsed = json.loads(stdout)  # stdout stays strict JSON: the explanation is on stderr
    assert parsed["value"] == [None, None] and parsed["value__status"] == ["OUTSIDE_MAX_AGE", "NOT_FOUND"]
    assert parsed["value_text"] == ["11", None] and parsed["value_text__status"] == ["PRESENT", "NOT_FOUND"]
    assert stderr.startswith("Null values:\n")
    assert f"simple for user_id=1 is OUTSIDE_MAX_AGE: its event time {FIRST.isoformat()}" in stderr
    assert "ttl (1 day)" in stderr and "(now)" in stderr and "simple for user_id=9 is NOT_FOUND" in stderr

    # --as-of reads it as of then: the value, PRESENT, and nothing to explain.
    stdout, stderr = cli_run(store.repo_path, *args, "--as-of", (FIRST + timedelta(hours=1)).isoformat(),
                             "--include-event-timestamps")  # fmt: skip
    parsed = json.loads(stdout)
    assert parsed["value"] == [10, None] and parsed["value__status"] == ["PRESENT", "NOT_FOUND"]
    assert parsed["value__ts"] == [seconds(FIRST), None] and "user_id__ts" in parsed
    assert "OUTSIDE_MAX_AGE" not in stderr and "simple for user_id=9 is NOT_FOUND" in stderr
