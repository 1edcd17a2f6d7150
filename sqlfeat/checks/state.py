"""The snapshot check: which views' compiled SQL changed against a baseline, as unified diffs (like
dbt's ``state:modified``).

The baseline is ``--state DIR`` (a previous ``target/`` or its ``compiled/``), or else the
``target/compiled`` already on disk before this run rewrites it: in a pull request that is the
``target/`` committed on the main branch. A changed view is a warn, so reviewers see it; it does
not fail the job.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import TYPE_CHECKING

from sqlfeat.checks.results import PASS, WARN, CheckResult
from sqlfeat.errors import ConfigError

if TYPE_CHECKING:
    from sqlfeat.checks.compile import CompiledView

Snapshot = dict[tuple[str, str], str]


def baseline_root(state: Path | None, target: Path) -> Path | None:
    if state is not None:
        root = state / "compiled" if (state / "compiled").is_dir() else state
        if not root.is_dir():
            raise ConfigError(
                f"--state {state} is not a directory; pass a previous target/ holding compiled/<dialect>/<view>.sql"
            )
        return root
    default = target / "compiled"
    return default if default.is_dir() else None


def load_baseline(root: Path | None) -> Snapshot:
    """Every ``<dialect>/<view>.sql`` under ``root``, read now (before this run overwrites it)."""
    if root is None:
        return {}
    return {(path.parent.name, path.stem): path.read_text() for path in sorted(root.glob("*/*.sql"))}


def compare(
    baseline: Snapshot | None, compiled: list[CompiledView], dialects: list[str], views: set[str], label: str
) -> list[CheckResult]:
    """One result per (dialect, view): unchanged or new (pass), modified or removed (warn).

    ``baseline`` is None when there is nothing to compare with; ``views`` are all views defined now
    (one that failed to compile is not reported as removed); ``label`` names the baseline.
    """
    if baseline is None:
        return [CheckResult(
            "snapshot", PASS, "no baseline to compare with: pass --state <the main branch's target/> "
            "to see which views' SQL changed",
        )]
    results = []
    current = {(c.dialect, c.view): c.text for c in compiled}
    for (dialect, view), text in current.items():
        old = baseline.get((dialect, view))
        if old is None:
            results.append(CheckResult("snapshot", PASS, f"new: {label} has no SQL for this view", view=view, dialect=dialect))
        elif old == text:
            results.append(CheckResult("snapshot", PASS, "compiled SQL unchanged", view=view, dialect=dialect))
        else:
            diff = "".join(difflib.unified_diff(
                old.splitlines(keepends=True), text.splitlines(keepends=True),
                fromfile=f"{label}/{dialect}/{view}.sql", tofile=f"target/compiled/{dialect}/{view}.sql",
            ))
            added = sum(1 for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++"))
            removed = sum(1 for line in diff.splitlines() if line.startswith("-") and not line.startswith("---"))
            message = f"feature view {view!r}: compiled {dialect} SQL changed (+{added} -{removed} lines)"
            results.append(CheckResult("snapshot", WARN, message, view=view, dialect=dialect, details=diff))
    for dialect, view in sorted(baseline.keys() - current.keys()):
        if dialect in dialects and view not in views:
            message = f"feature view {view!r} was removed: {label} has its {dialect} SQL"
            results.append(CheckResult("snapshot", WARN, message, view=view, dialect=dialect))
    return results
