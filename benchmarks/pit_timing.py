"""The timing loop of benchmarks/pit.py: forms run interleaved, best of N after a warm-up, each
under an optional time budget, failures and time-outs recorded instead of aborting the run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import _common as C


@dataclass
class Form:
    """One way of computing the training set.  ``interrupt`` is the DuckDB connection to interrupt
    after ``timeout`` seconds (None: no client-side budget; PostgreSQL uses statement_timeout)."""

    name: str
    fn: Callable[[], Any]
    interrupt: Any = None
    timeout: float | None = None


@dataclass
class Outcome:
    times: dict[str, list[float]] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # name -> why (time budget)
    failed: dict[str, str] = field(default_factory=dict)  # name -> error
    single: set[str] = field(default_factory=set)  # slow forms timed by their warm-up run alone

    def best(self, name: str) -> float | None:
        ts = self.times.get(name)
        return min(ts) if ts else None


def _timeout_error(exc: Exception) -> bool:
    return "statement timeout" in str(exc) or "canceling statement" in str(exc)


def time_forms(forms: list[Form], reps: int, warmup: bool = True, slow: float | None = None) -> Outcome:
    """Warm up every form once (if ``warmup``), then run them ``reps`` times interleaved (a, b, c,
    a, b, c, ...) so background load hits them alike.  The last result of each form is kept.
    A form whose warm-up takes longer than ``slow`` seconds is not repeated: that run is its one
    timing (listed in ``Outcome.single``)."""
    out = Outcome(times={f.name: [] for f in forms})

    def run(form: Form, label: str) -> None:
        try:
            if form.interrupt is not None and form.timeout:
                s, res = C.run_with_timeout(form.interrupt, form.fn, form.timeout)
            else:
                s, res = C.timed(form.fn)
        except C.TimedOut:
            out.skipped[form.name] = f"> {form.timeout:.0f} s"
            C.log(f"  {form.name:14s} skipped (> {form.timeout:.0f} s)")
            return
        except Exception as exc:  # noqa: BLE001 - report it, keep the other forms going
            if _timeout_error(exc):
                out.skipped[form.name] = "statement_timeout"
                C.log(f"  {form.name:14s} skipped (statement_timeout)")
            else:
                out.failed[form.name] = f"{type(exc).__name__}: {str(exc).strip()[:300]}"
                C.log(f"  {form.name} FAILED: {out.failed[form.name]}")
            return
        out.results[form.name] = res
        if label == "warm-up":
            C.log(f"  warm-up {form.name:14s} {s:8.3f} s" + (" (slow: not repeated)" if slow and s > slow else ""))
            if slow and s > slow:
                out.times[form.name].append(s)
                out.single.add(form.name)
        else:
            out.times[form.name].append(s)

    live = lambda: [f for f in forms if f.name not in out.skipped and f.name not in out.failed]
    if warmup:
        for form in live():
            run(form, "warm-up")
    for rep in range(reps):
        for form in [f for f in live() if f.name not in out.single]:
            run(form, "run")
        ran = "  ".join(f"{k} {v[-1]:.3f}s" for k, v in out.times.items() if len(v) == rep + 1 and k not in out.single)
        C.log(f"  run {rep + 1}: {ran}")
    return out
