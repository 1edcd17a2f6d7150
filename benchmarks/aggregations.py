#!/usr/bin/env python
"""Windowed aggregations benchmark: sqlfeat vs a hand-written DuckDB range join vs pandas.

10M click events over 100k users (180 days), spines of 10k / 100k / 1M rows, and the features
count(click_id), sum(dwell_seconds), mean(dwell_seconds) over 1, 7 and 30 days, i.e. at spine time t
over the user's events with ``t - w < event_time <= t`` (docs/aggregations.md). Timed per spine size:

  sqlfeat         FeatureStore.get_historical_features(spine, 9 features).to_df() on a repo with
                  offline_store duckdb and one FeatureView(aggregations=[...]) over the parquet file
  range join      hand-written DuckDB: one range LEFT JOIN over 30 days, FILTER per window,
                  GROUP BY spine row, .df()
  prefix sums     DuckDB: per-user running count/sum (RANGE frame) + 4 ASOF LEFT JOINs at t, t-1d,
                  t-7d, t-30d; window value = cum(t) - cum(t - w)  (the issue's proposed plan)
  pandas rolling  spine rows merged into each user's event stream, groupby("user_id").rolling(
                  "<w>D", on="event_time", closed="right"); one cold run in a child process, skipped
                  when the estimate from the previous size exceeds --pandas-budget
  pandas asof     per-user cumsum + pd.merge_asof at t and t - w (the prefix-sum idea in pandas)
  + peak RSS of each, one cold run in a fresh child process

--experiment adds alternative SQL plans (sqlfeat's own SQL run directly, integer-microsecond and
bucketed range joins, one-ASOF prefix sums, per-day pre-aggregation) and, with --dense-users, the
same at a higher event density, to show which plan wins where.

Correctness: every form is compared value by value with the range-join result (counts exactly,
floats with relative tolerance 1e-9, nulls in the same places) on a small data set
(--check-events/--check-users/--check-size) and at every timed size. Exit status 1 on a mismatch.

examples:
  python benchmarks/aggregations.py                              # 10k, 100k, 1M spines (~10 min on 2 cores)
  python benchmarks/aggregations.py --sizes 10000 --no-rss       # quick
  python benchmarks/aggregations.py --experiment --markdown > /tmp/agg.md   # ~15 min
  python benchmarks/aggregations.py --print-sql keyed_us_b2      # the SQL of one plan, and exit
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.append(str(HERE.parent))

import _common as C
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from aggregations_data import SPINE_TS, Params, ensure_data, load_spine
from aggregations_forms import (
    COUNTS,
    FEATURE_REFS,
    FEATURES,
    SQL_FORMS,
    DuckForms,
    pandas_cumsum_asof,
    pandas_rolling,
    run_sqlfeat,
    sqlfeat_store,
)

MAIN_SQL = ["range_join", "prefix_asof"]
EXPERIMENT_SQL = ["sqlfeat_sql", "keyed_us", "keyed_us_b2", "keyed_us_b2_sc", "prefix_asof1", "daily"]
DENSE_SQL = ["sqlfeat_sql", "range_join", "keyed_us_b2", "keyed_us_b2_sc", "prefix_asof", "prefix_asof1", "daily"]
RSS_FORMS = ["sqlfeat", "range_join", "prefix_asof", "pandas_asof", "pandas_rolling"]
RTOL = 1e-9


def _sizes(text: str) -> list[int]:
    return [int(s.replace("_", "")) for s in text.split(",") if s.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="aggregations.py", description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]), formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    data = ap.add_argument_group("data (generated once, cached under --workdir)")
    data.add_argument("--events", type=int, default=10_000_000, metavar="N", help="events (10,000,000)")
    data.add_argument("--users", type=int, default=100_000, metavar="N", help="distinct users (100,000)")
    data.add_argument("--days", type=int, default=180, metavar="N", help="period the events span (180)")
    data.add_argument("--seed", type=int, default=42, metavar="N", help="random seed (42)")
    data.add_argument("--workdir", type=Path, default=HERE / ".data", help="data cache (benchmarks/.data)")
    run = ap.add_argument_group("timing")
    run.add_argument("--sizes", default="10000,100000,1000000", metavar="N,N", help="spine sizes")
    run.add_argument("--reps", type=int, default=3, metavar="N", help="timed runs per form after a warm-up (3)")
    run.add_argument("--timeout", type=float, default=180.0, metavar="S",
                     help="interrupt a DuckDB run longer than S seconds and report it skipped (180)")  # fmt: skip
    run.add_argument("--pandas-budget", type=float, default=300.0, metavar="S",
                     help="skip pandas rolling at a size whose estimate exceeds S seconds (300)")  # fmt: skip
    run.add_argument("--no-pandas-rolling", action="store_true", help="don't run the pandas rolling form")
    run.add_argument("--no-rss", action="store_true", help="skip the peak-RSS child processes")
    run.add_argument("--threads", type=int, default=None, metavar="N", help="DuckDB threads for the baselines")
    chk = ap.add_argument_group("correctness check data set")
    chk.add_argument("--check-events", type=int, default=100_000, metavar="N", help="(100,000)")
    chk.add_argument("--check-users", type=int, default=10_000, metavar="N", help="(10,000)")
    chk.add_argument("--check-size", type=int, default=10_000, metavar="N", help="spine rows (10,000)")
    exp = ap.add_argument_group("plan experiment")
    exp.add_argument("--experiment", action="store_true", help="also time the alternative SQL plans")
    exp.add_argument("--dense-users", type=int, default=10_000, metavar="N",
                     help="with --experiment: the same events over N users (10x denser; 0: skip) (10,000)")  # fmt: skip
    exp.add_argument("--dense-sizes", default="100000,1000000", metavar="N,N", help="spine sizes there")
    exp.add_argument("--dense-reps", type=int, default=1, metavar="N", help="runs per plan there (1, no warm-up)")
    out = ap.add_argument_group("output")
    out.add_argument("--markdown", action="store_true", help="report as Markdown (for docs/benchmarks.md)")
    out.add_argument("--print-sql", metavar="FORM", help="print a plan's SQL (over the default data) and exit")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.sizes, args.dense_sizes = _sizes(args.sizes), _sizes(args.dense_sizes)
    args.workdir = args.workdir.resolve()
    return args


# --------------------------------------------------------------------------------------------
# forms and timing
# --------------------------------------------------------------------------------------------


class Runner:
    """Everything that computes the features for a spine, by form name."""

    def __init__(self, p: Params, workdir: Path, threads: int | None, with_store: bool = True) -> None:
        self.p, self.workdir = p, workdir
        self.events = p.events_path(workdir)
        self.duck = DuckForms(self.events, threads)
        self.store = sqlfeat_store(p, workdir) if with_store else None
        self._sqlfeat_sql: str | None = None

    def sql(self, name: str) -> str:
        if name == "sqlfeat_sql":
            if self._sqlfeat_sql is None:
                # sqlfeat's generated SQL over a spine *table* named "spine" (no row-id upload,
                # no Python post-processing): the SQL part of the sqlfeat form, comparable with
                # the hand-written plans run on the same connection.
                self._sqlfeat_sql = self.store.compile_historical_features(
                    FEATURE_REFS, spine="spine", dialect="duckdb"
                )
            return self._sqlfeat_sql
        return SQL_FORMS[name][0](self.events)

    def fn(self, name: str, spine: pd.DataFrame) -> Callable[[], pd.DataFrame]:
        if name == "sqlfeat":
            return lambda: run_sqlfeat(self.store, spine)
        if name == "pandas_rolling":
            return lambda: pandas_rolling(self.events, spine)
        if name == "pandas_asof":
            return lambda: pandas_cumsum_asof(self.events, spine)
        sql = self.sql(name)
        return lambda: self.duck.run_sql(sql, spine)

    def connection(self, name: str) -> Any:
        if name == "sqlfeat":
            return self.store.offline_store.connection
        return None if name.startswith("pandas") else self.duck.con


@dataclass
class Timing:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    result: pd.DataFrame | None = None
    skipped: str | None = None
    failed: str | None = None

    @property
    def best(self) -> float | None:
        return min(self.wall) if self.wall else None

    @property
    def best_cpu(self) -> float | None:
        return min(self.cpu) if self.cpu else None


def time_forms(
    runner: Runner, names: list[str], spine: pd.DataFrame, reps: int, warmup: bool, timeout: float
) -> dict[str, Timing]:
    """Warm-up (if asked), then ``reps`` rounds interleaved (a, b, c, a, b, c...) so background
    load hits every form alike. Wall time (perf_counter) and this process's CPU time (all
    threads) per run; the last result is kept for the check. A DuckDB run longer than ``timeout``
    is interrupted and the form dropped."""
    out = {n: Timing() for n in names}
    live = lambda: [n for n in names if not out[n].skipped and not out[n].failed]
    rounds = ([False] if warmup else []) + [True] * reps
    for i, record in enumerate(rounds):
        for name in live():
            fn, con = runner.fn(name, spine), runner.connection(name)
            cpu0 = time.process_time()
            try:
                wall, res = C.run_with_timeout(con, fn, timeout) if con is not None else C.timed(fn)
            except C.TimedOut:
                out[name].skipped = f"> {timeout:.0f} s"
                C.log(f"  {name:16s} skipped (> {timeout:.0f} s)")
                continue
            except Exception as exc:  # noqa: BLE001 - report, keep going
                out[name].failed = f"{type(exc).__name__}: {str(exc).strip()[:300]}"
                C.log(f"  {name:16s} FAILED {out[name].failed}")
                continue
            cpu = time.process_time() - cpu0
            out[name].result = res
            if record:
                out[name].wall.append(wall)
                out[name].cpu.append(cpu)
            C.log(
                f"  {'run ' + str(i + (0 if warmup else 1)) if record else 'warm-up':8s} {name:16s} {wall:8.3f} s wall {cpu:8.3f} s cpu"
            )
            del res
            gc.collect()
    return out


# --------------------------------------------------------------------------------------------
# correctness
# --------------------------------------------------------------------------------------------


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    ts = pd.to_datetime(df[SPINE_TS], utc=True).dt.as_unit("us").astype("int64").to_numpy()
    order = np.lexsort((df["label"].to_numpy(), ts, df["user_id"].to_numpy()))
    out = df.iloc[order].reset_index(drop=True)
    out["__ts"] = ts[order]
    return out


@dataclass
class Check:
    ok: bool
    max_rel: float  # largest relative difference of the float features (0 when equal)
    problems: list[str]


def compare(got: pd.DataFrame, ref: pd.DataFrame) -> Check:
    """``got`` against the range-join result, value by value after sorting both by the spine
    columns (rows with equal spine columns have equal features, so the order among them is moot)."""
    missing = [c for c in ["user_id", SPINE_TS, "label", *FEATURES] if c not in got.columns]
    if missing:
        return Check(False, math.nan, [f"missing columns {missing}"])
    if len(got) != len(ref):
        return Check(False, math.nan, [f"{len(got)} rows, expected {len(ref)}"])
    g, e = _sorted(got), _sorted(ref)
    problems: list[str] = []
    for c in ("user_id", "__ts", "label"):
        if not np.array_equal(g[c].to_numpy(), e[c].to_numpy()):
            problems.append(f"spine column {c} differs after sorting")
    max_rel = 0.0
    for c in FEATURES:
        gv = g[c].to_numpy(dtype="float64", na_value=np.nan)
        ev = e[c].to_numpy(dtype="float64", na_value=np.nan)
        gn, en = np.isnan(gv), np.isnan(ev)
        bad = gn != en
        both = ~gn & ~en
        if c in COUNTS:
            bad |= both & (gv != ev)
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                rel = np.where(both, np.abs(gv - ev) / np.maximum(np.abs(gv), np.abs(ev)), 0.0)
            rel = np.nan_to_num(rel, nan=0.0)  # 0 / 0: both zero
            max_rel = max(max_rel, float(rel.max(initial=0.0)))
            bad |= rel > RTOL
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            problems.append(
                f"{int(bad.sum())} of {len(e)} rows differ in {c}; e.g. user {e.at[i, 'user_id']} at "
                f"{e.at[i, SPINE_TS]}: got {g.at[i, c]!r}, range join {e.at[i, c]!r}"
            )
    return Check(not problems, max_rel, problems)


def check_all(results: dict[str, pd.DataFrame], ref_name: str = "range_join") -> dict[str, Check]:
    ref = results[ref_name]
    return {name: compare(res, ref) for name, res in results.items() if name != ref_name}


# --------------------------------------------------------------------------------------------
# child processes: peak RSS of one cold run (and pandas rolling's timing)
# --------------------------------------------------------------------------------------------


def child_main(args: argparse.Namespace) -> None:
    p = Params(args.events, args.users, args.days, args.seed)
    spine = load_spine(p, args.workdir, args.size)
    runner = Runner(p, args.workdir, args.threads, with_store=args.child in ("sqlfeat", "sqlfeat_sql"))
    fn = runner.fn(args.child, spine)
    gc.collect()
    before = C.current_rss_bytes()
    reset = C.reset_peak_rss()
    cpu0 = time.process_time()
    secs, out = C.timed(fn)
    cpu = time.process_time() - cpu0
    peak = C.peak_rss_bytes()
    if args.result:
        C.write_parquet_atomic(__import__("pyarrow").Table.from_pandas(out, preserve_index=False), args.result)
    C.child_report({"peak": peak, "before": before, "reset": reset, "seconds": secs, "cpu": cpu, "rows": len(out)})


def run_child(args: argparse.Namespace, p: Params, form: str, size: int, result: Path | None = None,
              timeout: float = 1800) -> dict | None:  # fmt: skip
    argv = [
        str(Path(__file__).resolve()), "--child", form, "--size", str(size), "--events", str(p.events),
        "--users", str(p.users), "--days", str(p.days), "--seed", str(p.seed), "--workdir", str(args.workdir),
    ]  # fmt: skip
    if args.threads:
        argv += ["--threads", str(args.threads)]
    if result:
        argv += ["--result", str(result)]
    try:
        return C.run_child(argv, timeout=timeout)
    except Exception as exc:  # noqa: BLE001
        C.log(f"  child {form} @ {size:,} failed: {str(exc)[-500:]}")
        return {"error": f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1][:200]}"}


def spine_users_events(p: Params, workdir: Path, size: int, users_col: np.ndarray) -> int:
    """Events of the users present in the spine: what the pandas forms actually process."""
    spine_users = np.unique(pq.read_table(p.spine_path(workdir, size), columns=["user_id"]).column(0).to_numpy())
    return int(np.isin(users_col, spine_users).sum())


# --------------------------------------------------------------------------------------------
# sections
# --------------------------------------------------------------------------------------------


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def correctness_section(args: argparse.Namespace, names: list[str]) -> dict[str, Check]:
    p = Params(args.check_events, args.check_users, args.days, args.seed)
    ensure_data(p, args.workdir, [args.check_size])
    spine = load_spine(p, args.workdir, args.check_size)
    runner = Runner(p, args.workdir, args.threads)
    C.log(f"check: {args.check_events:,} events / {args.check_users:,} users / {args.check_size:,} spine rows")
    results = {}
    for name in ["range_join", *[n for n in names if n != "range_join"]]:
        results[name] = runner.fn(name, spine)()
    checks = check_all(results)
    for name, chk in checks.items():
        C.log(f"  {name:18s} {'OK' if chk.ok else 'MISMATCH'}  max rel float diff {chk.max_rel:.1e}")
        for prob in chk.problems:
            C.log(f"    {prob}")
    return checks


def timing_section(args, p: Params, runner: Runner, size: int, names: list[str], users_col, prev) -> dict[str, Any]:
    spine = load_spine(p, args.workdir, size)
    r: dict[str, Any] = {"size": size, "load_before": load()}
    C.log(f"spine {size:,}: warm-up + best of {args.reps} (load {r['load_before']})")
    timings = time_forms(runner, names, spine, args.reps, True, args.timeout)
    r["timings"] = timings
    # pandas rolling: one cold run in a child (its time and its peak RSS), if the estimate fits.
    r["pandas_events"] = spine_users_events(p, args.workdir, size, users_col)
    if not args.no_pandas_rolling:
        est = None
        if prev and prev.get("rolling", {}).get("seconds"):
            work = lambda x: x["pandas_events"] + x["size"]
            est = prev["rolling"]["seconds"] * work(r) / work(prev)
        if est is not None and est > args.pandas_budget:
            r["rolling"] = {"skipped": f"estimated {est:.0f} s > --pandas-budget {args.pandas_budget:.0f} s"}
            C.log(f"  pandas_rolling skipped: {r['rolling']['skipped']}")
        else:
            out = p.data_dir(args.workdir) / f"pandas_rolling_{size}.parquet"
            C.log("  pandas_rolling: one cold run in a child process ...")
            r["rolling"] = run_child(args, p, "pandas_rolling", size, out, timeout=max(args.pandas_budget * 3, 600))
            if r["rolling"] and "seconds" in r["rolling"]:
                timings["pandas_rolling"] = Timing(
                    [r["rolling"]["seconds"]], [r["rolling"]["cpu"]], pd.read_parquet(out)
                )
                out.unlink(missing_ok=True)
                C.log(f"  pandas_rolling {r['rolling']['seconds']:.1f} s")
    results = {n: t.result for n, t in timings.items() if t.result is not None}
    r["checks"] = check_all(results) if "range_join" in results else {}
    for name, chk in r["checks"].items():
        C.log(f"  check {name:16s} {'OK' if chk.ok else 'MISMATCH'} (max rel {chk.max_rel:.1e})")
        for prob in chk.problems:
            C.log(f"    {prob}")
    for t in timings.values():
        t.result = None
    r["rss"] = {}
    if not args.no_rss:
        for form in [f for f in RSS_FORMS if f in names]:
            C.log(f"  peak RSS {form} ...")
            r["rss"][form] = run_child(args, p, form, size)
        if "rolling" in r:
            r["rss"]["pandas_rolling"] = r["rolling"]
    r["load_after"] = load()
    gc.collect()
    return r


def dense_section(args) -> list[dict[str, Any]]:
    p = Params(args.events, args.dense_users, args.days, args.seed)
    ensure_data(p, args.workdir, args.dense_sizes)
    runner = Runner(p, args.workdir, args.threads)
    runner.duck.con.execute(f"SELECT count(*), sum(dwell_seconds) FROM read_parquet('{runner.events}')").fetchall()
    rows = []
    for size in args.dense_sizes:
        spine = load_spine(p, args.workdir, size)
        r: dict[str, Any] = {"size": size, "users": args.dense_users, "load_before": load()}
        C.log(f"dense ({args.events:,} events / {args.dense_users:,} users) spine {size:,}: {args.dense_reps} run(s)")
        r["timings"] = time_forms(runner, DENSE_SQL, spine, args.dense_reps, False, args.timeout)
        results = {n: t.result for n, t in r["timings"].items() if t.result is not None}
        r["checks"] = check_all(results) if "range_join" in results else {}
        for name, chk in r["checks"].items():
            C.log(f"  check {name:16s} {'OK' if chk.ok else 'MISMATCH'} (max rel {chk.max_rel:.1e})")
        for t in r["timings"].values():
            t.result = None
        r["load_after"] = load()
        rows.append(r)
    return rows


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------


def _s(t: Timing | None, cpu: bool = False) -> str:
    if t is None:
        return "n/a"
    if t.skipped:
        return f"skipped ({t.skipped})"
    if t.failed:
        return "failed"
    return C.fmt_seconds(t.best_cpu if cpu else t.best)


def _speedup(base: Timing | None, ours: Timing | None) -> str:
    """base / ours: how many times faster ``ours`` is (> 1x: faster)."""
    if not base or not ours or base.best is None or ours.best is None:
        return "n/a"
    return C.fmt_ratio(base.best, ours.best)


def _rss(r: dict, form: str) -> str:
    x = r.get("rss", {}).get(form)
    if not x:
        return "n/a"
    if "peak" not in x:
        return "skipped" if "skipped" in x else "failed"
    return C.fmt_mib(x["peak"])


def _checks(checks: dict[str, Check], names: list[str]) -> str:
    present = [n for n in names if n in checks]
    if not present:
        return "n/a"
    bad = [n for n in present if not checks[n].ok]
    return "all OK" if not bad else "MISMATCH: " + ", ".join(bad)


def report(args, info: dict, check: dict[str, Check], rows: list[dict], dense: list[dict]) -> str:
    md = args.markdown
    out: list[str] = []
    h = (lambda t: f"**{t}**") if md else (lambda t: f"== {t} ==")
    mach = ", ".join(f"{k} {v}" for k, v in info.items())
    out += [f"Machine: {mach}", ""]
    out += [
        h(
            f"Timings: {args.events:,} events / {args.users:,} users / {args.days} days, 9 features (count, sum, mean x 1, 7, 30 d)"
        ),
        "",
        (
            f"Seconds: best of {args.reps} after a warm-up, forms interleaved; pandas rolling is one cold run in a "
            "child process. 'x' columns are baseline time / sqlfeat time (above 1x: sqlfeat faster). Peak RSS: a "
            "cold run in a fresh process."
        ),
        "",
    ]
    head = [
        "spine rows", "sqlfeat s", "range join s", "x", "pandas rolling s", "x", "pandas asof s", "x",
        "prefix sums s", "x", "peak RSS sqlfeat", "load before / after", "checks",
    ]  # fmt: skip
    body = []
    for r in rows:
        t = r["timings"]
        rolling = (
            _s(t.get("pandas_rolling")) if "pandas_rolling" in t else (r.get("rolling") or {}).get("skipped", "n/a")
        )
        body.append([
            f"{r['size']:,}", _s(t.get("sqlfeat")), _s(t.get("range_join")), _speedup(t.get("range_join"), t.get("sqlfeat")),
            rolling, _speedup(t.get("pandas_rolling"), t.get("sqlfeat")),
            _s(t.get("pandas_asof")), _speedup(t.get("pandas_asof"), t.get("sqlfeat")),
            _s(t.get("prefix_asof")), _speedup(t.get("prefix_asof"), t.get("sqlfeat")),
            _rss(r, "sqlfeat"), f"{r['load_before'].split()[0]} / {r['load_after'].split()[0]}",
            _checks(r["checks"], ["sqlfeat", "prefix_asof", "pandas_asof", "pandas_rolling"]),
        ])  # fmt: skip
    out += [C.format_table(head, body, md), ""]
    forms = ["sqlfeat", "range_join", "prefix_asof", "pandas_asof", "pandas_rolling"]
    out += [
        (
            "CPU seconds of the same runs (this process, all threads: less sensitive than wall time to the other "
            "load on the machine; pandas runs on one core, DuckDB on all) and peak RSS (one cold run in a fresh "
            "process; Python + pandas + pyarrow + duckdb + the spine are ~200 MiB of it):"
        ),
        "",
        C.format_table(
            ["spine rows", *[f"{n} cpu s" for n in forms], *[f"{n} RSS" for n in forms]],
            [[f"{r['size']:,}", *[_s(r["timings"].get(n), cpu=True) for n in forms], *[_rss(r, n) for n in forms]] for r in rows],
            md,
        ),
        "",
    ]  # fmt: skip
    if args.experiment:
        out += [h("Plan experiment (same data; SQL only, on one DuckDB connection, spine registered as a view)"), ""]
        out += _plan_table(rows, EXPERIMENT_SQL + ["range_join", "prefix_asof"], md)
        if dense:
            out += [
                h(f"Denser: the same {args.events:,} events over {args.dense_users:,} users "
                  f"({args.events // args.dense_users:,} events per user), {args.dense_reps} run(s), no warm-up"),
                "",
            ]  # fmt: skip
            out += _plan_table(dense, DENSE_SQL, md)
    out += [h("Correctness"), ""]
    lines = [
        (
            f"Small data set ({args.check_events:,} events / {args.check_users:,} users / {args.check_size:,} spine "
            "rows), every form against the range-join baseline (counts exact, floats rel 1e-9, nulls in the same rows):"
        )
    ]
    for name, chk in check.items():
        lines.append(f"- {name}: {'OK' if chk.ok else 'MISMATCH'} (max relative float difference {chk.max_rel:.1e})")
        lines += [f"  - {p}" for p in chk.problems]
    for r in rows + dense:
        where = f"{r['size']:,} spine rows" + (f", {r['users']:,} users" if "users" in r else "")
        parts = [f"{n} {'OK' if c.ok else 'MISMATCH'} ({c.max_rel:.0e})" for n, c in r["checks"].items()]
        lines.append(f"- at {where}: " + ", ".join(parts))
        for n, c in r["checks"].items():
            lines += [f"  - {n}: {p}" for p in c.problems]
    out += lines + [""]
    return "\n".join(out)


def _plan_table(rows: list[dict], names: list[str], md: bool) -> list[str]:
    head = ["plan", *[f"{r['size']:,} wall s" for r in rows], *[f"{r['size']:,} cpu s" for r in rows],
            *[f"{r['size']:,} vs sqlfeat SQL" for r in rows], "max rel diff", "what"]  # fmt: skip
    body = []
    for n in names:
        ts = [r["timings"].get(n) for r in rows]
        rel = [r["checks"][n].max_rel for r in rows if n in r["checks"]]
        oks = [r["checks"][n].ok for r in rows if n in r["checks"]]
        what = "sqlfeat's generated SQL" if n == "sqlfeat_sql" else SQL_FORMS[n][1]
        body.append([
            n, *[_s(t) for t in ts], *[_s(t, cpu=True) for t in ts],
            *[_speedup(r["timings"].get("sqlfeat_sql"), r["timings"].get(n)) for r in rows],
            ("MISMATCH " if not all(oks) else "") + (f"{max(rel):.0e}" if rel else "ref"), what,
        ])  # fmt: skip
    return [
        C.format_table(head, body, md), "",
        "'vs sqlfeat SQL' = sqlfeat SQL time / plan time (above 1x: the plan is faster). "
        "Load averages before/after: " + "; ".join(f"{r['size']:,}: {r['load_before']} / {r['load_after']}" for r in rows),
        "",
    ]  # fmt: skip


def compiler_digest() -> str:
    """Short hash of sqlfeat/compiler/*.py: which compiler version was timed (others edit it)."""
    h = hashlib.sha1()
    for f in sorted((HERE.parent / "sqlfeat" / "compiler").glob("*.py")):
        h.update(f.read_bytes())
    return h.hexdigest()[:10]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child_main(args)
        return 0
    p = Params(args.events, args.users, args.days, args.seed)
    if args.print_sql:
        ensure_data(p, args.workdir, [])
        print(Runner(p, args.workdir, None, with_store=args.print_sql == "sqlfeat_sql").sql(args.print_sql))
        return 0
    names = ["sqlfeat", *MAIN_SQL, "pandas_asof"] + (EXPERIMENT_SQL if args.experiment else [])
    info = C.machine_info()
    info["loadavg"] = load()
    info["sqlfeat compiler"] = compiler_digest()
    check_names = ["sqlfeat", *SQL_FORMS, "sqlfeat_sql", "pandas_asof", "pandas_rolling"]
    check = correctness_section(args, check_names)

    ensure_data(p, args.workdir, args.sizes)
    runner = Runner(p, args.workdir, args.threads)
    info["duckdb threads"] = runner.duck.threads
    users_col = pq.read_table(p.events_path(args.workdir), columns=["user_id"]).column(0).to_numpy()
    rows, prev = [], None
    for size in args.sizes:
        prev = timing_section(args, p, runner, size, names, users_col, prev)
        rows.append(prev)
    dense = dense_section(args) if args.experiment and args.dense_users else []
    info["loadavg_end"] = load()
    print(report(args, info, check, rows, dense))
    bad = [c for c in check.values() if not c.ok] + [c for r in rows + dense for c in r["checks"].values() if not c.ok]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
