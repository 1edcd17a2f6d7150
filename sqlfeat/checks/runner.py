"""``run_checks``: every check family in order, each result pointing at the definition it is about.

Order matters only for what later checks may use: a view that fails to validate, or whose source
columns do not match, is not compiled, sampled or planned further (its failure is reported once).
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from sqlfeat.checks import compile as compile_checks
from sqlfeat.checks import data, definitions, leakage, plan, state
from sqlfeat.checks.results import CheckOptions, CheckResult, CheckRun

if TYPE_CHECKING:
    from sqlfeat.store import FeatureStore


def run_checks(store: FeatureStore, options: CheckOptions) -> CheckRun:
    from sqlfeat.checks.report import write_run_results

    started = time.perf_counter()
    now = options.now or datetime.now(timezone.utc)
    target = Path(options.target) if options.target else store.repo_path / "target"
    dialects = compile_checks.resolve_dialects(store.config.offline_type, options.dialects)
    root = state.baseline_root(options.state, target)
    baseline = state.load_baseline(root) if root is not None else None
    label = "state" if options.state is not None else "previous target"

    results: list[CheckResult] = []
    contents, loaded = definitions.load(store)
    results.append(loaded)
    if contents is not None:
        checked, found = definitions.validate(contents)
        results += found
        if options.data:
            results += definitions.check_schema(checked, store)
        else:
            results += definitions.resolve_from_registry(checked, store)
        compiled, found = compile_checks.check(checked, dialects, dialects[0].NAME)
        results += found
        compile_checks.write(compiled, target / "compiled")
        names = {view.name for view in contents.feature_views}
        results += state.compare(baseline, compiled, [d.NAME for d in dialects], names, label)
        if options.data:
            results += data.check(checked, store, now)
            results += leakage.check(checked, store, options.leakage_entities)
        results += plan.check(store, contents, checked.views, options.allow_breaking)
    _locate(results, store.repo_path)
    run = CheckRun(store.project, store.repo_path, target, options, results, now, time.perf_counter() - started)
    write_run_results(run, target / "run_results.json")
    return run


def _locate(results: list[CheckResult], repo_path: Path) -> None:
    """File and line of each result's view, relative to where CI runs (GitHub's workspace)."""
    places = definitions.locate_definitions(repo_path)
    base = os.environ.get("GITHUB_WORKSPACE") or os.getcwd()
    for result in results:
        if result.file is None and result.view in places:
            path, result.line = places[result.view]
            result.file = str(path)
        if result.file is not None:
            try:
                relative = os.path.relpath(result.file, base)
            except ValueError:  # another drive on Windows
                continue
            result.file = relative if not relative.startswith("..") else str(Path(result.file).resolve())
