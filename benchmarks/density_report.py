"""The report of benchmarks/density.py: a table per (engine, kind of view), the growth check
(log-log slope of time vs n at fixed density), the "auto chose badly" check, text or Markdown."""

from __future__ import annotations

import itertools
import math
import os
from pathlib import Path
from typing import Any

import _common as C
from density_forms import FORMS, HAND_LABELS

HEADING = "## Density sweep (benchmarks/density.py)"
REPO = Path(__file__).resolve().parent.parent
TITLES = {
    ("duckdb", "lookup"): "DuckDB, point-in-time lookups (3 views: ttl 30 d, 90 d, none; 7 features)",
    ("postgres", "lookup"): "PostgreSQL, point-in-time lookups (the same data, indexed on (user_id, event_time))",
    ("duckdb", "aggregates"): "DuckDB, windowed aggregations (count, sum, mean over 1, 7, 30 d; 9 features)",
    ("postgres", "aggregates"): "PostgreSQL, windowed aggregations (the same events, indexed on (user_id, event_time))",
}


def hand_forms(key: tuple[str, str]) -> list[str]:
    return [f for f in FORMS[key] if f.startswith("hand_")]


def strategies(key: tuple[str, str]) -> list[str]:
    return [f for f in FORMS[key] if f != "auto" and not f.startswith("hand_")]


def _best(row: dict, names: list[str]) -> tuple[str | None, float | None]:
    done = [(row["forms"][n]["s"], n) for n in names if row["forms"].get(n, {}).get("s") is not None]
    return (min(done)[1], min(done)[0]) if done else (None, None)


def _cell(row: dict, name: str, timeout: float) -> str:
    f = row["forms"].get(name)
    if f is None:
        return "n/a"
    if f["status"] == "timeout":
        return f"> {timeout:.0f}"
    if f["status"] == "skipped":
        return f"> {timeout:.0f}*"
    if f["status"] == "memory":
        return "OOM"
    if f["status"] == "failed":
        return "failed"
    return C.fmt_seconds(f["s"]) + ("¹" if f.get("single") else "")


def auto_ratios(row: dict, key: tuple[str, str]) -> dict[str, Any]:
    """auto / best hand-written and auto / best forced strategy (None where not measured)."""
    auto = row["forms"].get("auto", {}).get("s")
    hand_name, hand = _best(row, hand_forms(key))
    forced_name, forced = _best(row, strategies(key))
    return {
        "auto": auto, "hand": hand, "hand_name": hand_name, "forced": forced, "forced_name": forced_name,
        "vs_hand": auto / hand if auto and hand else None, "vs_forced": auto / forced if auto and forced else None,
    }  # fmt: skip


def _checks(row: dict) -> str:
    if not row["checks"]:
        return "n/a"
    bad = [n for n, ok in row["checks"].items() if not ok]
    against = f" (vs {row['ref']})" if row.get("ref") in ("carry", "window") else ""
    return ("OK" if not bad else "MISMATCH: " + ", ".join(bad)) + against


def point_table(rows: list[dict], key: tuple[str, str], timeout: float, md: bool) -> str:
    hands, strats = hand_forms(key), strategies(key)
    head = ["d", "n", "users", "spine", "auto picks", "auto s", *[f"{s} s" for s in strats],
            *[HAND_LABELS[h] + " s" for h in hands], "auto / hand", "auto / best forced", "checks", "load 1/5/15"]  # fmt: skip
    body = []
    for r in rows:
        q = auto_ratios(r, key)
        body.append([
            f"{r['d']:,}", f"{r['n']:,}", f"{r['users']:,}", f"{r['spine']:,}", r.get("auto", "?"),
            _cell(r, "auto", timeout), *[_cell(r, s, timeout) for s in strats], *[_cell(r, h, timeout) for h in hands],
            f"{q['vs_hand']:.2f}x" if q["vs_hand"] else "n/a",
            f"{q['vs_forced']:.2f}x ({q['forced_name']})" if q["vs_forced"] else "n/a",
            _checks(r), r["load"],
        ])  # fmt: skip
    return C.format_table(head, body, md)


def nlogn_slope(n1: int, n2: int) -> float:
    """The log-log slope of n log n between n1 and n2 (1.08 from 100k to 1M)."""
    return 1 + math.log(math.log(n2) / math.log(n1)) / math.log(n2 / n1)


def _slopes(pts: list[dict], cell, timeout: float) -> tuple[list[str], list[float], float | None]:
    """(the slope of each step as text, the numbers (lower bounds included), the least-squares
    slope) of the time ``cell(row)`` -> (seconds or None, status) over ``pts`` (sorted by n)."""
    text, nums = [], []
    for a, b in itertools.pairwise(pts):
        (ta, _), (tb, status_b) = cell(a), cell(b)
        if ta and tb:
            nums.append(math.log(tb / ta) / math.log(b["n"] / a["n"]))
            text.append(f"{nums[-1]:.2f}")
        elif ta and status_b in ("timeout", "skipped", "memory"):
            nums.append(math.log(timeout / ta) / math.log(b["n"] / a["n"]))
            text.append(f">= {nums[-1]:.2f}")
        else:
            text.append("n/a")
    xs = [(math.log(r["n"]), math.log(cell(r)[0])) for r in pts if cell(r)[0]]
    fit = None
    if len(xs) >= 2 and len({x for x, _ in xs}) >= 2:
        mx, my = sum(x for x, _ in xs) / len(xs), sum(y for _, y in xs) / len(xs)
        fit = sum((x - mx) * (y - my) for x, y in xs) / sum((x - mx) ** 2 for x, _ in xs)
    return text, nums, fit


def growth(rows: list[dict], key: tuple[str, str], timeout: float, limit: float) -> list[dict[str, Any]]:
    """Per form and density: the log-log slope of time vs n between consecutive sizes (a lower
    bound when the larger size timed out) and the least-squares slope over all measured sizes;
    ``flag`` when a consecutive slope exceeds ``limit``.  ``hand_fit`` is the slope of the best
    hand-written query at each size: when it grows alike, the engine (or the machine) does, not
    sqlfeat's plan."""
    out = []
    for d in sorted({r["d"] for r in rows}):
        pts = sorted((r for r in rows if r["d"] == d), key=lambda r: r["n"])
        if len(pts) < 2:
            continue
        _, _, hand_fit = _slopes(pts, lambda r: (_best(r, hand_forms(key))[1], None), timeout)
        for form in FORMS[key]:
            cell = lambda r, form=form: (r["forms"].get(form, {}).get("s"), r["forms"].get(form, {}).get("status"))
            steps, nums, fit = _slopes(pts, cell, timeout)
            out.append({"d": d, "form": form, "steps": steps, "fit": fit, "flag": any(x > limit for x in nums),
                        "hand_fit": hand_fit, "sizes": [r["n"] for r in pts]})  # fmt: skip
    return out


def findings(groups: dict, timeout: float, limit: float, bad_ratio: float) -> list[str]:
    """One line per finding: a point where auto chose badly (more than ``bad_ratio`` times the best
    forced strategy, or a time-out where a forced strategy finished), a form growing faster than
    n log n, and a point where auto is more than ``bad_ratio`` times the best hand-written query.
    When auto ran the very strategy that was fastest forced, a gap is timing noise, said as such."""
    lines = []
    for key, rows in groups.items():
        engine, kind = key
        for r in rows:
            q = auto_ratios(r, key)
            auto_status = r["forms"].get("auto", {}).get("status")
            where = f"{engine} {kind} d={r['d']:,} n={r['n']:,} spine={r['spine']:,} (load {r['load']})"
            picked = r.get("auto")
            if q["vs_forced"] and q["vs_forced"] > bad_ratio:
                what = (
                    "noise, not a choice (auto ran that strategy)" if picked == q["forced_name"] else "auto chose badly"
                )
                lines.append(
                    f"{what}: {where}: auto picked {picked} and took {q['auto']:.3f} s, "
                    f"forced {q['forced_name']} took {q['forced']:.3f} s ({q['vs_forced']:.2f}x)"
                )
            elif auto_status in ("timeout", "memory", "failed") and q["forced"]:
                lines.append(
                    f"auto chose badly: {where}: auto picked {picked} and {auto_status}, "
                    f"forced {q['forced_name']} took {q['forced']:.3f} s"
                )
            if q["vs_hand"] and q["vs_hand"] > bad_ratio:
                lines.append(
                    f"behind hand-written: {where}: auto ({picked}) took {q['auto']:.3f} s, "
                    f"{HAND_LABELS[q['hand_name']]} {q['hand']:.3f} s ({q['vs_hand']:.2f}x)"
                )
        for g in growth(rows, key, timeout, limit):
            if g["flag"]:
                sizes = " -> ".join(f"{n:,}" for n in g["sizes"])
                hand = g["form"].startswith("hand_")
                alike = ""
                if not hand and g["hand_fit"] is not None:
                    alike = f"; the best hand-written query grows at {g['hand_fit']:.2f} here"
                lines.append(
                    f"faster than n log n{' (hand-written)' if hand else ''}: {engine} {kind} {g['form']} at "
                    f"d={g['d']:,}: slopes {', '.join(g['steps'])} between n = {sizes} (limit {limit}; n log n is "
                    f"{nlogn_slope(g['sizes'][0], g['sizes'][-1]):.2f}{alike})"
                )
    return lines


def _flagged(row: dict, found: list[str]) -> bool:
    where = f"{row['engine']} {row['kind']} d={row['d']:,} n={row['n']:,} "
    return any(f.startswith("auto chose badly") and where in f for f in found)


def growth_table(rows: list[dict], key: tuple[str, str], timeout: float, limit: float, md: bool) -> str:
    """One row per density: each form's log-log slope per step between consecutive sizes (a
    flagged one in bold, or marked ``!`` in text), and the fit of the best hand-written query."""
    gs = growth(rows, key, timeout, limit)
    if not gs:
        return "(one size only: no slopes)"
    names = FORMS[key]
    head = ["d", "n", *[HAND_LABELS.get(f, f) for f in names], "best hand-written (fit)"]
    body = []
    for d in sorted({g["d"] for g in gs}):
        by_form = {g["form"]: g for g in gs if g["d"] == d}
        cells = []
        for f in names:
            g = by_form[f]
            text = ", ".join(g["steps"])
            cells.append((f"**{text}**" if md else f"{text} !") if g["flag"] else text)
        hand = by_form[names[0]]["hand_fit"]
        sizes = " -> ".join(C.fmt_count(n) for n in by_form[names[0]]["sizes"])
        body.append([f"{d:,}", sizes, *cells, f"{hand:.2f}" if hand is not None else "n/a"])
    return C.format_table(head, body, md)


def how_to_read(args) -> str:
    runs = "(no warm-up: --no-warmup)" if getattr(args, "no_warmup", False) else "after a warm-up"
    return (
        "How to read: *d* is the density, source rows per entity (user), *n* the rows per view, "
        f"*users* = n / d, *spine* the entity_df rows. Seconds are the best of the runs {runs}, "
        f"forms interleaved (¹: slower than {args.slow:.0f} s, timed by its one warm-up run); "
        f"`> {args.timeout:.0f}` means interrupted after --timeout seconds, `OOM` out of memory at "
        f"--duckdb-memory {args.duckdb_memory or 'default'}, `*` not run because the same form already timed out "
        "(or ran out of memory) at a smaller n or d. *auto* is sqlfeat's default strategy (the column "
        "*auto picks* says what it chose), the strategy columns force one with `strategy=`, the *(hand)* "
        "columns are the best hand-written query on the same engine in the same run. *auto / hand* "
        "below 1x means sqlfeat is faster than the hand-written query; *auto / best forced* above "
        f"{args.bad_ratio}x is flagged as a bad choice. The growth table gives the log-log slope of time vs n "
        f"at fixed d (1 = linear, n log n is about {nlogn_slope(100_000, 1_000_000):.2f} from 100k to 1M); "
        f"a step above {args.growth_limit} is flagged; *fit - best hand fit* near 0 means the hand-written query "
        "grows alike (the engine or the machine, not sqlfeat's plan). Every result is checked value by value against the "
        "hand-written one (*checks*). The load average is the machine's (2 cores shared with other work): "
        "compare ratios within a row rather than seconds across rows."
    )


def machine_line(info: dict) -> str:
    """The run's date, machine, versions and load average in one sentence."""
    i = dict(info)
    # the sqlfeat timed is normally this checkout's: name it by its place in the repository
    sqlfeat = str(i.pop("sqlfeat", "?")).replace(f" ({REPO}{os.sep}sqlfeat)", "").replace(str(REPO), ".")
    known = ("date", "nproc", "cpu", "ram", "python", "duckdb", "duckdb threads", "pandas", "pyarrow", "numpy",
             "loadavg_start", "loadavg_end", "postgres")  # fmt: skip
    threads = str(i.get("duckdb threads", "?"))
    threads = f"{threads} threads" if threads.isdigit() else "one thread per core"
    rest = ", ".join(f"{k} {v}" for k, v in i.items() if k not in known)
    return (
        f"on {i.get('date', '?')}: {i.get('nproc', '?')} cores ({i.get('cpu', '?')}), {i.get('ram', '?')}, "
        f"Python {i.get('python', '?')}, duckdb {i.get('duckdb', '?')} ({threads}), "
        f"pandas {i.get('pandas', '?')}, pyarrow {i.get('pyarrow', '?')}, numpy {i.get('numpy', '?')}; "
        f"sqlfeat {sqlfeat}{'; ' + rest if rest else ''}. **Load average {i.get('loadavg_start', '?')} at the start, "
        f"{i.get('loadavg_end', '?')} at the end** (1, 5, 15 min; the machine's 2 cores are shared)."
    )


def render(args, info: dict, groups: dict, notes: list[str]) -> str:
    md = args.markdown
    h = (lambda t: f"### {t}") if md else (lambda t: f"== {t} ==")
    out = [HEADING, ""] if md else []
    out += [f"Run `python benchmarks/density.py {' '.join(args.argv)}`".rstrip() + f" {machine_line(info)}", ""]
    if info.get("postgres"):
        out += [f"PostgreSQL: {info['postgres']}; data loaded with COPY, indexed, VACUUM ANALYZEd (not timed).", ""]
    out += [how_to_read(args), ""]
    for key, rows in groups.items():
        if rows:
            out += [h(TITLES[key]), "", point_table(rows, key, args.timeout, md), ""]
    out += [h("Growth: log-log slope of time vs n at fixed density"), ""]
    mark = "in bold" if md else "marked !"
    intro = "The slope of each step between consecutive sizes (`>=` where the larger size timed out); "
    intro += f"above {args.growth_limit} {mark}."
    out += [intro, ""]
    for key, rows in groups.items():
        if rows:
            out += [
                f"{TITLES[key].split(' (')[0]}:",
                "",
                growth_table(rows, key, args.timeout, args.growth_limit, md),
                "",
            ]
    found = findings(groups, args.timeout, args.growth_limit, args.bad_ratio)
    out += [h("Findings"), ""]
    none = (
        f"None: auto was within {args.bad_ratio}x of the best forced strategy and of the best hand-written "
        "query everywhere, and no form grew faster than n log n."
    )
    out += [("- " if md else "") + f for f in found] if found else [none]
    flagged = [r for rows in groups.values() for r in rows if r.get("why") and _flagged(r, found)]
    if flagged:
        out += ["", "What auto estimated at the flagged points (`job.explain()`):", ""]
        out += ["```"] if md else []
        for r in flagged:
            out += [f"{r['engine']} {r['kind']} d={r['d']:,} n={r['n']:,}:", *r["why"].splitlines()]
        out += ["```"] if md else []
    out.append("")
    problems = [p for rows in groups.values() for r in rows for p in r["problems"]]
    failed = [f"{r['engine']} {r['kind']} {n} {f['status']} at d={r['d']:,} n={r['n']:,}: {f.get('error')}"
              for rows in groups.values() for r in rows for n, f in r["forms"].items()
              if f["status"] in ("failed", "memory")]  # fmt: skip
    if problems or failed or notes:
        out += [h("Notes"), ""] + [("- " if md else "") + x for x in notes + failed + problems] + [""]
    return "\n".join(out)
