"""Shared helpers for the sqlfeat benchmarks.

Everything here is deliberately dependency-light (stdlib + numpy/pandas/pyarrow/duckdb) so
that later benchmarks can reuse it:

* timing:        :func:`timed`, :func:`run_with_timeout`
* memory:        :func:`peak_rss_bytes`, :func:`reset_peak_rss`, :func:`run_child`
* data:          :func:`unique_event_times`, :func:`uniform_times`, :func:`assert_no_ties`,
                 :func:`write_parquet_atomic`, :func:`cache_key`
* DuckDB:        :func:`duckdb_connect`, :func:`profile_query`, :func:`operator_summary`
* reporting:     :func:`machine_info`, :func:`format_table`, :func:`fmt_seconds`, :func:`fmt_ratio`,
                 :func:`fmt_mib`, :func:`replace_doc_section`

Peak memory is measured in a *fresh* child process (see :func:`run_child`): the child sets up,
resets its high-water mark with ``/proc/self/clear_refs`` (Linux), runs the measured call once and
reports ``VmHWM`` from ``/proc/self/status``.  That way a large run cannot inflate the number of a
smaller one, and the setup (imports, loading the spine) can be reported separately.
"""

from __future__ import annotations

import datetime as _dt
import gc
import hashlib
import json
import math
import os
import platform
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

CHILD_MARKER = "@@BENCH-RESULT@@ "

# --------------------------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Run ``fn`` once; return ``(seconds, result)`` measured with ``perf_counter``."""
    gc.collect()
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


class TimedOut(Exception):
    """Raised by :func:`run_with_timeout` when the DuckDB query was interrupted."""


def run_with_timeout(con, fn: Callable[[], Any], seconds: float | None) -> tuple[float, Any]:
    """Time ``fn()`` (which runs a query on DuckDB connection ``con``); interrupt the query with
    ``con.interrupt()`` after ``seconds`` and raise :class:`TimedOut`."""
    if not seconds:
        return timed(fn)
    fired = threading.Event()

    def _stop() -> None:
        fired.set()
        con.interrupt()

    timer = threading.Timer(seconds, _stop)
    timer.daemon = True
    timer.start()
    try:
        return timed(fn)
    except Exception as exc:  # duckdb.InterruptException and friends
        if fired.is_set():
            raise TimedOut(f"interrupted after {seconds:.0f} s") from exc
        raise
    finally:
        timer.cancel()


# --------------------------------------------------------------------------------------------
# memory
# --------------------------------------------------------------------------------------------


def _proc_status_kib(key: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            m = re.search(rf"^{key}:\s+(\d+)\s+kB", fh.read(), re.MULTILINE)
        return int(m.group(1)) if m else None
    except OSError:
        return None


def current_rss_bytes() -> int | None:
    kib = _proc_status_kib("VmRSS")
    return None if kib is None else kib * 1024


def peak_rss_bytes() -> int:
    """High-water mark of this process's resident set (VmHWM; falls back to ru_maxrss)."""
    kib = _proc_status_kib("VmHWM")
    if kib is None:
        import resource

        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kib * 1024


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to /proc/self/clear_refs).
    Returns False if not supported (then the peak includes everything before)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def child_report(payload: dict) -> None:
    """Called in a child process: hand a JSON payload back to :func:`run_child`."""
    sys.stdout.write(CHILD_MARKER + json.dumps(payload) + "\n")
    sys.stdout.flush()


def run_child(argv: Sequence[str], timeout: float | None = None, env: dict | None = None) -> dict:
    """Run ``python argv...`` in a fresh interpreter and return the payload it passed to
    :func:`child_report`.  Raises RuntimeError with the child's stderr tail on failure."""
    cmd = [sys.executable, *argv]
    proc = subprocess.run(
        cmd, check=False, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )
    for line in proc.stdout.splitlines():
        if line.startswith(CHILD_MARKER):
            return json.loads(line[len(CHILD_MARKER) :])
    tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
    raise RuntimeError(f"child {' '.join(cmd)} exited {proc.returncode}:\n{tail}")


# --------------------------------------------------------------------------------------------
# data generation (vectorised numpy) and caching
# --------------------------------------------------------------------------------------------

US_PER_DAY = 86_400 * 1_000_000


def cache_key(**params: Any) -> str:
    """Readable, filesystem-safe directory name for a parameter set (plus a short hash of it)."""
    items = sorted(params.items())
    readable = "_".join(f"{k}{v}" for k, v in items)
    digest = hashlib.sha1(repr(items).encode()).hexdigest()[:8]
    readable = re.sub(r"[^A-Za-z0-9._-]+", "-", readable)[:120]
    return f"{readable}_{digest}"


def uniform_times(rng: np.random.Generator, n: int, start_us: int, span_us: int) -> np.ndarray:
    """``n`` int64 microsecond timestamps uniform in ``[start_us, start_us + span_us)``."""
    return start_us + rng.integers(0, span_us, size=n, dtype=np.int64)


def unique_event_times(rng: np.random.Generator, user_ids: np.ndarray, start_us: int, span_us: int) -> np.ndarray:
    """Uniform microsecond timestamps such that no ``(user_id, event_time)`` pair repeats.

    Collisions are redrawn (vectorised) until none is left, so per-user event times are strictly
    distinct - a PIT join then has exactly one right answer without a created-timestamp tie-break.
    """
    ts = uniform_times(rng, len(user_ids), start_us, span_us)
    for _ in range(100):
        order = np.lexsort((ts, user_ids))
        u, t = user_ids[order], ts[order]
        dup = np.zeros(len(t), dtype=bool)
        dup[1:] = (u[1:] == u[:-1]) & (t[1:] == t[:-1])
        if not dup.any():
            return ts
        idx = order[dup]
        ts[idx] = uniform_times(rng, len(idx), start_us, span_us)
    raise RuntimeError("could not make event times unique per user")


def assert_no_ties(user_ids: np.ndarray, ts: np.ndarray) -> None:
    order = np.lexsort((ts, user_ids))
    u, t = user_ids[order], ts[order]
    ties = int(((u[1:] == u[:-1]) & (t[1:] == t[:-1])).sum())
    if ties:
        raise AssertionError(f"{ties} (user, event_time) ties")


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temp file in the same directory + rename: a reader (or a
    crash) sees the old file or the new one, never half of it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_parquet_atomic(table, path: Path, **kwargs: Any) -> None:
    """Write a pyarrow Table to ``path`` via a temp file + rename (no half-written cache)."""
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    pq.write_table(table, tmp, **kwargs)
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------
# DuckDB
# --------------------------------------------------------------------------------------------


def duckdb_connect(threads: int | None = None):
    """In-memory DuckDB connection in UTC.  ``threads=None`` keeps DuckDB's default (= number of
    cores); the TimeZone is set with SET because passing it as connect(config=...) fails offline."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    if threads:
        con.execute(f"SET threads={int(threads)}")
    return con


def profile_query(con, sql: str, out_path: Path) -> dict:
    """Run ``sql`` on ``con`` with DuckDB's JSON profiler on; return the parsed profile (also kept
    at ``out_path``).  The result is fetched as Arrow, as a DataFrame fetch would."""
    out_path = Path(out_path)
    con.execute("PRAGMA enable_profiling='json'")
    con.execute(f"PRAGMA profiling_output='{str(out_path).replace(chr(39), chr(39) * 2)}'")
    try:
        con.sql(sql).to_arrow_table()
    finally:
        con.execute("PRAGMA disable_profiling")
    with open(out_path) as fh:
        return json.load(fh)


def operator_summary(profile: dict) -> str:
    """Indented operator tree of a DuckDB JSON profile: operator, its own time (summed over
    threads), share of the operators' total, output rows and the interesting extra info."""
    roots = profile.get("operator") or profile.get("children") or []
    flat: list[tuple[int, dict]] = []

    def walk(node: dict, depth: int) -> None:
        flat.append((depth, node))
        for child in node.get("children", []):
            walk(child, depth + 1)

    for r in roots:
        walk(r, 0)
    total = sum(float(n.get("timing", n.get("operator_timing", 0)) or 0) for _, n in flat) or 1.0
    q = profile.get("query", {})
    lines = [
        (
            f"query wall time {q.get('total_time', profile.get('latency', float('nan'))):.3f} s, "
            f"operators' summed time {total:.3f} s"
        )
    ]
    keep = ("Join Type", "Conditions", "Function", "Groups", "Aggregates", "Order By", "Partition By", "CTE Name")
    for depth, n in flat:
        t = float(n.get("timing", n.get("operator_timing", 0)) or 0)
        rows = n.get("intermediate_rows", n.get("operator_cardinality", ""))
        extra = n.get("extra_info") or {}
        info = "; ".join(f"{k}: {' '.join(str(v).split())[:110]}" for k, v in extra.items() if k in keep and v)
        name = n.get("name") or n.get("operator_name") or n.get("type")
        lines.append(
            f"{'  ' * depth}{name:<{max(1, 34 - 2 * depth)}} {t:7.3f}s {100 * t / total:5.1f}%  "
            f"{rows:>10,} rows  {info}"
            if isinstance(rows, int)
            else f"{'  ' * depth}{name} {t:.3f}s {info}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# reporting
# --------------------------------------------------------------------------------------------


def _mem_total_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            m = re.search(r"^MemTotal:\s+(\d+)\s+kB", fh.read(), re.MULTILINE)
        return int(m.group(1)) * 1024 if m else None
    except OSError:
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            m = re.search(r"^model name\s*:\s*(.+)$", fh.read(), re.MULTILINE)
        if m:
            return m.group(1).strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _nproc() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def _version(mod: str) -> str:
    try:
        m = __import__(mod)
        return str(getattr(m, "__version__", "?"))
    except Exception as exc:  # noqa: BLE001 - report, don't fail
        return f"n/a ({type(exc).__name__})"


def machine_info(extra_modules: Iterable[str] = ()) -> dict[str, str]:
    mem = _mem_total_bytes()
    info = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(_nproc()),
        "ram": f"{mem / 2**30:.1f} GiB" if mem else "?",
        "cpu": _cpu_model(),
        "python": platform.python_version(),
    }
    for mod in ("duckdb", "pandas", "pyarrow", "numpy", *extra_modules):
        info[mod] = _version(mod)
    try:
        info["loadavg"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        pass
    return info


def fmt_seconds(x: float | None) -> str:
    if x is None or math.isnan(x):
        return "n/a"
    return f"{x:.3f}" if x < 10 else f"{x:.2f}" if x < 100 else f"{x:.1f}"


def fmt_ratio(num: float | None, den: float | None) -> str:
    if num is None or den is None or math.isnan(num) or math.isnan(den) or den == 0:
        return "n/a"
    return f"{num / den:.2f}x"


def fmt_count(n: int) -> str:
    """10000 -> 10k, 1000000 -> 1M (exact multiples only; else with thousands separators)."""
    for unit, size in (("M", 1_000_000), ("k", 1_000)):
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    return f"{n:,}"


def fmt_mib(b: float | None) -> str:
    if b is None or math.isnan(b):
        return "n/a"
    return f"{b / 2**20:,.0f} MiB"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool) -> str:
    """Plain aligned text table, or a GitHub-flavoured Markdown table (numbers right-aligned)."""
    cols = list(zip(*([list(headers)] + [list(map(str, r)) for r in rows])))
    widths = [max(len(c) for c in col) for col in cols]
    if markdown:
        line = lambda cells: "| " + " | ".join(c.rjust(w) for c, w in zip(cells, widths)) + " |"
        sep = "|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|"
        return "\n".join([line(headers), sep, *(line(list(map(str, r))) for r in rows)])
    line = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths))
    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(list(map(str, r))) for r in rows)])


def replace_doc_section(path: Path, heading: str, section: str) -> None:
    """Put ``section`` (which starts with the line ``heading``, e.g. ``## Foo (benchmarks/foo.py)``)
    in place of the part of the Markdown file ``path`` from that heading line to the next heading
    of the same or a higher level (or the end), or append it if the heading is not there.  Nothing
    else in the file changes; the file is replaced atomically."""
    path = Path(path)
    text = path.read_text() if path.exists() else ""
    level = len(heading) - len(heading.lstrip("#"))
    if not section.startswith(heading + "\n"):
        raise ValueError(f"the section must start with its heading line {heading!r}")
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip("\n") == heading), None)
    body = section.rstrip("\n") + "\n"
    if start is None:
        new = text.rstrip("\n") + ("\n\n" if text.strip() else "") + body
    else:
        end = len(lines)
        fence = False
        for i in range(start + 1, len(lines)):
            if lines[i].startswith("```"):
                fence = not fence
            m = re.match(r"^(#+) ", lines[i])
            if m and not fence and len(m.group(1)) <= level:
                end = i
                break
        tail = "".join(lines[end:])
        new = "".join(lines[:start]) + body + ("\n" + tail if tail else "")
    write_text_atomic(path, new)


def log(*args: Any) -> None:
    """Progress output goes to stderr so stdout stays a clean table."""
    print(*args, file=sys.stderr, flush=True)
