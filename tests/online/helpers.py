"""Feature repos and data for the online suite: every dtype, nulls, arrays, composite keys."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from sqlfeat import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
from sqlfeat.types import Array, Bool, Bytes, Float32, Float64, Int32, Int64, String, UnixTimestamp

UTC = timezone.utc
DAY0 = datetime(2024, 1, 1, tzinfo=UTC)
T = datetime(2024, 2, 1, tzinfo=UTC)
USERS = 12

user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)
shop = Entity(name="shop", join_keys=["shop"], value_type=ValueType.STRING)

TYPED_SCHEMA = [
    Field("i32", Int32), Field("i64", Int64), Field("f32", Float32), Field("f64", Float64), Field("s", String),
    Field("b", Bool), Field("by", Bytes), Field("ts", UnixTimestamp), Field("ai", Array(Int64)),
    Field("af", Array(Float64)), Field("a_s", Array(String)), Field("ab", Array(Bool)), Field("aby", Array(Bytes)),
    Field("ats", Array(UnixTimestamp)),
]  # fmt: skip
ARROW = {
    "i32": pa.int32(), "i64": pa.int64(), "f32": pa.float32(), "f64": pa.float64(), "s": pa.string(),
    "b": pa.bool_(), "by": pa.binary(), "ts": pa.timestamp("us", tz="UTC"), "ai": pa.list_(pa.int64()),
    "af": pa.list_(pa.float64()), "a_s": pa.list_(pa.string()), "ab": pa.list_(pa.bool_()),
    "aby": pa.list_(pa.binary()), "ats": pa.list_(pa.timestamp("us", tz="UTC")),
}  # fmt: skip


def layout(store: FeatureStore, view: str):
    """The online layout of ``view`` (every feature) as materialization writes it."""
    from sqlfeat.compiler import plan_view
    from sqlfeat.online.base import OnlineView

    registry = store.registry
    return OnlineView.from_request(store.project, plan_view(view, registry.feature_views(), registry.entities()))


def write_repo(root: Path, project: str, online: dict, tables: dict[str, pa.Table]) -> Path:
    (root / "data").mkdir(parents=True, exist_ok=True)
    config = {
        "project": project, "registry": "data/registry.json", "offline_store": {"type": "duckdb"},
        "online_store": online,
    }  # fmt: skip
    (root / "feature_store.yaml").write_text(yaml.safe_dump(config))
    write_tables(root, tables)
    return root


def write_tables(root: Path, tables: dict[str, pa.Table]) -> None:
    for name, table in tables.items():
        pq.write_table(table, root / "data" / f"{name}.parquet")


def open_store(root: Path, project: str, online: dict, tables: dict[str, pa.Table], objects: list) -> FeatureStore:
    store = FeatureStore(repo_path=write_repo(root, project, online, tables))
    store.apply(objects)
    return store


def _values(user_id: int, day: int) -> dict:
    """One row's features; a few users get nulls, NaN, empty arrays and null elements."""
    n = user_id * 10 + day
    when = DAY0 + timedelta(days=day, microseconds=n)
    row = {
        "i32": -n, "i64": n * 10**12, "f32": n / 3, "f64": n / 7 if user_id != 5 else float("nan"),
        "s": f"user {user_id} day {day} ü,\\", "b": n % 2 == 0, "by": bytes([n % 256, 0, 255]),
        "ts": when - timedelta(days=400), "ai": [n, None, -n], "af": [n / 9, float("inf")],
        "a_s": [f"s{n}", None, ""], "ab": [True, None, False], "aby": [b"\x00" + bytes([n % 256]), None],
        "ats": [when, None],
    }  # fmt: skip
    if user_id == 3:  # its newest row is all null
        row = {name: None for name in row}
    if user_id == 7:
        row.update(ai=[], a_s=[], aby=[], ats=[], by=b"", s="")
    if user_id == 8:
        row.update(i32=None, f32=None, ai=None, ts=None)
    return row


def typed_table(users: int = USERS, days: tuple[int, ...] = (1, 2, 3)) -> pa.Table:
    """Rows per user per day, with a late correction (same event time, later created) for user 2."""
    rows = []
    for user_id in range(1, users + 1):
        for day in days:
            event = DAY0 + timedelta(days=day, hours=user_id)
            rows.append({"user_id": user_id, "event_time": event, "created": event + timedelta(minutes=5),
                         **_values(user_id, day)})  # fmt: skip
    newest = DAY0 + timedelta(days=max(days), hours=2)
    correction = dict(next(r for r in rows if r["user_id"] == 2 and r["event_time"] == newest))
    correction.update(created=correction["created"] + timedelta(hours=1), i64=-1, s="corrected")
    rows.append(correction)
    schema = pa.schema([
        ("user_id", pa.int64()), ("event_time", pa.timestamp("us", tz="UTC")),
        ("created", pa.timestamp("us", tz="UTC")), *ARROW.items(),
    ])  # fmt: skip
    return pa.Table.from_pylist(rows, schema=schema)


def typed_view(ttl: timedelta | None = None, name: str = "typed") -> FeatureView:
    source = FileSource(name=name, path=f"data/{name}.parquet", timestamp_field="event_time",
                        created_timestamp_column="created")  # fmt: skip
    return FeatureView(name=name, entities=[user], schema=TYPED_SCHEMA, source=source, ttl=ttl)


def pair_table() -> pa.Table:
    """A composite key whose string part holds the separator and the escape character."""
    shops = ["plain", "a,b", "a", "b,", "c\\d", "c\\,d", ""]
    rows = [
        {"user_id": u, "shop": s, "event_time": DAY0 + timedelta(days=1 + i), "spend": float(u * 100 + i)}
        for u in (1, 2) for i, s in enumerate(shops)
    ]  # fmt: skip
    schema = pa.schema([("user_id", pa.int64()), ("shop", pa.string()), ("event_time", pa.timestamp("us", tz="UTC")),
                        ("spend", pa.float64())])  # fmt: skip
    return pa.Table.from_pylist(rows, schema=schema)


def pair_view() -> FeatureView:
    source = FileSource(name="pair", path="data/pair.parquet", timestamp_field="event_time")
    return FeatureView(name="pair", entities=[user, shop], schema=[Field("spend", Float64)], source=source)


def simple_table(rows: list[tuple[int, datetime, int]], created: list[datetime] | None = None) -> pa.Table:
    """``(user_id, event_time, value)`` rows, with ``value_text`` = str(value) to detect mixes."""
    columns = {
        "user_id": pa.array([r[0] for r in rows], pa.int64()),
        "event_time": pa.array([r[1] for r in rows], pa.timestamp("us", tz="UTC")),
        "created": pa.array(created or [r[1] for r in rows], pa.timestamp("us", tz="UTC")),
        "value": pa.array([r[2] for r in rows], pa.int64()),
        "value_text": pa.array([str(r[2]) for r in rows], pa.string()),
    }
    return pa.table(columns)


def simple_view(ttl: timedelta | None = None, name: str = "simple") -> FeatureView:
    source = FileSource(name=name, path=f"data/{name}.parquet", timestamp_field="event_time",
                        created_timestamp_column="created")  # fmt: skip
    return FeatureView(name=name, entities=[user], schema=[Field("value", Int64), Field("value_text", String)],
                       source=source, ttl=ttl)  # fmt: skip
