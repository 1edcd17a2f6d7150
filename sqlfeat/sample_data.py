"""Realistic, reproducible sample data for `sqlfeat init` and `sqlfeat quickstart`.

The data ends today: its times are relative to ``end``, by default the start of the current day
(UTC), so right after `sqlfeat init` the README's serving example (`materialize-incremental now`,
then `get-online-features`) finds values inside the views' TTLs. The values are drawn from a
seeded generator, so the same seed and the same ``end`` give the same files.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from sqlfeat.files import atomic_path

CATEGORIES = np.array(["sports", "music", "news", "games", "fashion", "travel", "food", "tech"])
COUNTRIES = np.array(["CN", "US", "DE", "BR", "IN", "JP"])
DAYS = 180


def sample_end(now: datetime | str | None = None) -> pd.Timestamp:
    """Where the sample data ends: the start (00:00 UTC) of the day of ``now`` (default: today).
    Every event is before it; the last ones fall in the day before."""
    instant = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    instant = instant.tz_localize("UTC") if instant.tzinfo is None else instant.tz_convert("UTC")
    return instant.floor("D")


def user_clicks(users: int, rng: np.random.Generator, end: pd.Timestamp) -> pd.DataFrame:
    """One row per user per active day: that user's click statistics over the last 30 days.

    About 2% of rows are later corrections: the same event_time with a newer ``created`` stamp.
    """
    user_ids = np.repeat(np.arange(1, users + 1), DAYS)
    day = np.tile(np.arange(DAYS), users)
    active = rng.random(user_ids.size) < 0.6
    user_ids, day = user_ids[active], day[active]
    seconds = rng.integers(0, 86_400, user_ids.size)
    event_time = end - pd.to_timedelta(DAYS - day, unit="D") + pd.to_timedelta(seconds, unit="s")
    created = event_time + pd.to_timedelta(rng.integers(60, 3_600, user_ids.size), unit="s")
    frame = pd.DataFrame({
        "user_id": user_ids.astype("int64"),
        "event_time": event_time,
        "created": created,
        "click_count": rng.poisson(40, user_ids.size).astype("int64"),
        "avg_dwell_seconds": rng.gamma(2.0, 15.0, user_ids.size).astype("float32"),
        "top_category": CATEGORIES[rng.integers(0, CATEGORIES.size, user_ids.size)],
    })
    fixes = frame.sample(frac=0.02, random_state=int(rng.integers(1 << 31))).copy()
    fixes["created"] = fixes["created"] + pd.Timedelta(hours=6)
    fixes["click_count"] = fixes["click_count"] + rng.integers(1, 5, len(fixes))
    return pd.concat([frame, fixes], ignore_index=True).sort_values(["event_time", "created"], ignore_index=True)


def user_profile(users: int, rng: np.random.Generator, end: pd.Timestamp) -> pd.DataFrame:
    """A sign-up snapshot before the data's first day, then up to two updates."""
    snapshots = rng.integers(1, 4, users)
    user_ids = np.repeat(np.arange(1, users + 1), snapshots)
    first = np.r_[True, user_ids[1:] != user_ids[:-1]]
    offset = np.where(first, (DAYS + 1) * 86_400, rng.integers(0, DAYS * 86_400, user_ids.size))
    return pd.DataFrame({
        "user_id": user_ids.astype("int64"),
        "event_time": end - pd.to_timedelta(offset, unit="s"),
        "account_age_days": rng.integers(1, 2_000, user_ids.size).astype("int32"),
        "is_premium": rng.random(user_ids.size) < 0.2,
        "country": COUNTRIES[rng.integers(0, COUNTRIES.size, user_ids.size)],
    })


def spine(users: int, rows: int, rng: np.random.Generator, end: pd.Timestamp) -> pd.DataFrame:
    """Labelled training rows; about 1% name users the sources have never seen."""
    offset = rng.integers(0, DAYS * 86_400, rows)
    return pd.DataFrame({
        "user_id": rng.integers(1, int(users * 1.01) + 2, rows).astype("int64"),
        "event_timestamp": end - pd.to_timedelta(offset, unit="s"),
        "label": (rng.random(rows) < 0.3).astype("int64"),
    })


# The files `sqlfeat init` writes into data/, in the order their frames are drawn from one generator.
SAMPLE_FILES = ("user_clicks", "user_profile", "spine")


def sample_frames(
    users: int = 1_000, spine_rows: int = 5_000, seed: int = 7, end: pd.Timestamp | None = None
) -> dict[str, pd.DataFrame]:
    """The sample frames, ending at ``end`` (default: ``sample_end()``, today)."""
    rng = np.random.default_rng(seed)
    end = sample_end() if end is None else end
    makers = {"user_clicks": lambda: user_clicks(users, rng, end), "user_profile": lambda: user_profile(users, rng, end),
              "spine": lambda: spine(users, spine_rows, rng, end)}  # fmt: skip
    return {name: makers[name]() for name in SAMPLE_FILES}


def write_sample_data(
    data_dir: Path, users: int = 1_000, spine_rows: int = 5_000, seed: int = 7, end: pd.Timestamp | None = None
) -> dict[str, Path]:
    """``data_dir/<name>.parquet`` per sample frame, each written atomically."""
    frames = sample_frames(users, spine_rows, seed, end)
    data_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, frame in frames.items():
        paths[name] = data_dir / f"{name}.parquet"
        with atomic_path(paths[name]) as temp:
            frame.to_parquet(temp, index=False)
    return paths
