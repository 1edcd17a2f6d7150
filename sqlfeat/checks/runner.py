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
from sqlfeat.checks import data, definitions, indexes, leakage, plan, state
from sqlfeat.checks.results import CheckOptions, CheckResult, CheckRun
from sqlfeat.files import OutputFolder

if TYPE_CHECKING:
    from sqlfeat.store import FeatureStore


def run_checks(store: FeatureStore, options: CheckOptions) -> CheckRun:
    """Every check; writes ``target/compiled/`` and ``target/run_results.json``. The target is an
    output folder (``sqlfeat.files``): a non-empty folder sqlfeat did not create (a dbt project's
    ``target/``) is refused before any check runs."""
    started = time.perf_counter()
    now = options.now or datetime.now(timezone.utc)
    target = Path(options.target) if options.target else store.repo_path / "target"
    dialects = compile_checks.resolve_dialects(store.config.offline_type, options.dialects)
    root = state.baseline_root(options.state, target)
    with OutputFolder.open(target, "sqlfeat check", "--target-path") as folder:
        # Read before this run rewrites target/compiled, which may be the baseline.
        baseline = state.load_baseline(root) if root is not None else None
        return _run(store, options, folder, dialects, baseline, now, started)


def _run(
    store: FeatureStore, options: CheckOptions, folder: OutputFolder, dialects: list,
    baseline: state.Snapshot | None, now: datetime, started: float,
) -> CheckRun:
    from sqlfeat.checks.report import RUN_RESULTS, write_run_results

    target = folder.root
    label = "state" if options.state is not None else "previous target"

    results: list[CheckResult] = []
    contents, loaded = definitions.load(store)
    results.append(loaded)
    if contents is not None:
        checked, found = definitions.validate(contents)
        results += found
        if options.data:
            results += definitions.check_schema(checked, store, options.strict)
        else:
            results += definitions.resolve_from_registry(checked, store)
        compiled, found = compile_checks.check(checked, dialects, dialects[0].NAME)
        results += found
        compile_checks.write(compiled, folder)
        names = {view.name for view in contents.feature_views}
        results += state.compare(baseline, compiled, [d.NAME for d in dialects], names, label)
        if options.data:
            results += data.check(checked, store, now)
            results += indexes.check(checked, store)
            results += leakage.check(checked, store, options.leakage_entities)
        results += plan.check(store, contents, checked.views, options.allow_breaking)
    _locate(results, store.repo_path)
    run = CheckRun(store.project, store.repo_path, target, options, results, now, time.perf_counter() - started)
    write_run_results(run, folder, RUN_RESULTS)
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
