"""`sqlfeat init` and `sqlfeat quickstart`: a runnable feature repo from templates/init, written
only where no file is in the way (``sqlfeat.files`` writes each one atomically)."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from pathlib import Path

from sqlfeat.errors import OutputPathError
from sqlfeat.files import write_text_atomic

REPO = "feature_repo"


def init_repo(
    target: Path, project: str | None = None, users: int = 1_000, spine_rows: int = 5_000, now: datetime | None = None
) -> Path:
    """Write ``target/README.md`` and ``target/feature_repo`` (config, definitions, sample data);
    return the repo path. The sample data ends on the day of ``now`` (default: today, UTC).

    Nothing is written when a file it would write already exists (they are all named) or when
    ``feature_repo`` already holds files; a failure part way removes what this call wrote, so a
    half-written repo is never left behind.
    """
    from jinja2 import Template

    from sqlfeat.sample_data import SAMPLE_FILES, sample_end, write_sample_data

    target = Path(target)
    project = project or re.sub(r"[^A-Za-z0-9_]", "_", target.resolve().name)
    texts = _render_tree(files("sqlfeat.templates") / "init", "", {"project": project}, Template)
    planned = [*texts, *(f"{REPO}/data/{name}.parquet" for name in SAMPLE_FILES)]
    repo = target / REPO
    _refuse_existing(target, planned)
    created = _missing_folders(repo / "data")
    written: list[Path] = []
    try:
        for rel, text in texts.items():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(target / rel, text)
            written.append(target / rel)
        written.extend(target / rel for rel in planned[len(texts):])
        write_sample_data(repo / "data", users=users, spine_rows=spine_rows, end=sample_end(now))
    except BaseException:
        # Every planned file was missing when we checked: what exists now is this call's.
        for path in written:
            path.unlink(missing_ok=True)
        for folder in reversed(created):
            try:
                folder.rmdir()
            except OSError:
                pass
        raise
    return repo


def _refuse_existing(target: Path, planned: list[str]) -> None:
    repo = target / REPO
    if os.path.lexists(target) and not target.is_dir():
        raise OutputPathError(f"{target} is a file; give sqlfeat init a new or existing folder")
    existing = [rel for rel in planned if os.path.lexists(target / rel)]
    if existing:
        raise OutputPathError(
            f"sqlfeat init would overwrite {', '.join(str(target / rel) for rel in existing)}; it never overwrites "
            "files it did not write: pick another directory, or move them away"
        )
    if os.path.lexists(repo) and (not repo.is_dir() or any(repo.iterdir())):
        raise OutputPathError(f"{repo} already exists and is not empty; choose another directory")


def _missing_folders(folder: Path) -> list[Path]:
    """``folder`` and its parents that do not exist yet, outermost first."""
    missing = []
    while not os.path.lexists(folder):
        missing.append(folder)
        folder = folder.parent
    return missing[::-1]


def _render_tree(source, prefix: str, context: dict, template_cls) -> dict[str, str]:
    """Every file of the template tree ``source`` as ``{relative path: text}``, templates rendered."""
    rendered = {}
    for entry in sorted(source.iterdir(), key=lambda e: e.name):
        if entry.name == "__pycache__":
            continue
        rel = f"{prefix}{entry.name}"
        if entry.is_dir():
            rendered.update(_render_tree(entry, f"{rel}/", context, template_cls))
        else:
            text = entry.read_text(encoding="utf-8")
            if entry.name.endswith((".yaml", ".md")):
                text = template_cls(text, keep_trailing_newline=True).render(**context)
            rendered[rel] = text
    return rendered


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


def run_quickstart(target: Path, spine_rows: int = 5_000, now: datetime | None = None) -> QuickstartResult:
    """init -> apply -> point-in-time training set, written next to the repo's data; then
    materialized up to where the sample data ends (the day of ``now``, default today) and read back."""
    import pandas as pd

    from sqlfeat.dataset_files import write_training_set
    from sqlfeat.sample_data import sample_end
    from sqlfeat.store import FeatureStore

    started = time.perf_counter()
    end = sample_end(now)
    repo = init_repo(Path(target), spine_rows=spine_rows, now=end.to_pydatetime())
    with FeatureStore(repo_path=repo) as store:
        store.apply()
        spine = pd.read_parquet(repo / "data" / "spine.parquet")
        job = store.get_historical_features(entity_df=spine, features=QUICKSTART_FEATURES)
        frame = job.to_df()
        sql = job.sql
        # Serving: the same definitions, materialized into the online store (SQLite), then read back.
        as_of = end.to_pydatetime()
        report = store.materialize_incremental(as_of)
        online = store.get_online_features(QUICKSTART_FEATURES[:2], [{"user_id": 1}, {"user_id": 2}], as_of=as_of)
        consistency = store.check_consistency()
    training_path = repo / "data" / "training.parquet"
    write_training_set(training_path, frame, "sqlfeat quickstart")
    sql_path = repo / "data" / "training.sql"
    write_text_atomic(sql_path, sql + ";\n")
    return QuickstartResult(
        repo, len(frame), time.perf_counter() - started, training_path, sql_path, sql,
        [f.split(":")[1] for f in QUICKSTART_FEATURES], frame,
        sum(run.rows for run in report.runs), online.to_dict(), consistency,
    )
