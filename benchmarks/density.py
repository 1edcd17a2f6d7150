#!/usr/bin/env python
"""Density sweep: sqlfeat's strategies vs the best hand-written query, over rows per entity and size.

Sweeps the density d (source rows per entity: --densities) and the size n (rows per view: --sizes)
with users = n / d, and a spine of --spine rows (default: n, so every side grows with n).  At each
point, in the same run and on the same pandas spine:

DuckDB, point-in-time lookups (3 views, ttl 30 d / 90 d / none, data as in pit.py):
  auto      get_historical_features(...).to_df() with strategy="auto" (the report says what it picked)
  asof, carry, window   the same with that strategy forced
  ASOF JOIN (hand)      3 chained ASOF LEFT JOINs, TTL as a CASE (pit_duckdb.Baselines)
DuckDB, windowed aggregations (count/sum/mean over 1/7/30 d, data as in aggregations.py):
  auto, carry, window   sqlfeat; range join and prefix sums (hand), the better one is the baseline
PostgreSQL, point-in-time lookups (--pg-sizes, smaller: PostgreSQL is slower; --no-pg to skip):
  auto, carry, window, lateral   sqlfeat on the same data COPYed in, indexed on (user_id, event_time)
  LATERAL (hand)        per view LEFT JOIN LATERAL (... ORDER BY event_time DESC LIMIT 1)

A run longer than --timeout seconds is interrupted and reported as such (and that form is not run
again at a larger size or density).  Every result is checked value by value against the
hand-written one.  The report flags points where auto is more than --bad-ratio times slower than
the best forced strategy, and forms whose time grows faster than n log n at fixed density (a
log-log slope above --growth-limit between consecutive sizes).  Progress goes to stderr, the
report to stdout; exit status 1 on a correctness mismatch or a form that errors (a time-out or
running out of --duckdb-memory is a result, not an error).

examples:
  python benchmarks/density.py                       # the default sweep with PostgreSQL (20-25 min on 2 cores)
  python benchmarks/density.py --quick               # 1-2 minutes
  python benchmarks/density.py --densities 10,1000 --sizes 100000 --no-pg --no-aggregates
  python benchmarks/density.py --markdown --write-docs   # also rewrites its section of docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
# The sqlfeat benchmarked: one on PYTHONPATH if given, else the installed (editable) working tree.
sys.path.append(str(HERE.parent))

import _common as C
from density_forms import Point, Timeouts, duckdb_aggregates, duckdb_lookup, postgres_lookup
from density_pg import postgres_aggregates
from density_report import HEADING, render
from pit_duckdb import sqlfeat_version
from pit_postgres import DEFAULT_URL

DOCS = HERE.parent / "docs" / "benchmarks.md"
RUNNERS = {
    ("duckdb", "lookup"): duckdb_lookup,
    ("duckdb", "aggregates"): duckdb_aggregates,
    ("postgres", "lookup"): postgres_lookup,
    ("postgres", "aggregates"): postgres_aggregates,
}
QUICK = {"densities": "1,100,1000", "sizes": "10000,100000", "pg_sizes": "3000,10000", "timeout": 3.0, "reps": 1}


def _ints(text: str) -> list[int]:
    return [int(s.replace("_", "")) for s in text.split(",") if s.strip()]


def spine_rows(spec: str, n: int) -> int:
    """``--spine``: a row count, ``n`` (as many as the rows per view) or ``n/K``."""
    spec = spec.replace("_", "").strip()
    if spec == "n":
        return n
    if spec.startswith("n/"):
        return max(1, n // int(spec[2:]))
    return int(spec)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    doc = __doc__ or ""
    ap = argparse.ArgumentParser(
        prog="density.py", description=doc.split("\n\n")[0], epilog="\n\n".join(doc.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    sweep = ap.add_argument_group("the sweep")
    sweep.add_argument("--densities", default="1,10,100,1000,10000", metavar="D,D",
                       help="source rows per entity (1,10,100,1000,10000)")  # fmt: skip
    sweep.add_argument(
        "--sizes", default="100000,1000000", metavar="N,N", help="rows per view on DuckDB (100000,1000000)"
    )
    sweep.add_argument(
        "--pg-sizes", default="10000,100000", metavar="N,N", help="rows per view on PostgreSQL (10000,100000)"
    )
    sweep.add_argument("--spine", default="n", metavar="SPEC",
                       help="spine rows: a number, 'n' (= rows per view, the default) or 'n/K'")  # fmt: skip
    sweep.add_argument("--quick", action="store_true",
                       help=f"a 1-2 minute sweep: densities {QUICK['densities']}, sizes {QUICK['sizes']}, PostgreSQL "
                            f"{QUICK['pg_sizes']}, --timeout {QUICK['timeout']:.0f}, one run after the warm-up")  # fmt: skip
    sweep.add_argument("--no-pg", action="store_true", help="DuckDB only")
    sweep.add_argument("--no-duckdb", action="store_true", help="PostgreSQL only")
    sweep.add_argument("--no-aggregates", action="store_true", help="skip the windowed aggregations")
    sweep.add_argument("--no-lookups", action="store_true", help="skip the point-in-time lookups")
    run = ap.add_argument_group("timing")
    run.add_argument(
        "--reps", type=int, default=None, metavar="N", help="runs after the warm-up (3; 2 above 100k spine rows)"
    )
    run.add_argument("--timeout", type=float, default=30.0, metavar="S",
                     help="interrupt a run longer than S seconds and report it (30)")  # fmt: skip
    run.add_argument(
        "--no-warmup", action="store_true", help="no warm-up run: a smoke test's setting, not a benchmark's"
    )
    run.add_argument("--slow", type=float, default=10.0, metavar="S",
                     help="a form whose warm-up takes longer than S seconds is timed by that run alone (10)")  # fmt: skip
    run.add_argument(
        "--threads", type=int, default=None, metavar="N", help="DuckDB threads for the hand-written queries"
    )
    run.add_argument("--duckdb-memory", default="8GB", metavar="SIZE",
                     help="memory_limit of every DuckDB connection, sqlfeat's included (8GB; '' for DuckDB's default)")  # fmt: skip
    run.add_argument("--pg-url", default=DEFAULT_URL, metavar="URL", help=f"libpq URL ({DEFAULT_URL})")
    data = ap.add_argument_group("data (generated once, cached under --workdir)")
    data.add_argument("--days", type=int, default=180, metavar="N", help="period the events span (180)")
    data.add_argument("--seed", type=int, default=42, metavar="N", help="random seed (42)")
    data.add_argument("--workdir", type=Path, default=HERE / ".data", help="data cache (benchmarks/.data, git-ignored)")
    out = ap.add_argument_group("report")
    out.add_argument("--growth-limit", type=float, default=1.15, metavar="X",
                     help="flag a log-log slope of time vs n above X between consecutive sizes (1.15)")  # fmt: skip
    out.add_argument("--bad-ratio", type=float, default=1.5, metavar="X",
                     help="flag a point where auto is more than X times slower than the best forced strategy (1.5)")  # fmt: skip
    out.add_argument("--markdown", action="store_true", help="print the report as Markdown")
    out.add_argument("--render", type=Path, metavar="JSON",
                     help="print (or --write-docs) the report of a saved run instead of running: every run saves "
                          "its results to <workdir>/density_results.json")  # fmt: skip
    out.add_argument("--write-docs", action="store_true", help=f"replace the section '{HEADING}' of docs/benchmarks.md")
    args = ap.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    given = {a.split("=")[0].lstrip("-").replace("-", "_") for a in args.argv if a.startswith("--")}
    if args.quick:
        for k, v in QUICK.items():
            if k not in given:
                setattr(args, k, v)
    args.densities, args.sizes, args.pg_sizes = _ints(args.densities), _ints(args.sizes), _ints(args.pg_sizes)
    args.workdir = args.workdir.resolve()
    return args


def points(densities: list[int], sizes: list[int], spine: str) -> list[Point]:
    """Densities ascending, sizes ascending within each (so a form's time-outs are known before
    the points they make it skip); points with fewer rows than the density are left out."""
    return [Point(d, n, spine_rows(spine, n)) for d in sorted(densities) for n in sorted(sizes) if n >= d]


def git_commit() -> str:
    try:
        rev = subprocess.run(["git", "-C", str(HERE.parent), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "-C", str(HERE.parent), "status", "--porcelain", "--", "sqlfeat"],
                               capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
        return rev + (" (sqlfeat/ modified)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "?"


def pg_reachable(url: str) -> str | None:
    """None if PostgreSQL answers at ``url``, else why not."""
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=5) as con:
            con.execute("SELECT 1")
        return None
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"


def run(args) -> tuple[dict, dict, list[str]]:
    info = C.machine_info()
    info["sqlfeat"] = f"{sqlfeat_version()} at commit {git_commit()}"
    info["duckdb threads"] = args.threads or "default: one per core"
    info["loadavg_start"] = info.pop("loadavg", "?")
    notes: list[str] = []
    kinds = [k for k, off in (("lookup", args.no_lookups), ("aggregates", args.no_aggregates)) if not off]
    plan = [] if args.no_duckdb else [(("duckdb", kind), args.sizes) for kind in kinds]
    if not args.no_pg:
        why = pg_reachable(args.pg_url)
        if why:
            notes.append(f"PostgreSQL not benchmarked: no server at --pg-url ({why})")
        else:
            plan += [(("postgres", kind), args.pg_sizes) for kind in kinds]
    groups: dict = {key: [] for key, _ in plan}
    timeouts = Timeouts()
    for key, sizes in plan:
        for pt in points(args.densities, sizes, args.spine):
            reps = args.reps or (3 if pt.spine <= 100_000 else 2)
            try:
                row = RUNNERS[key](pt, args, timeouts, reps)
            except Exception as exc:  # noqa: BLE001 - report the point, keep sweeping
                C.log(f"{key[0]} {key[1]} {pt.label()} FAILED: {type(exc).__name__}: {exc}")
                notes.append(f"{key[0]} {key[1]} {pt.label()}: the point failed: {type(exc).__name__}: {exc}")
                groups[key].append({"engine": key[0], "kind": key[1], "d": pt.density, "n": pt.rows, "users": pt.users,
                                    "spine": pt.spine, "reps": reps, "load": "", "forms": {}, "checks": {"point": False},
                                    "problems": [], "auto": "failed"})  # fmt: skip
                continue
            if "server" in row:
                info["postgres"] = row.pop("server")
            groups[key].append(row)
            gc.collect()
    info["loadavg_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return info, groups, notes


# What the report needs of a run's settings, kept with its results (--render reads them back).
SETTINGS = ("argv", "timeout", "slow", "no_warmup", "duckdb_memory", "growth_limit", "bad_ratio")


def save(path: Path, args, info: dict, groups: dict, notes: list[str]) -> None:
    data = {
        "settings": {k: getattr(args, k) for k in SETTINGS}, "info": info, "notes": notes,
        "groups": [{"engine": e, "kind": k, "rows": rows} for (e, k), rows in groups.items()],
    }  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    C.write_text_atomic(path, json.dumps(data, indent=1, default=str) + "\n")
    C.log(f"results saved to {path} (--render {path} prints the report again)")


def load(path: Path, args) -> tuple[dict, dict, list[str]]:
    data = json.loads(path.read_text())
    for k, v in data["settings"].items():
        if k != "argv" or v is not None:
            setattr(args, k, v)
    return data["info"], {(g["engine"], g["kind"]): g["rows"] for g in data["groups"]}, data["notes"]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render:
        info, groups, notes = load(args.render, args)
    else:
        info, groups, notes = run(args)
        save(args.workdir / "density_results.json", args, info, groups, notes)
    print(render(args, info, groups, notes))
    if args.write_docs:
        md = argparse.Namespace(**{**vars(args), "markdown": True})
        C.replace_doc_section(DOCS, HEADING, render(md, info, groups, notes))
        C.log(f"wrote the section '{HEADING}' of {DOCS}")
    rows = [r for rs in groups.values() for r in rs]
    bad = [r for r in rows if not all(r["checks"].values())]
    failed = [r for r in rows if any(f["status"] == "failed" for f in r["forms"].values())]
    return 1 if bad or failed else 0


if __name__ == "__main__":
    sys.exit(main())
