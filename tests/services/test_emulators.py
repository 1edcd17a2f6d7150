"""Smoke tests: each real client library works against its local stand-in.

Run: ``make -f mk/services.mk services services-clients`` once, then
``.venv/bin/python -m pytest tests/services -q``.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import stat
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pytest

from . import emulators
from .emulators import ServiceStartError, unique_name

# The session-scoped server fixtures come from tests/conftest.py (tests/services/fixtures.py).

UTC = dt.timezone.utc


# --------------------------------------------------------------------------- helpers


def test_unique_name_is_a_safe_identifier():
    names = {unique_name("Feat-View 1") for _ in range(50)}
    assert len(names) == 50
    for name in names:
        assert name.startswith("feat_view_1_")
        assert name.replace("_", "").isalnum() and name == name.lower()
    assert unique_name("9lives").startswith("t_9lives_")
    assert unique_name("pg").startswith("t_pg_")  # PostgreSQL reserves pg_* schemas
    assert len(unique_name("x" * 200)) <= 60


def test_start_failure_reports_log_tail(tmp_path, monkeypatch):
    script = tmp_path / "fakesnow"
    script.write_text("#!/bin/sh\necho 'boom: cannot bind the moon' >&2\nexit 3\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("SQLFEAT_FAKESNOW_BIN", str(script))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the kept log lands here
    with pytest.raises(ServiceStartError) as info:
        with emulators.fakesnow_server(timeout=10):
            pass  # pragma: no cover
    msg = str(info.value)
    assert "exited with code 3" in msg and "boom: cannot bind the moon" in msg


def test_missing_binary_says_how_to_build(monkeypatch, tmp_path):
    monkeypatch.setenv("SQLFEAT_LOCAL_BIGQUERY_BIN", str(tmp_path / "nope"))
    with pytest.raises(ServiceStartError, match="SQLFEAT_LOCAL_BIGQUERY_BIN"):
        with emulators.local_bigquery_server():
            pass  # pragma: no cover


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still "exists": check its state
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_server_and_its_children_are_stopped(tmp_path, monkeypatch):
    """The context manager waits for the server to answer, then ends its whole group."""
    child_file = tmp_path / "child.pid"
    script = tmp_path / "fakesnow"
    # argv: -s --host 127.0.0.1 -p PORT ; leaves a grandchild in the same process group
    script.write_text(
        "#!/bin/sh\n"
        f"sleep 300 & echo $! > '{child_file}'\n"
        f"exec '{sys.executable}' -m http.server --bind \"$3\" \"$5\"\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("SQLFEAT_FAKESNOW_BIN", str(script))
    with emulators.fakesnow_server(timeout=30) as kwargs:
        port = kwargs["port"]
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
        child = int(child_file.read_text())
        assert _alive(child)
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


# --------------------------------------------------------------------------- Snowflake


def test_snowflake_connector_against_fakesnow(fakesnow_conn_kwargs):
    import snowflake.connector

    schema = unique_name("sf").upper()
    conn = snowflake.connector.connect(**fakesnow_conn_kwargs)
    try:
        cur = conn.cursor()
        cur.execute(f"CREATE SCHEMA {schema}")
        cur.execute(f"CREATE TABLE {schema}.EVENTS (ENTITY_ID INT, TS TIMESTAMP_NTZ, V FLOAT)")
        # default paramstyle is pyformat (%s, client-side); executemany of an INSERT
        # becomes one multi-row INSERT.
        cur.executemany(
            f"INSERT INTO {schema}.EVENTS VALUES (%s, %s, %s)",
            [
                (1, dt.datetime(2024, 1, 1, 10), 1.5),
                (1, dt.datetime(2024, 1, 2, 10), 2.5),
                (2, dt.datetime(2024, 1, 1, 0), 3.0),
                (3, None, 4.0),
            ],
        )
        latest = f"""
            SELECT ENTITY_ID, TS, DATEADD(hour, -1, TS) AS TS_MINUS_1H, V
            FROM {schema}.EVENTS
            WHERE TS IS NOT NULL AND TS <= %s
            QUALIFY ROW_NUMBER() OVER (PARTITION BY ENTITY_ID ORDER BY TS DESC) = 1
            ORDER BY ENTITY_ID
        """
        cur.execute(latest, (dt.datetime(2024, 1, 3),))
        assert cur.fetchall() == [
            (1, dt.datetime(2024, 1, 2, 10), dt.datetime(2024, 1, 2, 9), 2.5),
            (2, dt.datetime(2024, 1, 1, 0), dt.datetime(2023, 12, 31, 23), 3.0),
        ]

        cur.execute(latest, (dt.datetime(2024, 1, 3),))
        table = cur.fetch_arrow_all()
        assert table.column_names == ["ENTITY_ID", "TS", "TS_MINUS_1H", "V"]
        assert table.column("ENTITY_ID").to_pylist() == [1, 2]
        assert table.column("TS").to_pylist() == [dt.datetime(2024, 1, 2, 10), dt.datetime(2024, 1, 1)]
        assert str(table.schema.field("TS").type).startswith("timestamp")

        cur.execute(latest, (dt.datetime(2024, 1, 3),))
        df = cur.fetch_pandas_all()
        assert list(df["ENTITY_ID"]) == [1, 2]
        assert list(df["V"]) == [2.5, 3.0]
        assert str(df["TS"].dtype).startswith("datetime64")
        assert df["TS_MINUS_1H"].iloc[0].to_pydatetime() == dt.datetime(2024, 1, 2, 9)

        # NULL timestamps are NULL inside the engine ...
        cur.execute(f"SELECT COUNT(*), COUNT(TS) FROM {schema}.EVENTS")
        assert cur.fetchall() == [(4, 3)]
        # ... but fakesnow's server mode sends them back as the epoch (its bug): never
        # rely on fetching a NULL TIMESTAMP through fakesnow.
        cur.execute(f"SELECT TS FROM {schema}.EVENTS WHERE ENTITY_ID = 3")
        assert cur.fetchone()[0] in (None, dt.datetime(1970, 1, 1))
        cur.execute(f"DROP SCHEMA {schema} CASCADE")
    finally:
        conn.close()


# --------------------------------------------------------------------------- BigQuery


def test_bigquery_client_against_local_bigquery(bigquery_info):
    import pandas as pd
    from google.cloud import bigquery

    client = emulators.bigquery_client(bigquery_info)
    dataset = unique_name("bq")
    table_id = f"{bigquery_info['project']}.{dataset}.events"
    try:
        client.create_dataset(dataset)
        frame = pd.DataFrame(
            {
                "entity_id": [1, 1, 2, 3],
                "ts": pd.to_datetime(
                    ["2024-01-01 10:00", "2024-01-02 10:00", "2024-01-01 00:00", None], utc=True
                ),
                "v": [1.5, 2.5, 3.0, 4.0],
            }
        )
        with warnings.catch_warnings():
            # "will require pandas-gbq" / "loading DataFrames ... is deprecated"
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            client.load_table_from_dataframe(frame, table_id).result()
        table = client.get_table(table_id)
        assert [(f.name, f.field_type) for f in table.schema] == [
            ("entity_id", "INTEGER"),
            ("ts", "TIMESTAMP"),
            ("v", "FLOAT"),
        ]
        assert table.num_rows == 4

        sql = f"""
            SELECT entity_id, ts, TIMESTAMP_SUB(ts, INTERVAL 1 HOUR) AS ts_minus_1h, v
            FROM `{table_id}`
            WHERE ts <= @as_of
            QUALIFY ROW_NUMBER() OVER (PARTITION BY entity_id ORDER BY ts DESC) = 1
            ORDER BY entity_id
        """
        job_config = bigquery.QueryJobConfig(
            query_parameters=[
                bigquery.ScalarQueryParameter("as_of", "TIMESTAMP", dt.datetime(2024, 1, 3, tzinfo=UTC))
            ]
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            out = client.query(sql, job_config=job_config).to_dataframe(create_bqstorage_client=False)
        assert list(out["entity_id"]) == [1, 2]
        assert list(out["v"]) == [2.5, 3.0]
        assert [t.to_pydatetime() for t in out["ts"]] == [
            dt.datetime(2024, 1, 2, 10, tzinfo=UTC),
            dt.datetime(2024, 1, 1, 0, tzinfo=UTC),
        ]
        assert out["ts_minus_1h"].iloc[1].to_pydatetime() == dt.datetime(2023, 12, 31, 23, tzinfo=UTC)

        # a NULL TIMESTAMP really comes back as NULL here (unlike fakesnow)
        rows = list(client.query(f"SELECT ts FROM `{table_id}` WHERE entity_id = 3").result())
        assert [r["ts"] for r in rows] == [None]
    finally:
        client.delete_dataset(dataset, delete_contents=True, not_found_ok=True)
        client.close()


# --------------------------------------------------------------------------- DynamoDB


def test_boto3_dynamodb_against_moto(moto_endpoint):
    import boto3

    ddb = boto3.client("dynamodb", **emulators.aws_client_kwargs(moto_endpoint))
    name = unique_name("ddb")
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    try:
        ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
        items = {f"user#{i}": i * 1.5 for i in range(30)}
        keys = list(items)
        for start in range(0, len(keys), 25):  # BatchWriteItem takes at most 25 requests
            requests = {
                name: [
                    {"PutRequest": {"Item": {"pk": {"S": k}, "score": {"N": str(items[k])}}}}
                    for k in keys[start : start + 25]
                ]
            }
            while requests:
                requests = ddb.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}

        got: dict[str, float] = {}
        pending = {name: {"Keys": [{"pk": {"S": k}} for k in keys + ["user#missing"]]}}
        while pending:
            resp = ddb.batch_get_item(RequestItems=pending)
            for item in resp["Responses"].get(name, []):
                got[item["pk"]["S"]] = float(item["score"]["N"])
            pending = resp.get("UnprocessedKeys") or {}
        assert got == items  # the missing key is simply absent
    finally:
        ddb.delete_table(TableName=name)


# --------------------------------------------------------------------------- PostgreSQL


def test_psycopg_against_postgres(postgres_dsn):
    import psycopg

    schema = unique_name("pg")
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        try:
            conn.execute(f"CREATE SCHEMA {schema}")
            conn.execute(f"CREATE TABLE {schema}.events (entity_id int, ts timestamptz, v float8)")
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO {schema}.events VALUES (%s, %s, %s)",
                    [
                        (1, dt.datetime(2024, 1, 1, 10, tzinfo=UTC), 1.5),
                        (1, dt.datetime(2024, 1, 2, 10, tzinfo=UTC), 2.5),
                        (2, None, 3.0),
                    ],
                )
            # no QUALIFY in PostgreSQL: the subquery form
            rows = conn.execute(
                f"""SELECT entity_id, ts, v FROM (
                        SELECT *, ROW_NUMBER() OVER (PARTITION BY entity_id ORDER BY ts DESC NULLS LAST) AS rn
                        FROM {schema}.events) t
                    WHERE rn = 1 ORDER BY entity_id"""
            ).fetchall()
            assert rows == [(1, dt.datetime(2024, 1, 2, 10, tzinfo=UTC), 2.5), (2, None, 3.0)]
        finally:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        left = conn.execute(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = %s", (schema,)
        ).fetchone()
        assert left == (0,)


# --------------------------------------------------------------------------- Redis


def test_redis_ping_and_pipeline(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    prefix = unique_name("rd")
    try:
        assert client.ping() is True
        pipe = client.pipeline(transaction=False)
        pipe.set(f"{prefix}:a", b"1", ex=60)
        pipe.hset(f"{prefix}:h", mapping={"f1": "x", "f2": "2.5"})
        pipe.expire(f"{prefix}:h", 60)
        pipe.get(f"{prefix}:a")
        pipe.hgetall(f"{prefix}:h")
        pipe.get(f"{prefix}:missing")
        results = pipe.execute()
        assert results == [True, 2, True, b"1", {b"f1": b"x", b"f2": b"2.5"}, None]
    finally:
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()
