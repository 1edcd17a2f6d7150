"""The points of benchmarks/density.py: one (density, size) on one engine for one kind of view,
every form timed (``pit_timing.time_forms``) and checked value by value.

A point's data is the data of the other benchmarks with ``users = rows / density``:

* lookups: ``pit_data`` (3 views of ``rows`` rows each: ttl 30 d / 90 d / none, no
  ``(user_id, event_time)`` ties), forms from ``pit_duckdb`` (the ASOF baseline) and
  ``pit_postgres`` (the LATERAL baseline, the data loaded into a schema of its own);
* aggregates: ``aggregations_data`` (``rows`` click events, 1% tied event times), the 9 windowed
  features and the hand-written range join and prefix sums of ``aggregations_forms``.

Each point returns a row (a dict) for ``density_report``:
``{"engine", "kind", "d", "n", "users", "spine", "reps", "auto", "why", "load",
"forms": {name: {"s", "status", "single", "error"}}, "checks": {name: ok}, "problems": [...]}``.
A form's ``status`` is ``ok``, ``timeout`` (interrupted after ``--timeout`` s), ``memory`` (out of
memory at ``--duckdb-memory``), ``skipped`` (not run: it timed out or ran out of memory at a smaller
size or density, see :class:`Timeouts`) or ``failed`` (any other error).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import _common as C
import aggregations_data as AD
import aggregations_forms as AF
import pit_data as PD
from pit_check import compare as pit_compare
from pit_duckdb import Baselines, auto_strategy, duckdb_store, run_sqlfeat
from pit_timing import Form, time_forms

# The forms of each (engine, kind): sqlfeat's auto, every strategy the engine can run for that
# kind, and the hand-written queries (``hand_*``; the best of them is the ratio's denominator).
FORMS = {
    ("duckdb", "lookup"): ["auto", "asof", "carry", "window", "hand_asof"],
    ("postgres", "lookup"): ["auto", "carry", "window", "lateral", "hand_lateral"],
    ("duckdb", "aggregates"): ["auto", "asof", "carry", "window", "hand_range_join", "hand_prefix_sums"],
    ("postgres", "aggregates"): ["auto", "carry", "window", "hand_range_join", "hand_lateral"],
}
HAND_LABELS = {
    "hand_asof": "ASOF JOIN (hand)",
    "hand_lateral": "LATERAL (hand)",
    "hand_range_join": "range join (hand)",
    "hand_prefix_sums": "prefix sums (hand)",
}


@dataclass(frozen=True)
class Point:
    density: int  # source rows per entity (user)
    rows: int  # n: source rows per view
    spine: int  # spine (entity_df) rows

    @property
    def users(self) -> int:
        return max(1, self.rows // self.density)

    def label(self) -> str:
        return f"d={self.density:,} n={self.rows:,} spine={self.spine:,}"


@dataclass
class Timeouts:
    """Where each (engine, kind, form) timed out (or ran out of memory).  Every strategy's cost
    grows with both the size and the density, so a form that timed out at (d0, n0) is not run
    again at d >= d0, n >= n0 (reported ``skipped``, not waited for twice).  ``auto`` always runs."""

    seen: dict[tuple[str, str, str], list[tuple[int, int]]] = field(default_factory=dict)

    def add(self, engine: str, kind: str, form: str, pt: Point) -> None:
        self.seen.setdefault((engine, kind, form), []).append((pt.density, pt.rows))

    def skip(self, engine: str, kind: str, form: str, pt: Point) -> tuple[int, int] | None:
        if form == "auto":
            return None
        return next(
            ((d, n) for d, n in self.seen.get((engine, kind, form), []) if d <= pt.density and n <= pt.rows), None
        )


def _row(engine: str, kind: str, pt: Point, reps: int) -> dict[str, Any]:
    return {
        "engine": engine, "kind": kind, "d": pt.density, "n": pt.rows, "users": pt.users, "spine": pt.spine,
        "reps": reps, "load": " ".join(f"{x:.2f}" for x in os.getloadavg()), "forms": {}, "checks": {},
        "problems": [],
    }  # fmt: skip


def _time(row: dict, forms: list[Form], args, timeouts: Timeouts, pt: Point) -> dict[str, Any]:
    """Time the forms not skipped (interleaved, best of ``row['reps']`` after a warm-up; a form
    slower than ``--slow`` s is timed once), fill ``row['forms']``; return the results by form."""
    engine, kind = row["engine"], row["kind"]
    run = []
    for f in forms:
        at = timeouts.skip(engine, kind, f.name, pt)
        if at:
            row["forms"][f.name] = {"s": None, "status": "skipped", "error": f"timed out at d={at[0]:,} n={at[1]:,}"}
            C.log(f"  {f.name:16s} skipped: timed out at d={at[0]:,} n={at[1]:,}")
        else:
            run.append(f)
    out = time_forms(run, row["reps"], warmup=not args.no_warmup, slow=args.slow)
    for f in run:
        cell: dict[str, Any] = {"s": out.best(f.name), "status": "ok", "single": f.name in out.single}
        if f.name in out.skipped:
            cell.update(status="timeout", error=out.skipped[f.name])
            timeouts.add(engine, kind, f.name, pt)
        elif f.name in out.failed:
            oom = "out of memory" in out.failed[f.name].lower()  # past --duckdb-memory: a result, not a bug
            cell.update(status="memory" if oom else "failed", error=out.failed[f.name])
            if oom:
                timeouts.add(engine, kind, f.name, pt)
        row["forms"][f.name] = cell
    return out.results


def _check_lookup(row: dict, results: dict, ref_name: str, ref: Any, label: str) -> None:
    for name, res in results.items():
        if name == ref_name or res is None:
            continue
        ok, problems, _ = pit_compare(res, ref, f"{row['engine']} {name} d={row['d']:,} n={row['n']:,}", label)
        row["checks"][name] = ok
        row["problems"] += problems
        C.log(f"  check {name} vs {label}: {'OK' if ok else 'MISMATCH'}")


def _memory_limit(con, limit: str | None) -> None:
    if limit:
        con.execute(f"SET memory_limit = '{limit}'")


def _sqlfeat_forms(store, spine, names: list[str], run: Callable, con, timeout: float | None) -> list[Form]:
    return [Form(s, (lambda s=s: run(store, spine, s)), con, timeout) for s in names if not s.startswith("hand_")]


# --------------------------------------------------------------------------------------------
# point-in-time lookups
# --------------------------------------------------------------------------------------------


def lookup_params(pt: Point, args) -> PD.Params:
    return PD.Params(pt.rows, pt.users, args.days, args.seed)


def duckdb_lookup(pt: Point, args, timeouts: Timeouts, reps: int) -> dict[str, Any]:
    row = _row("duckdb", "lookup", pt, reps)
    p = lookup_params(pt, args)
    PD.ensure_data(p, args.workdir, [pt.spine])
    store, base = duckdb_store(p, args.workdir), Baselines(p, args.workdir, args.threads)
    for con in (store.offline_store.connection, base.con):
        _memory_limit(con, args.duckdb_memory)
    spine = PD.load_spine(p, args.workdir, pt.spine)
    row["auto"] = auto_strategy(store, spine)
    row["why"] = store.get_historical_features(entity_df=spine, features=PD.FEATURE_REFS).explain()
    C.log(f"duckdb lookup {pt.label()}: auto picks {row['auto']}")
    forms = _sqlfeat_forms(store, spine, FORMS["duckdb", "lookup"], run_sqlfeat, store.offline_store.connection,
                           args.timeout)  # fmt: skip
    forms.append(Form("hand_asof", lambda: base.run_asof(spine), base.con, args.timeout))
    results = _time(row, forms, args, timeouts, pt)
    if "hand_asof" in results:
        _check_lookup(row, results, "hand_asof", results["hand_asof"], "ASOF JOIN")
    del results
    gc.collect()
    return row


def postgres_lookup(pt: Point, args, timeouts: Timeouts, reps: int) -> dict[str, Any]:
    """The same data in PostgreSQL: a schema per point (so nothing cached about one point's tables
    is taken for another's), indexed on (user_id, event_time[, created]), VACUUM ANALYZEd, dropped
    afterwards.  sqlfeat's forms are checked against LATERAL, LATERAL against DuckDB's ASOF."""
    from pit_postgres import PgBench

    row = _row("postgres", "lookup", pt, reps)
    p = lookup_params(pt, args)
    PD.ensure_data(p, args.workdir, [pt.spine])
    schema = f"sqlfeat_density_{os.getpid()}_d{pt.density}_n{pt.rows}"
    pg = PgBench(args.pg_url, p, args.workdir, args.timeout, schema=schema)
    try:
        row["server"] = pg.server_info()
        row["pg_load"] = pg.load()
        store = pg.open_store()
        spine = PD.load_spine(p, args.workdir, pt.spine)
        row["auto"] = auto_strategy(store, spine)
        row["why"] = store.get_historical_features(entity_df=spine, features=PD.FEATURE_REFS).explain()
        C.log(f"postgres lookup {pt.label()}: loaded in {row['pg_load']:.1f} s (not timed); auto picks {row['auto']}")
        forms = _sqlfeat_forms(pg, spine, FORMS["postgres", "lookup"], lambda pg, sp, s: pg.run_sqlfeat(sp, s),
                               None, None)  # fmt: skip
        forms.append(Form("hand_lateral", lambda: pg.run_baseline("lateral", spine)))
        results = _time(row, forms, args, timeouts, pt)
    finally:
        pg.close()
    ref = Baselines(p, args.workdir, args.threads).run_asof(spine)
    if "hand_lateral" in results:
        _check_lookup(row, {"hand_lateral": results["hand_lateral"]}, "", ref, "DuckDB ASOF JOIN")
        _check_lookup(row, results, "hand_lateral", results["hand_lateral"], "LATERAL")
    else:
        _check_lookup(row, results, "", ref, "DuckDB ASOF JOIN")
    del results, ref
    gc.collect()
    return row


# --------------------------------------------------------------------------------------------
# windowed aggregations
# --------------------------------------------------------------------------------------------


def agg_params(pt: Point, args) -> AD.Params:
    return AD.Params(pt.rows, pt.users, args.days, args.seed)


def _run_agg(store, spine, strategy: str):
    return store.get_historical_features(spine, AF.FEATURE_REFS, strategy=strategy).to_df()


def duckdb_aggregates(pt: Point, args, timeouts: Timeouts, reps: int) -> dict[str, Any]:
    row = _row("duckdb", "aggregates", pt, reps)
    p = agg_params(pt, args)
    AD.ensure_data(p, args.workdir, [pt.spine])
    store, duck = AF.sqlfeat_store(p, args.workdir), AF.DuckForms(p.events_path(args.workdir), args.threads)
    for con in (store.offline_store.connection, duck.con):
        _memory_limit(con, args.duckdb_memory)
    spine = AD.load_spine(p, args.workdir, pt.spine)
    job = store.get_historical_features(spine, AF.FEATURE_REFS)
    row["auto"] = ", ".join(sorted(set(job.strategies.values())))
    row["why"] = job.explain()
    C.log(f"duckdb aggregates {pt.label()}: auto picks {row['auto']}")
    forms = _sqlfeat_forms(store, spine, FORMS["duckdb", "aggregates"], _run_agg, store.offline_store.connection,
                           args.timeout)  # fmt: skip
    for name, sql_form in (("hand_range_join", "range_join"), ("hand_prefix_sums", "prefix_asof")):
        sql = AF.SQL_FORMS[sql_form][0](p.events_path(args.workdir))
        forms.append(Form(name, (lambda sql=sql: duck.run_sql(sql, spine)), duck.con, args.timeout))
    results = _time(row, forms, args, timeouts, pt)
    check_aggregates(row, results, ["hand_range_join", "hand_prefix_sums"])
    del results
    gc.collect()
    return row


def check_aggregates(row: dict, results: dict, refs: list[str]) -> None:
    """Every result against the first of the hand-written ``refs`` that finished (counts exact,
    floats to a relative 1e-9: ``aggregations.compare``); if none did, against sqlfeat's forced
    carry or window (the report says so)."""
    from aggregations import compare as agg_compare

    ref = next((n for n in [*refs, "carry", "window"] if n in results), None)
    row["ref"] = ref
    for name, res in results.items():
        if ref is None or name == ref:
            continue
        chk = agg_compare(res, results[ref])
        row["checks"][name] = chk.ok
        where = f"{row['engine']} aggregates {name} d={row['d']:,} n={row['n']:,} vs {ref}"
        row["problems"] += [f"{where}: {x}" for x in chk.problems]
        C.log(f"  check {name} vs {ref}: {'OK' if chk.ok else 'MISMATCH'} (max rel {chk.max_rel:.1e})")
