"""Shared fixtures: throwaway feature repos on disk, backed by real DuckDB and parquet files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

CONFIG = """\
project: {project}
registry: data/registry.json
offline_store:
  type: duckdb
{extra}online_store:
  type: sqlite
  path: data/online.db
"""


def write_repo(root: Path, sources: dict[str, pd.DataFrame] | None = None, project: str = "test_project",
               extra: str = "") -> Path:
    """A feature repo at ``root``: feature_store.yaml plus ``data/<name>.parquet`` per source."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "feature_store.yaml").write_text(CONFIG.format(project=project, extra=extra))
    for name, frame in (sources or {}).items():
        frame.to_parquet(root / "data" / f"{name}.parquet", index=False)
    return root


@pytest.fixture
def make_repo(tmp_path):
    def factory(sources=None, **kwargs) -> Path:
        return write_repo(tmp_path / "repo", sources, **kwargs)

    return factory


@pytest.fixture
def clicks_frame() -> pd.DataFrame:
    """Four users' daily click stats; user 3 only has an old row, user 4 has none."""
    return pd.DataFrame({
        "user_id": [1, 1, 1, 2, 2, 3],
        "event_time": pd.to_datetime([
            "2024-01-01 00:00", "2024-01-05 00:00", "2024-01-05 00:00",
            "2024-01-02 12:00", "2024-01-10 00:00", "2023-06-01 00:00",
        ], utc=True),
        "created": pd.to_datetime([
            "2024-01-01 01:00", "2024-01-05 01:00", "2024-01-05 02:00",
            "2024-01-02 13:00", "2024-01-10 01:00", "2023-06-01 01:00",
        ], utc=True),
        "click_count": [10, 20, 21, 5, 6, 99],
        "avg_dwell_seconds": pd.Series([1.5, 2.5, 2.75, 3.0, 4.0, 9.0], dtype="float32"),
        "top_category": ["news", "music", "music", "games", "games", "food"],
    })
