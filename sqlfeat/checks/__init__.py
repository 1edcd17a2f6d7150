"""dbt-style CI checks for a feature repo: what ``sqlfeat check`` runs and reports.

Each family is one module; each reports named results with status pass, warn or fail::

    definitions  the repo loads; views name defined entities (no warehouse)    definitions.py
    schema       every column a view reads exists with its declared dtype     definitions.py
    compile      PIT and latest-values SQL per dialect, each parsed back      compile.py
    snapshot     compiled SQL against a previous target/ (dbt state:modified) state.py
    data         keys not null, unique event rows, no future or naive         data.py
                 timestamps, freshness
    leakage      a sampled spine through the real compiled SQL: nothing from  leakage.py
                 after a row's time
    plan         what apply would change; breaking changes to online data     plan.py

``run_checks`` (runner.py) orders them; report.py writes the terminal report, run_results.json,
JUnit XML and GitHub annotations. Nothing here writes the registry.
"""

from __future__ import annotations

from typing import Any

from sqlfeat.checks.results import FAIL, PASS, STATUSES, WARN, CheckOptions, CheckResult, CheckRun


def run_checks(store: Any, options: CheckOptions | None = None) -> CheckRun:
    """Run every check on ``store``'s repo (see the module docstring); writes only target/."""
    from sqlfeat.checks.runner import run_checks as run

    return run(store, options or CheckOptions())


__all__ = [
    "FAIL",
    "STATUSES",
    "PASS",
    "WARN",
    "CheckOptions",
    "CheckResult",
    "CheckRun",
    "run_checks",
]
