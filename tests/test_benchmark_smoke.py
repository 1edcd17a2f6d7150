"""The benchmarks still run: benchmarks/density.py end to end at tiny sizes (DuckDB only, data in a
temporary directory), and the pieces of its report that decide what gets flagged."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
STRATEGIES = ("asof", "carry", "window", "lateral")


@pytest.fixture
def bench_modules(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import _common
    import density_report

    return _common, density_report


def _tables(markdown: str) -> dict[str, list[dict[str, str]]]:
    """Each '### title' of the report -> the rows of the Markdown table under it, by header."""
    tables: dict[str, list[dict[str, str]]] = {}
    title, header = None, None
    for line in markdown.splitlines():
        if line.startswith("### "):
            title, header = line[4:], None
            tables[title] = []
        elif line.startswith("|") and title is not None:
            cells = [c.strip() for c in line.strip("|").split("|")]
            if header is None:
                header = cells
            elif not set(cells[0]) <= set("-:"):
                tables[title].append(dict(zip(header, cells)))
    return tables


def test_density_sweep_runs_and_checks(tmp_path):
    cmd = [
        sys.executable, str(BENCHMARKS / "density.py"), "--densities", "50", "--sizes", "1500",
        "--no-pg", "--reps", "1", "--no-warmup", "--timeout", "10", "--markdown", "--workdir", str(tmp_path),
    ]  # fmt: skip
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    tables = _tables(proc.stdout)
    lookups = next(rows for title, rows in tables.items() if title.startswith("DuckDB, point-in-time"))
    aggregates = next(rows for title, rows in tables.items() if title.startswith("DuckDB, windowed"))
    assert len(lookups) == 1 and len(aggregates) == 1  # 1 density x 1 size: a few seconds
    for row in lookups + aggregates:
        assert row["checks"] == "OK", row
        assert row["auto picks"].replace("mixed: ", "").split(",")[0].split()[-1] in STRATEGIES, row
        assert row["auto s"].replace(".", "").isdigit(), row
    assert lookups[0]["d"] == "50" and lookups[0]["users"] == "30"
    assert "Growth: log-log slope of time vs n at fixed density" in tables
    assert "MISMATCH" not in proc.stdout


def _row(d: int, n: int, **times) -> dict:
    forms = {name: ({"s": s, "status": "ok"} if s is not None else {"s": None, "status": "timeout"})
             for name, s in times.items()}  # fmt: skip
    return {"engine": "duckdb", "kind": "lookup", "d": d, "n": n, "spine": n, "load": "1.00 1.00 1.00",
            "auto": "asof", "forms": forms, "checks": {}, "problems": []}  # fmt: skip


def test_growth_and_bad_choices_are_flagged(bench_modules):
    _, report = bench_modules
    key = ("duckdb", "lookup")
    rows = [
        _row(10, 100_000, auto=0.1, asof=0.1, carry=0.2, window=0.1, hand_asof=0.1),
        # asof 10x (linear), carry 100x (quadratic), window timed out after 0.1 s -> >= 2.5
        _row(10, 1_000_000, auto=1.0, asof=0.4, carry=20.0, window=None, hand_asof=0.9),
    ]
    growth = {g["form"]: g for g in report.growth(rows, key, timeout=30.0, limit=1.15)}
    assert not growth["asof"]["flag"] and growth["carry"]["flag"] and growth["window"]["flag"]
    assert growth["window"]["steps"][0].startswith(">=")
    found = report.findings({key: rows}, timeout=30.0, limit=1.15, bad_ratio=1.5)
    # auto (asof, 1.0 s) vs forced asof (0.4 s): the same strategy, so noise, not a bad choice
    assert any(f.startswith("noise") and "n=1,000,000" in f for f in found)
    rows[1]["auto"] = "carry"
    found = report.findings({key: rows}, timeout=30.0, limit=1.15, bad_ratio=1.5)
    assert any(f.startswith("auto chose badly") and "n=1,000,000" in f for f in found)
    assert any(f.startswith("faster than n log n") and " carry " in f for f in found)
    assert report.nlogn_slope(100_000, 1_000_000) == pytest.approx(1.079, abs=1e-3)


def test_doc_section_is_replaced_alone(bench_modules, tmp_path):
    common, _ = bench_modules
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# B\n\n## A\n\na\n\n## S (x.py)\n\nold\n\n```\n## not a heading\n```\n\n### sub\n\n## C\n\nc\n")
    common.replace_doc_section(doc, "## S (x.py)", "## S (x.py)\n\nnew\n")
    assert doc.read_text() == "# B\n\n## A\n\na\n\n## S (x.py)\n\nnew\n\n## C\n\nc\n"
    common.replace_doc_section(doc, "## T", "## T\n\nt\n")
    assert doc.read_text().endswith("## C\n\nc\n\n## T\n\nt\n")
    assert [p.name for p in tmp_path.iterdir()] == ["benchmarks.md"]
    with pytest.raises(ValueError):
        common.replace_doc_section(doc, "## T", "no heading\n")
