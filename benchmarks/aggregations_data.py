"""Data for benchmarks/aggregations.py: click events and spines, generated with numpy, cached.

Events (``events.parquet``, written in event-time order like an append-only log):
``user_id`` int64 uniform in [1, users], ``event_time`` timestamp[us, UTC] uniform over ``days``
days from 2025-01-01, ``click_id`` int64 (unique, never null), ``dwell_seconds`` float64 (gamma,
5% null). 1% of the events are given the (user, event_time) of another event, so tied event times
exist: the window bound and the prefix-sum plans must treat ties alike.

Spines (``spine_<size>.parquet``): ``user_id``, ``event_timestamp`` timestamp[us, UTC] (whole
seconds), ``label`` int64, random row order. Most rows are uniform; a few probe the window edges
(see :func:`generate_spine`).

Bump ``DATA_VERSION`` when the shape or distribution changes (it is part of the cache key).
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
WINDOW_DAYS = (1, 7, 30)
SPINE_TS = "event_timestamp"


@dataclass(frozen=True)
class Params:
    events: int
    users: int
    days: int
    seed: int

    @property
    def span_us(self) -> int:
        return self.days * C.US_PER_DAY

    def data_dir(self, workdir: Path) -> Path:
        key = C.cache_key(agg=DATA_VERSION, events=self.events, users=self.users, days=self.days, seed=self.seed)
        return workdir / key

    def events_path(self, workdir: Path) -> Path:
        return self.data_dir(workdir) / "repo" / "data" / "events.parquet"

    def repo_dir(self, workdir: Path) -> Path:
        return self.data_dir(workdir) / "repo"

    def spine_path(self, workdir: Path, size: int) -> Path:
        return self.data_dir(workdir) / f"spine_{size}.parquet"


def _ts(us: np.ndarray) -> pa.Array:
    return pa.array(us, type=pa.timestamp("us", tz="UTC"))


def generate_events(p: Params) -> pa.Table:
    rng = np.random.default_rng([p.seed, 7])
    n = p.events
    users = rng.integers(1, p.users + 1, size=n, dtype=np.int64)
    ts = C.uniform_times(rng, n, START_US, p.span_us)
    # 1% ties: event b takes the user and the time of event a.
    k = n // 100
    pick = rng.choice(n, size=2 * k, replace=False)
    a, b = pick[:k], pick[k:]
    users[b], ts[b] = users[a], ts[a]
    order = np.argsort(ts, kind="stable")
    users, ts = users[order], ts[order]
    click_id = rng.permutation(n).astype(np.int64) + 1
    dwell = np.round(rng.gamma(2.0, 15.0, size=n), 3)
    return pa.table(
        {
            "user_id": pa.array(users),
            "event_time": _ts(ts),
            "click_id": pa.array(click_id),
            "dwell_seconds": pa.array(dwell, mask=rng.random(n) < 0.05),
        }
    )


def generate_spine(p: Params, size: int, events: pa.Table) -> pa.Table:
    """Spine rows: users uniform, times (whole seconds) uniform over the period, a 0/1 label.

    Edge probes (fractions of the rows): 1% exactly on an event's time (``event_ts <= t`` is
    inclusive); 1% each exactly 1, 7 and 30 days after an event (``t - window < event_ts`` is
    exclusive: that event is out of that window, still in the wider ones); 0.5% one microsecond
    before an event; 0.5% unknown users (count 0, the rest null); 0.5% exact duplicates of other
    spine rows (same user and time: each keeps its own label and row). Row order is random.
    """
    rng = np.random.default_rng([p.seed, 1000, size])
    users = rng.integers(1, p.users + 1, size=size, dtype=np.int64)
    ts = C.uniform_times(rng, size, START_US, p.span_us) // 1_000_000 * 1_000_000
    ev_users = events.column("user_id").to_numpy()
    ev_ts = events.column("event_time").cast(pa.int64()).to_numpy()
    pos = 0

    def take(k: int, offset_us: int) -> None:
        nonlocal pos
        pick = rng.integers(0, len(ev_ts), size=k)
        users[pos : pos + k] = ev_users[pick]
        ts[pos : pos + k] = ev_ts[pick] + offset_us
        pos += k

    day = C.US_PER_DAY
    take(size // 100, 0)
    for d in WINDOW_DAYS:
        take(size // 100, d * day)
    take(size // 200, -1)
    k = size // 200
    users[pos : pos + k] = p.users + 1 + np.arange(k)
    pos += k
    k = size // 200
    src = rng.integers(pos + k, size, size=k)
    users[pos : pos + k], ts[pos : pos + k] = users[src], ts[src]
    perm = rng.permutation(size)
    label = rng.integers(0, 2, size=size, dtype=np.int64)
    return pa.table({"user_id": pa.array(users[perm]), SPINE_TS: _ts(ts[perm]), "label": pa.array(label)})


def ensure_data(p: Params, workdir: Path, sizes: list[int]) -> None:
    """Generate the events and whatever spines of ``sizes`` are not cached yet."""
    ev_path = p.events_path(workdir)
    missing = [s for s in sizes if not p.spine_path(workdir, s).exists()]
    if ev_path.exists() and not missing:
        C.log(f"data: cached in {p.data_dir(workdir)}")
        return
    t0 = time.perf_counter()
    if ev_path.exists():
        events = pq.read_table(ev_path, columns=["user_id", "event_time"])
    else:
        events = generate_events(p)
        C.write_parquet_atomic(events, ev_path, row_group_size=1_000_000)
    for s in missing:
        C.write_parquet_atomic(generate_spine(p, s, events), p.spine_path(workdir, s))
    C.log(
        f"data: {p.events:,} events, spines {missing} ready in {time.perf_counter() - t0:.1f} s -> "
        f"{p.data_dir(workdir)}"
    )


def load_spine(p: Params, workdir: Path, size: int) -> pd.DataFrame:
    return pq.read_table(p.spine_path(workdir, size)).to_pandas()


def load_events(p: Params, workdir: Path) -> pd.DataFrame:
    return pq.read_table(p.events_path(workdir)).to_pandas()
