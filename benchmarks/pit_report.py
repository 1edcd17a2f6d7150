"""The report of benchmarks/pit.py: a plain text or Markdown table per engine, plus notes."""

from __future__ import annotations

import _common as C

STRATEGIES = ("asof", "window")


def _secs(r: dict, name: str) -> str:
    if r.get(name) is not None:
        return C.fmt_seconds(r[name])
    if name in r.get("skipped", {}):
        return "skipped"
    if name in r.get("failed", {}):
        return "FAILED"
    return "n/a"


def _strategy_cell(r: dict, strategy: str) -> str:
    """sqlfeat with ``strategy`` forced; the strategy auto picked shows the auto time."""
    if r.get("auto") == strategy:
        return f"{_secs(r, 'sqlfeat')} (auto)"
    return _secs(r, f"sqlfeat_{strategy}")


def _checks(r: dict) -> str:
    bad = [k for k, ok in r.get("checks", {}).items() if not ok]
    if bad:
        return "MISMATCH: " + ", ".join(bad)
    return "OK" if r.get("checks") else "n/a"


def duckdb_table(rows: list[dict], md: bool) -> str:
    headers = [
        "spine rows", "sqlfeat (auto) s", "sqlfeat asof s", "sqlfeat window s", "ASOF s", "sqlfeat/ASOF",
        "window s", "sqlfeat/window", "sqlfeat peak RSS", "ASOF peak RSS", "check",
    ]  # fmt: skip
    table = []
    for r in rows:
        rs, ra = r.get("rss_sqlfeat"), r.get("rss_asof")
        table.append([
            f"{r['size']:,}", _secs(r, "sqlfeat"), _strategy_cell(r, "asof"), _strategy_cell(r, "window"),
            _secs(r, "asof"), C.fmt_ratio(r.get("sqlfeat"), r.get("asof")),
            _secs(r, "window"), C.fmt_ratio(r.get("sqlfeat"), r.get("window")),
            C.fmt_mib(rs["peak"]) if rs else "n/a", C.fmt_mib(ra["peak"]) if ra else "n/a", _checks(r),
        ])  # fmt: skip
    return C.format_table(headers, table, md)


def postgres_table(rows: list[dict], md: bool) -> str:
    headers = [
        "spine rows",
        "sqlfeat s",
        "LATERAL s",
        "sqlfeat/LATERAL",
        "DISTINCT ON s",
        "sqlfeat/DISTINCT ON",
        "runs",
        "check",
    ]
    table = []
    for r in rows:
        if r.get("skipped"):
            table.append([f"{r['size']:,}", "skipped", "", "", "", "", "", r["skipped"]])
            continue
        r = {**r, "skipped": r.get("skipped_forms", {})}
        runs = f"best of {r['reps']}" + (" + warm-up" if r["warmup"] else ", no warm-up")
        table.append([
            f"{r['size']:,}", _secs(r, "sqlfeat"), _secs(r, "lateral"), C.fmt_ratio(r.get("sqlfeat"), r.get("lateral")),
            _secs(r, "distinct_on"), C.fmt_ratio(r.get("sqlfeat"), r.get("distinct_on")), runs, _checks(r),
        ])  # fmt: skip
    return C.format_table(headers, table, md)


def print_report(args, info: dict, rows: list[dict], pg_rows: list[dict], notes: list[str]) -> None:
    md = args.markdown
    out = []
    load = f"load average (1/5/15 min) at start {info.get('loadavg', '?')}, at end {info.get('loadavg_end', '?')}"
    if md:
        out.append(f"### PIT retrieval: sqlfeat vs hand-written SQL ({info['date']})\n")
        out.append(f"- machine: {info['nproc']} cores (`nproc`), {info['ram']} RAM, {info['cpu']}; {load}")
        out.append(
            f"- versions: sqlfeat {info['sqlfeat']}, duckdb {info['duckdb']} ({info['duckdb threads']} threads), "
            f"pandas {info['pandas']}, pyarrow {info['pyarrow']}, numpy {info['numpy']}, Python {info['python']}"
            + (f"; {info['postgres']}" if info.get("postgres") else "")
        )
        out.append(
            f"- data: 3 feature views x {args.rows_per_view:,} rows (ttl 30d / 90d / none), {args.users:,} users, "
            f"{args.days} days; parquet; seed {args.seed}"
        )
        out.append(
            "- times: seconds, best of N after one warm-up, including `.to_df()` / `.df()`; "
            "peak RSS: VmHWM of a fresh process doing one run (interpreter + spine included)"
        )
        out.append("- command: `python benchmarks/pit.py " + " ".join(args.argv) + "`\n")
    else:
        out.append(
            f"{info['date']}  nproc={info['nproc']} RAM={info['ram']} duckdb={info['duckdb']} "
            f"(threads={info['duckdb threads']}) sqlfeat={info['sqlfeat']}; {load}"
        )
        out.append(f"views: 3 x {args.rows_per_view:,} rows, {args.users:,} users, {args.days} days\n")
    if rows:
        out.append("DuckDB" + (":\n" if md else ""))
        out.append(duckdb_table(rows, md))
    if pg_rows:
        out.append("")
        head = info.get("postgres", "PostgreSQL")
        out.append(
            f"{head}; data load (COPY, indexes, VACUUM ANALYZE, not timed) {info.get('pg_load', 0):.1f} s"
            + (":\n" if md else "")
        )
        out.append(postgres_table(pg_rows, md))
    extra = []
    for r in rows:
        for which in ("sqlfeat", "asof"):
            m = r.get(f"rss_{which}")
            if m and m.get("before"):
                extra.append(
                    f"peak RSS {which} @ {r['size']:,}: {C.fmt_mib(m['peak'])} "
                    f"(+{C.fmt_mib(m['peak'] - m['before'])} over the {C.fmt_mib(m['before'])} before the call"
                    f"{'' if m.get('reset') else '; HWM not reset'}; cold run {m['seconds']:.2f} s)"
                )
    for engine, rs in (("duckdb", rows), ("postgres", pg_rows)):
        for r in rs:
            for name, err in r.get("failed", {}).items():
                extra.append(f"{engine} {name} failed @ {r['size']:,}: {err}")
    extra += notes
    if extra:
        out.append("")
        out += [("- " if md else "") + e for e in extra]
    print("\n".join(out))
