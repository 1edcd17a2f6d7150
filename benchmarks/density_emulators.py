#!/usr/bin/env python
"""The SQL sqlfeat sends BigQuery and Snowflake, run on their local emulators at a sparse and at
the densest point of the density sweep: the shape of its cost, not a cloud timing.

Both emulators execute on DuckDB underneath (fakesnow for Snowflake, local-bigquery for
BigQuery), so seconds here say nothing about a warehouse's bill; what carries over is how each
strategy's cost moves with density. At each point (d rows per entity, n rows per view, spine of
n rows, data as in density.py) the same pandas spine runs through sqlfeat with ``auto`` and with
``carry`` and ``window`` forced, for point-in-time lookups (3 views) and windowed aggregations
(9 features); every result is checked value by value against DuckDB's ASOF JOIN (lookups) or
range join (aggregations) on the same data.  The emulators start here (``make services`` builds
their environments).

examples:
  python benchmarks/density_emulators.py                          # d = 10 and 10,000 at n = 20,000
  python benchmarks/density_emulators.py --rows 50000 --timeout 300 --markdown --write-docs
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent / "tests"))  # the emulators' start-up and the warehouse harnesses
sys.path.append(str(HERE.parent))

import _common as C
import aggregations_data as AD
import aggregations_forms as AF
import pit_data as PD
from pit_check import compare as pit_compare
from pit_duckdb import Baselines, apply_repo, feature_views

DOCS = HERE.parent / "docs" / "benchmarks.md"
HEADING = "## Density on the emulators (benchmarks/density_emulators.py)"
FORMS = ("auto", "carry", "window")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog=__doc__.split("examples:")[1], usage="%(prog)s [options]",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--densities", default="10,10000", help="rows per entity, sparse to densest (10,10000)")
    parser.add_argument("--rows", type=int, default=20_000, help="rows per view, and spine rows (20,000)")
    parser.add_argument("--emulators", default="snowflake,bigquery", help="which to run (snowflake,bigquery)")
    parser.add_argument("--timeout", type=float, default=180, help="seconds after which a form is not waited for")
    parser.add_argument("--days", type=int, default=180, help="period the events span (180)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path, default=HERE / ".data", help="data cache (benchmarks/.data)")
    parser.add_argument("--markdown", action="store_true", help="print markdown tables")
    parser.add_argument("--write-docs", action="store_true", help=f"replace '{HEADING}' in docs/benchmarks.md")
    return parser.parse_args(argv)


@contextlib.contextmanager
def emulator(name: str, run_id: str):
    """A running emulator and a harness that writes sources into it."""
    from services import emulators as E
    from warehouses import bigquery_harness, snowflake_harness

    if name == "snowflake":
        with E.fakesnow_server() as kwargs:
            yield snowflake_harness(kwargs, run_id)
    else:
        with E.local_bigquery_server() as info:
            yield bigquery_harness(info, run_id)


def _timed(fn, timeout: float) -> tuple[str, float | None, object]:
    """(status, seconds, result): a form slower than ``timeout`` is run once and reported so."""
    t0 = time.perf_counter()
    try:
        result = fn()
    except Exception as exc:  # noqa: BLE001 - a failing form is a finding, reported with its error
        return f"failed: {type(exc).__name__}: {str(exc)[:200]}", None, None
    first = time.perf_counter() - t0
    if first > timeout / 2:
        return "ok", first, result
    t0 = time.perf_counter()
    result = fn()
    return "ok", min(first, time.perf_counter() - t0), result


def _open_store(harness, repo: Path, objects: list) -> object:
    """The FeatureStore of ``objects`` on the emulator ``harness`` reaches (JSON is YAML too)."""
    yaml = "project: emulators\nregistry: data/registry.json\noffline_store: " + json.dumps(harness.offline_store) + "\n"
    return apply_repo(repo, yaml, objects)


def _time_forms(kind: str, d: int, args, store, spine, refs: list[str], check) -> dict:
    """``auto`` and each forced strategy timed on ``store``; ``check(result)`` -> (ok, problems)."""
    row = {"kind": kind, "d": d, "n": args.rows, "forms": {}, "checks": {}}
    row["auto"] = ", ".join(sorted(set(store.get_historical_features(spine, refs).strategies.values())))
    for form in FORMS:
        status, seconds, result = _timed(
            lambda form=form: store.get_historical_features(spine, refs, strategy=form).to_df(), args.timeout
        )  # fmt: skip
        row["forms"][form] = {"status": status, "s": seconds}
        if result is not None:
            row["checks"][form], problems = check(result)
            for problem in problems[:3]:
                C.log(f"  {form}: {problem}")
        C.log(f"  {kind} d={d:,}: {form} {status} {C.fmt_seconds(seconds)} s")
    store.close()
    return row


def lookups(harness, repo: Path, d: int, args) -> dict:
    import pyarrow.parquet as pq

    p = PD.Params(args.rows, max(1, args.rows // d), args.days, args.seed)
    PD.ensure_data(p, args.workdir, [args.rows])

    def source(v):
        frame = pq.read_table(p.view_path(args.workdir, v.name)).to_pandas()
        return harness.source(repo, f"lk_{v.name}_{d}", frame, timestamp_field="event_time", created_timestamp_column=v.created)

    store = _open_store(harness, repo, feature_views(source))
    spine = PD.load_spine(p, args.workdir, args.rows)
    reference = Baselines(p, args.workdir, None).run_asof(spine)

    def check(result):
        ok, problems, _ = pit_compare(result, reference, "sqlfeat", "DuckDB ASOF JOIN")
        return ok, problems

    return _time_forms("lookup", d, args, store, spine, PD.FEATURE_REFS, check)


def aggregates(harness, repo: Path, d: int, args) -> dict:
    from aggregations import compare as agg_compare

    p = AD.Params(args.rows, max(1, args.rows // d), args.days, args.seed)
    AD.ensure_data(p, args.workdir, [args.rows])
    source = harness.source(repo, f"agg_events_{d}", AD.load_events(p, args.workdir), timestamp_field="event_time")
    store = _open_store(harness, repo, AF.aggregation_objects(source))
    spine = AD.load_spine(p, args.workdir, args.rows)
    duck = AF.DuckForms(p.events_path(args.workdir), None)
    reference = duck.run_sql(AF.SQL_FORMS["range_join"][0](p.events_path(args.workdir)), spine)

    def check(result):
        found = agg_compare(result, reference)
        return found.ok, found.problems

    return _time_forms("aggregates", d, args, store, spine, AF.FEATURE_REFS, check)


def render(rows: list[dict], info: dict, args, markdown: bool) -> str:
    headers = ["emulator", "kind", "d", "n = spine", "auto picks", "auto s", "carry s", "window s", "window / carry", "checks"]
    body = []
    for r in rows:
        s = {f: r["forms"][f]["s"] if r["forms"][f]["status"] == "ok" else None for f in FORMS}
        failed = [f"{f}: {r['forms'][f]['status']}" for f in FORMS if r["forms"][f]["status"] != "ok"]
        checks = "OK" if r["checks"] and all(r["checks"].values()) else "MISMATCH " + ", ".join(f for f, ok in r["checks"].items() if not ok)
        body.append([
            r["emulator"], r["kind"], f"{r['d']:,}", f"{r['n']:,}", r["auto"], *(C.fmt_seconds(s[f]) for f in FORMS),
            C.fmt_ratio(s["window"], s["carry"]), checks + ("; " + "; ".join(failed) if failed else ""),
        ])  # fmt: skip
    command = "python benchmarks/density_emulators.py " + " ".join(sys.argv[1:])
    lines = [
        f"Run `{command.strip()}` on {info['when']}: {info['machine']}; fakesnow and local-bigquery from "
        "`make services`. Both execute on DuckDB: compare strategies within a row, not with a cloud.",
        "",
        C.format_table(headers, body, markdown),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    densities = [int(x) for x in args.densities.split(",")]
    m = C.machine_info()
    info = {"when": m["date"], "machine": f"{m['nproc']} cores, {m['ram']}, duckdb {m['duckdb']}, load average {m.get('loadavg', '?')}"}
    rows: list[dict] = []
    for name in args.emulators.split(","):
        run_id = str(int(time.time()))
        C.log(f"{name}: starting the emulator")
        with emulator(name, f"bench_{run_id}") as harness:
            for d in densities:
                for kind in (lookups, aggregates):
                    repo = args.workdir / "emulators" / name / f"{kind.__name__}_{d}"
                    row = kind(harness, repo, d, args)
                    row["emulator"] = name
                    rows.append(row)
    report = render(rows, info, args, args.markdown)
    print(report)
    if args.write_docs:
        C.replace_doc_section(DOCS, HEADING, HEADING + "\n\n" + report)
    bad = [r for r in rows if not all(r["checks"].values()) or any(f["status"].startswith("failed") for f in r["forms"].values())]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
