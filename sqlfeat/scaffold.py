"""`sqlfeat init` and `sqlfeat quickstart`: a runnable feature repo from templates/init."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from sqlfeat.errors import ConfigError


def init_repo(target: Path, project: str | None = None, users: int = 1_000, spine_rows: int = 5_000) -> Path:
    """Write ``target/feature_repo`` (config, definitions, sample data); return the repo path."""
    from jinja2 import Template

    from sqlfeat.sample_data import write_sample_data

    target = Path(target)
    project = project or re.sub(r"[^A-Za-z0-9_]", "_", target.resolve().name)
    if (target / "feature_repo").exists():
        raise ConfigError(f"{target / 'feature_repo'} already exists; choose another directory")
    scaffold = files("sqlfeat.templates") / "init"
    _render_tree(scaffold, target, {"project": project}, Template)
    repo = target / "feature_repo"
    write_sample_data(repo / "data", users=users, spine_rows=spine_rows)
    return repo


def _render_tree(source, destination: Path, context: dict, template_cls) -> None:
    destination.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        if entry.name == "__pycache__":
            continue
        if entry.is_dir():
            _render_tree(entry, destination / entry.name, context, template_cls)
        else:
            text = entry.read_text()
            if entry.name.endswith((".yaml", ".md")):
                text = template_cls(text, keep_trailing_newline=True).render(**context)
            (destination / entry.name).write_text(text)


@dataclass
class QuickstartResult:
    repo: Path
    rows: int
    seconds: float
    training_path: Path
    sql_path: Path
    sql: str
    features: list[str]
    frame: object  # pandas.DataFrame
    materialized_rows: int = 0
    online_example: dict | None = None
    consistency: object | None = None  # ConsistencyReport


QUICKSTART_FEATURES = [
    "user_clicks_30d:click_count",
    "user_clicks_30d:avg_dwell_seconds",
    "user_clicks_30d:top_category",
    "user_profile:account_age_days",
    "user_profile:is_premium",
]


def run_quickstart(target: Path, spine_rows: int = 5_000) -> QuickstartResult:
    """init -> apply -> point-in-time training set, written next to the repo's data."""
    import pandas as pd

    from sqlfeat.store import FeatureStore

    from sqlfeat.sample_data import END

    started = time.perf_counter()
    repo = init_repo(Path(target), spine_rows=spine_rows)
    with FeatureStore(repo_path=repo) as store:
        store.apply()
        spine = pd.read_parquet(repo / "data" / "spine.parquet")
        job = store.get_historical_features(entity_df=spine, features=QUICKSTART_FEATURES)
        frame = job.to_df()
        sql = job.sql
        # Serving: the same definitions, materialized into the online store (SQLite), then read back.
        as_of = END.to_pydatetime()
        report = store.materialize_incremental(as_of)
        online = store.get_online_features(QUICKSTART_FEATURES[:2], [{"user_id": 1}, {"user_id": 2}], as_of=as_of)
        consistency = store.check_consistency()
    training_path = repo / "data" / "training.parquet"
    frame.to_parquet(training_path, index=False)
    sql_path = repo / "data" / "training.sql"
    sql_path.write_text(sql + ";\n")
    return QuickstartResult(
        repo, len(frame), time.perf_counter() - started, training_path, sql_path, sql,
        [f.split(":")[1] for f in QUICKSTART_FEATURES], frame,
        sum(run.rows for run in report.runs), online.to_dict(), consistency,
    )
