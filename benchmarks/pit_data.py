"""Data for benchmarks/pit.py: the three feature views, their generated parquet files and spines.

Everything is generated with numpy from ``--seed`` and cached in the workdir, in a directory named
after the parameters (see :meth:`Params.data_dir`); bump ``DATA_VERSION`` when the shape or the
distribution of the data changes.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

import _common as C
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

DATA_VERSION = 1
START = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
START_US = int(START.timestamp()) * 1_000_000
SPINE_TS = "event_timestamp"
SPINE_COLUMNS = ["user_id", SPINE_TS, "label"]
CATEGORIES = [
    "books", "music", "movies", "games", "electronics", "computers", "home", "garden", "tools",
    "grocery", "health", "beauty", "toys", "kids", "baby", "clothing", "shoes", "jewelry",
    "sports", "outdoors", "automotive", "industrial", "pets", "office",
]  # fmt: skip


@dataclass(frozen=True)
class ViewSpec:
    name: str
    ttl_days: int | None
    features: tuple[tuple[str, str], ...]  # (column, sqlfeat.types name)
    created: str | None = None

    @property
    def ttl(self) -> dt.timedelta | None:
        return dt.timedelta(days=self.ttl_days) if self.ttl_days else None

    @property
    def ttl_seconds(self) -> int:
        return int(self.ttl.total_seconds()) if self.ttl else 0

    @property
    def feature_names(self) -> list[str]:
        return [f for f, _ in self.features]


VIEWS = (
    ViewSpec(
        "user_clicks", 30,
        (("click_count", "Int64"), ("avg_dwell_seconds", "Float32"), ("top_category", "String")),
        created="created",
    ),
    ViewSpec("user_orders", 90, (("order_count", "Int64"), ("order_value", "Float64"))),
    ViewSpec("user_profile", None, (("account_age_days", "Int32"), ("is_premium", "Bool"))),
)  # fmt: skip
FEATURE_REFS = [f"{v.name}:{f}" for v in VIEWS for f in v.feature_names]
FEATURE_NAMES = [f for v in VIEWS for f in v.feature_names]


@dataclass(frozen=True)
class Params:
    rows_per_view: int
    users: int
    days: int
    seed: int

    @property
    def span_us(self) -> int:
        return self.days * C.US_PER_DAY

    def data_dir(self, workdir: Path) -> Path:
        key = C.cache_key(v=DATA_VERSION, rows=self.rows_per_view, users=self.users, days=self.days, seed=self.seed)
        return workdir / key

    def repo_dir(self, workdir: Path) -> Path:
        return self.data_dir(workdir) / "repo"

    def view_path(self, workdir: Path, view: str) -> Path:
        return self.repo_dir(workdir) / "data" / f"{view}.parquet"

    def spine_path(self, workdir: Path, size: int) -> Path:
        return self.data_dir(workdir) / f"spine_{size}.parquet"


def _ts(us: np.ndarray) -> pa.Array:
    return pa.array(us, type=pa.timestamp("us", tz="UTC"))


def _with_nulls(rng: np.random.Generator, values: np.ndarray, frac: float, type_: pa.DataType) -> pa.Array:
    return pa.array(values, type=type_, mask=rng.random(len(values)) < frac)


def generate_view(p: Params, view: ViewSpec) -> pa.Table:
    """One view's rows: users uniform in [1, users], event times uniform over the period with no
    (user_id, event_time) repeats (so the PIT answer is unique without a created tie-break),
    written in event-time order like an append-only log."""
    rng = np.random.default_rng([p.seed, VIEWS.index(view)])
    n = p.rows_per_view
    users = rng.integers(1, p.users + 1, size=n, dtype=np.int64)
    ts = C.unique_event_times(rng, users, START_US, p.span_us)
    order = np.argsort(ts, kind="stable")
    users, ts = users[order], ts[order]
    cols: dict[str, pa.Array] = {"user_id": pa.array(users), "event_time": _ts(ts)}
    if view.name == "user_clicks":
        cols["created"] = _ts(ts + rng.integers(0, 3_600_000_000, size=n, dtype=np.int64))
        cols["click_count"] = pa.array(rng.poisson(5.0, size=n).astype(np.int64))
        dwell = rng.gamma(2.0, 15.0, size=n).astype(np.float32)
        cols["avg_dwell_seconds"] = _with_nulls(rng, dwell, 0.01, pa.float32())
        idx = rng.integers(0, len(CATEGORIES), size=n, dtype=np.int32)
        idx_arr = pa.array(idx, mask=rng.random(n) < 0.01)
        cols["top_category"] = pa.DictionaryArray.from_arrays(idx_arr, pa.array(CATEGORIES)).cast(pa.string())
    elif view.name == "user_orders":
        cols["order_count"] = pa.array(rng.integers(0, 50, size=n, dtype=np.int64))
        cols["order_value"] = pa.array(np.round(rng.gamma(2.0, 40.0, size=n), 2))
    elif view.name == "user_profile":
        cols["account_age_days"] = pa.array(rng.integers(0, 3650, size=n, dtype=np.int32))
        cols["is_premium"] = pa.array(rng.random(n) < 0.2)
    else:  # pragma: no cover
        raise ValueError(view.name)
    return pa.table(cols)


def generate_spine(p: Params, size: int, views: dict[str, pa.Table]) -> pa.Table:
    """Spine rows: users uniform, timestamps (whole seconds) uniform over the period, a label.

    A few rows probe the PIT edges so the correctness check means something: 1% sit exactly on a
    user_clicks event (``<=`` is inclusive), 1% exactly one TTL after a user_clicks event and 1%
    exactly one TTL after a user_orders event (the TTL bound is inclusive), 0.5% one microsecond
    before a user_clicks event, 0.5% are unknown users (every feature null).  Row order is random.
    """
    rng = np.random.default_rng([p.seed, 1000, size])
    users = rng.integers(1, p.users + 1, size=size, dtype=np.int64)
    ts = C.uniform_times(rng, size, START_US, p.span_us) // 1_000_000 * 1_000_000
    pos = 0

    def take(view: str, k: int, offset_us: int) -> None:
        nonlocal pos
        tbl = views[view]
        ev = tbl.column("event_time").cast(pa.int64()).to_numpy()
        ok = np.flatnonzero(ev + offset_us < START_US + p.span_us)
        pick = rng.choice(ok, size=k, replace=False)
        users[pos : pos + k] = tbl.column("user_id").to_numpy()[pick]
        ts[pos : pos + k] = ev[pick] + offset_us
        pos += k

    day = C.US_PER_DAY
    take("user_clicks", size // 100, 0)
    take("user_clicks", size // 100, 30 * day)
    take("user_orders", size // 100, 90 * day)
    take("user_clicks", size // 200, -1)
    k = size // 200
    users[pos : pos + k] = p.users + 1 + np.arange(k)
    perm = rng.permutation(size)
    label = rng.integers(0, 2, size=size, dtype=np.int64)
    return pa.table({"user_id": pa.array(users[perm]), SPINE_TS: _ts(ts[perm]), "label": pa.array(label)})


def ensure_data(p: Params, workdir: Path, sizes: list[int]) -> None:
    """Generate whatever view files and spines of ``sizes`` are not cached yet."""
    missing = [v for v in VIEWS if not p.view_path(workdir, v.name).exists()]
    missing_spines = [s for s in sizes if not p.spine_path(workdir, s).exists()]
    if not missing and not missing_spines:
        C.log(f"data: cached in {p.data_dir(workdir)}")
        return
    t0 = time.perf_counter()
    tables: dict[str, pa.Table] = {}
    for v in VIEWS:
        path = p.view_path(workdir, v.name)
        if v in missing:
            tables[v.name] = generate_view(p, v)
            C.write_parquet_atomic(tables[v.name], path)
        elif missing_spines:
            tables[v.name] = pq.read_table(path)
    # Every view is generated tie-free; re-check the one with a created column, which the DuckDB
    # ASOF baseline relies on (it does not implement the created-timestamp tie-break).
    a = tables.get("user_clicks")
    if a is not None:
        C.assert_no_ties(a.column("user_id").to_numpy(), a.column("event_time").cast(pa.int64()).to_numpy())
    for s in missing_spines:
        C.write_parquet_atomic(generate_spine(p, s, tables), p.spine_path(workdir, s))
    C.log(
        f"data: generated {len(missing)} view(s) x {p.rows_per_view:,} rows and spines {missing_spines} "
        f"in {time.perf_counter() - t0:.1f} s -> {p.data_dir(workdir)}"
    )


def load_spine(p: Params, workdir: Path, size: int) -> pd.DataFrame:
    return pq.read_table(p.spine_path(workdir, size)).to_pandas()
