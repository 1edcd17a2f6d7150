#!/usr/bin/env python
"""Point-in-time (PIT) retrieval benchmark: sqlfeat vs hand-written SQL, on DuckDB and PostgreSQL.

Generates three feature views (user_clicks ttl 30d, user_orders ttl 90d, user_profile no ttl) of
--rows-per-view rows as parquet files, plus spines of --sizes rows, and times per spine size:

DuckDB (the parquet files; every form gets the same pandas spine):
  sqlfeat    FeatureStore.get_historical_features(entity_df=spine, features=[7]).to_df(), with
             strategy="auto" (the default; the table says what it picked), and again with the
             strategy auto did not pick forced, so both strategies are timed at every size
  ASOF       3 chained ASOF LEFT JOINs, TTL as a CASE, .df() - the fastest hand-written form
  window     per view a range LEFT JOIN + ROW_NUMBER() QUALIFY = 1 (skipped beyond --window-timeout)
  + peak RSS of sqlfeat and of ASOF, each in a fresh child process

PostgreSQL (--pg-sizes; the same data COPYed into a schema of its own, indexed on
(user_id, event_time), VACUUM ANALYZEd, dropped at the end; the load is not timed):
  sqlfeat    the same call on a repo with offline_store type postgres and PostgreSQLSource views
  LATERAL    per view LEFT JOIN LATERAL (... ORDER BY event_time DESC LIMIT 1), spine COPYed in
  DISTINCT ON per view a range join + DISTINCT ON (spine row), spine COPYed in

Every result is checked value by value: DuckDB forms against ASOF, PostgreSQL forms against
LATERAL and against the DuckDB ASOF result.  Progress goes to stderr, the report to stdout; the
exit status is 1 if a check fails or a form errors.  Details: benchmarks/README.md.

examples:
  python benchmarks/pit.py                               # everything, ~6 min on 2 cores
  python benchmarks/pit.py --sizes 10000 --no-pg         # DuckDB only, quick
  python benchmarks/pit.py --pg-sizes 10000,100000 --sizes 1000000 --explain 1000000
  python benchmarks/pit.py --markdown > /tmp/pit.md      # report for docs/benchmarks.md
  PYTHONPATH=/path/to/checkout python benchmarks/pit.py  # benchmark another sqlfeat source tree
"""

from __future__ import annotations

import argparse
import gc
import shutil
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
# The sqlfeat benchmarked: one on PYTHONPATH if given, else the installed (editable) working tree.
sys.path.append(str(HERE.parent))

import _common as C
from pit_check import compare
from pit_data import Params, ensure_data, load_spine
from pit_duckdb import Baselines, auto_strategy, duckdb_store, explain, run_sqlfeat, sqlfeat_version
from pit_postgres import DEFAULT_URL, run_section
from pit_report import STRATEGIES, print_report
from pit_timing import Form, time_forms


def _sizes(text: str) -> list[int]:
    return [int(s.replace("_", "")) for s in text.split(",") if s.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="pit.py", description=__doc__.split("\n\n")[0], epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    data = ap.add_argument_group("data (generated once, cached under --workdir)")
    data.add_argument("--rows-per-view", type=int, default=1_000_000, metavar="N", help="rows per view (1,000,000)")
    data.add_argument("--users", type=int, default=100_000, metavar="N", help="distinct users (100,000)")
    data.add_argument("--days", type=int, default=180, metavar="N", help="period the events span (180)")
    data.add_argument("--seed", type=int, default=42, metavar="N", help="random seed (42)")
    data.add_argument("--workdir", type=Path, default=HERE / ".data", help="data cache (benchmarks/.data, git-ignored)")
    data.add_argument("--regenerate", action="store_true", help="delete the cached data for these parameters first")
    duck = ap.add_argument_group("DuckDB")
    duck.add_argument(
        "--sizes", default="10000,100000,1000000", metavar="N,N", help="spine sizes (10000,100000,1000000)"
    )
    duck.add_argument("--reps", type=int, default=None, metavar="N", help="timed runs per form (3; 2 at >= 1M rows)")
    duck.add_argument("--window-timeout", type=float, default=60.0, metavar="S",
                      help="a window-form run (hand-written or sqlfeat's) longer than S seconds is "
                           "interrupted and reported 'skipped' (60)")  # fmt: skip
    duck.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="DuckDB threads for the baselines (DuckDB's default: one per core)",
    )
    duck.add_argument("--no-rss", action="store_true", help="skip the peak-RSS child processes")
    pg = ap.add_argument_group("PostgreSQL")
    pg.add_argument("--pg-sizes", default="10000,100000,1000000", metavar="N,N",
                    help="spine sizes (10000,100000,1000000); a size whose time, extrapolated from the "
                         "previous one, does not fit --pg-budget runs once without warm-up, or is skipped")  # fmt: skip
    pg.add_argument("--pg-url", default=DEFAULT_URL, metavar="URL", help=f"libpq URL ({DEFAULT_URL})")
    pg.add_argument("--pg-reps", type=int, default=2, metavar="N", help="timed runs per form, after a warm-up (2)")
    pg.add_argument(
        "--pg-budget",
        type=float,
        default=300.0,
        metavar="S",
        help="seconds one PostgreSQL spine size may take, all forms and runs, estimated (300)",
    )
    pg.add_argument("--pg-timeout", type=float, default=600.0, metavar="S", help="statement_timeout (600)")
    pg.add_argument("--no-pg", action="store_true", help="DuckDB only")
    out = ap.add_argument_group("output")
    out.add_argument("--markdown", action="store_true", help="print the report as Markdown (for docs/benchmarks.md)")
    out.add_argument("--explain", type=int, metavar="SIZE", default=None,
                     help="at this spine size, write to the data dir: sqlfeat's SQL, its to_df() cut into "
                          "timed steps, DuckDB operator profiles of it and of the ASOF query, and "
                          "EXPLAIN ANALYZE of sqlfeat and LATERAL on PostgreSQL")  # fmt: skip
    ap.add_argument("--no-sqlfeat", action="store_true", help="time the hand-written DuckDB baselines only")
    ap.add_argument("--child", choices=["sqlfeat", "asof"], help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    args.sizes, args.pg_sizes = _sizes(args.sizes), [] if args.no_pg else _sizes(args.pg_sizes)
    args.workdir = args.workdir.resolve()
    return args


# --------------------------------------------------------------------------------------------
# peak RSS: one cold run in a fresh child process
# --------------------------------------------------------------------------------------------


def child_main(args: argparse.Namespace, p: Params) -> None:
    spine = load_spine(p, args.workdir, args.size)
    if args.child == "sqlfeat":
        store = duckdb_store(p, args.workdir, apply=False)  # the parent applied it
        fn = lambda: run_sqlfeat(store, spine)
    else:
        base = Baselines(p, args.workdir, args.threads)
        fn = lambda: base.run_asof(spine)
    gc.collect()
    before = C.current_rss_bytes()
    reset = C.reset_peak_rss()
    secs, out = C.timed(fn)
    C.child_report({"peak": C.peak_rss_bytes(), "before": before, "reset": reset, "seconds": secs, "rows": len(out)})


def measure_rss(args: argparse.Namespace, which: str, size: int) -> dict | None:
    argv = [
        str(Path(__file__).resolve()), "--child", which, "--size", str(size),
        "--rows-per-view", str(args.rows_per_view), "--users", str(args.users), "--days", str(args.days),
        "--seed", str(args.seed), "--workdir", str(args.workdir),
    ]  # fmt: skip
    if args.threads:
        argv += ["--threads", str(args.threads)]
    try:
        return C.run_child(argv, timeout=1800)
    except Exception as exc:  # noqa: BLE001
        C.log(f"  peak RSS ({which}, {size:,}): failed: {exc}")
        return None


# --------------------------------------------------------------------------------------------
# DuckDB section
# --------------------------------------------------------------------------------------------


def duckdb_size(args, p: Params, store, base: Baselines, size: int, notes: dict[str, None]) -> dict[str, Any]:
    reps = args.reps or (2 if size >= 1_000_000 else 3)
    spine = load_spine(p, args.workdir, size)
    r: dict[str, Any] = {"size": size, "reps": reps}
    C.log(f"duckdb spine {size:,}: best of {reps} after 1 warm-up")
    if not args.no_rss:
        if store is not None:
            r["rss_sqlfeat"] = measure_rss(args, "sqlfeat", size)
        r["rss_asof"] = measure_rss(args, "asof", size)

    forms = []
    if store is not None:
        r["auto"] = auto_strategy(store, spine)
        other = next((s for s in STRATEGIES if s != r["auto"]), "asof")
        sqlfeat_con = store.offline_store.connection
        forms += [
            Form("sqlfeat", lambda: run_sqlfeat(store, spine)),
            Form(f"sqlfeat_{other}", lambda: run_sqlfeat(store, spine, other), sqlfeat_con,
                 args.window_timeout if other == "window" else None),
        ]  # fmt: skip
    forms += [
        Form("asof", lambda: base.run_asof(spine)),
        Form("window", lambda: base.run_window(spine), base.con, args.window_timeout),
    ]
    out = time_forms(forms, reps)
    for f in forms:
        r[f.name] = out.best(f.name)
    r["skipped"], r["failed"] = out.skipped, out.failed
    if "asof" in out.results:
        for name in [f.name for f in forms if f.name != "asof" and f.name in out.results]:
            ok, problems, dtypes = compare(out.results[name], out.results["asof"], f"{name} @ {size:,}")
            r.setdefault("checks", {})[f"{name} vs ASOF"] = ok
            notes.update(dict.fromkeys(problems))
            if dtypes and name == "sqlfeat":
                notes[f"sqlfeat dtypes differ from the ASOF .df() result (not a mismatch): {', '.join(dtypes)}"] = None
            C.log(f"  check {name} vs ASOF: {'OK' if ok else 'MISMATCH'}")
    if args.explain == size:
        explain(store, spine, base, p.data_dir(args.workdir), size)
    return r


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    p = Params(args.rows_per_view, args.users, args.days, args.seed)
    if args.child:
        child_main(args, p)
        return 0
    if args.regenerate and p.data_dir(args.workdir).exists():
        shutil.rmtree(p.data_dir(args.workdir))
    ensure_data(p, args.workdir, sorted(set(args.sizes) | set(args.pg_sizes)))

    info = C.machine_info()
    notes: dict[str, None] = {}  # ordered set
    store = None
    if not args.no_sqlfeat:
        try:
            store = duckdb_store(p, args.workdir)
        except Exception as exc:  # noqa: BLE001 - keep benchmarking the baselines
            notes[f"sqlfeat not timed: {type(exc).__name__}: {exc}"] = None
            C.log(f"sqlfeat unavailable ({exc}); timing the baselines only")
    info["sqlfeat"] = sqlfeat_version()
    base = Baselines(p, args.workdir, args.threads)
    info["duckdb threads"] = base.threads

    rows = []
    for size in args.sizes:
        rows.append(duckdb_size(args, p, store, base, size, notes))
        gc.collect()

    pg_rows: list[dict] = []
    if args.pg_sizes and store is not None:
        pg_rows, pg_notes = run_section(args, p, args.workdir, base.run_asof, info)
        notes.update(dict.fromkeys(pg_notes))

    info["loadavg_end"] = C.machine_info().get("loadavg", "?")
    print_report(args, info, rows, pg_rows, list(notes))
    bad = [r for r in rows + pg_rows if r.get("failed") or not all(r.get("checks", {}).values())]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
