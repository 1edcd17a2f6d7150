"""A check run as a reader needs it: a terminal report (rich), ``run_results.json`` (dbt's name),
JUnit XML for CI test tabs, and GitHub workflow commands that annotate the pull request."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree

from sqlfeat.checks.results import FAIL, PASS, WARN, CheckRun

if TYPE_CHECKING:
    from rich.console import Console

FORMAT = "sqlfeat-run-results/1"
_STYLE = {PASS: "green", WARN: "yellow", FAIL: "bold red"}


def run_results(run: CheckRun) -> dict[str, Any]:
    from sqlfeat import __version__

    options = run.options
    return {
        "metadata": {
            "format": FORMAT, "sqlfeat_version": __version__, "generated_at": run.generated_at.isoformat(),
            "project": run.project,
        },
        "args": {
            "dialects": list(options.dialects), "state": str(options.state) if options.state else None,
            "data": options.data, "allow_breaking": options.allow_breaking, "warn_error": options.warn_error,
        },
        "elapsed_time": round(run.elapsed, 3),
        "summary": {status: run.count(status) for status in (PASS, WARN, FAIL)},
        "results": [result.to_json() for result in run.results],
    }  # fmt: skip


def write_run_results(run: CheckRun, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(run_results(run), indent=2, default=str) + "\n")


def read_run_results(path: Path) -> dict[str, Any] | None:
    """A previous run's results, or None when there is none (or it cannot be read)."""
    try:
        loaded = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return loaded if loaded.get("metadata", {}).get("format") == FORMAT else None


def print_report(run: CheckRun, console: Console, show_passed: bool = False) -> None:
    """Failures and warnings in a table (passes summarized per check), diffs, then the totals."""
    from rich.markup import escape
    from rich.syntax import Syntax
    from rich.table import Table

    table = Table(show_lines=False, expand=False)
    for header in ("status", "check", "on", "message"):
        table.add_column(header, overflow="fold", no_wrap=header == "status")
    for result in run.results:
        if result.status == PASS and not show_passed:
            continue
        on = " / ".join(p for p in (result.dialect, result.view, result.column) if p) or "repo"
        table.add_row(f"[{_STYLE[result.status]}]{result.status.upper()}[/]", result.check, escape(on), escape(result.message))
    if table.row_count:
        console.print(table)
    passed = Counter(r.check for r in run.results if r.status == PASS)
    if passed and not show_passed:
        console.print("[green]passed:[/] " + ", ".join(f"{check} x{count}" for check, count in passed.items()))
    for result in run.results:
        if result.details:
            console.print(f"\n[bold]{escape(result.unique_id)}[/]")
            console.print(Syntax(result.details, "diff", theme="ansi_dark", background_color="default"))
    totals = f"PASS={run.count(PASS)} WARN={run.count(WARN)} FAIL={run.count(FAIL)}"
    verdict = "[bold red]Checks failed[/]" if run.failed else "[bold green]Checks passed[/]"
    if run.options.warn_error and run.count(WARN) and not run.count(FAIL):
        verdict += " (warnings are errors: --warn-error)"
    console.print(f"\n{verdict}: {totals} in {run.elapsed:.1f}s. Results: {run.target / 'run_results.json'}, "
                  f"compiled SQL: {run.target / 'compiled'}")


def junit_xml(run: CheckRun) -> str:
    """One <testsuite> per check, one <testcase> per result: fail is <failure>, a skipped warn is
    <skipped>, other warns pass with the warning in <system-out>."""
    root = ElementTree.Element("testsuites", name=f"sqlfeat check {run.project}", tests=str(len(run.results)),
                               failures=str(run.count(FAIL)), time=f"{run.elapsed:.3f}")  # fmt: skip
    suites: dict[str, ElementTree.Element] = {}
    for result in run.results:
        suite = suites.get(result.check)
        if suite is None:
            suite = suites[result.check] = ElementTree.SubElement(root, "testsuite", name=result.check)
        case = ElementTree.SubElement(suite, "testcase", name=result.unique_id, classname=f"sqlfeat.{result.check}",
                                      time=f"{result.execution_time:.3f}")  # fmt: skip
        if result.file:
            case.set("file", result.file)
            if result.line:
                case.set("line", str(result.line))
        if result.status == FAIL:
            failure = ElementTree.SubElement(case, "failure", message=result.message, type=result.check)
            failure.text = result.details or result.message
        elif result.status == WARN and result.skipped:
            ElementTree.SubElement(case, "skipped", message=result.message)
        elif result.status == WARN:
            ElementTree.SubElement(case, "system-out").text = f"warning: {result.message}\n{result.details}".rstrip()
    for check, suite in suites.items():
        members = [r for r in run.results if r.check == check]
        suite.set("tests", str(len(members)))
        suite.set("failures", str(sum(r.status == FAIL for r in members)))
        suite.set("skipped", str(sum(r.status == WARN and r.skipped for r in members)))
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="unicode") + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotations(run: CheckRun) -> list[str]:
    """``::error file=...,line=...,title=...::message`` per failure (``::warning`` per warn)."""
    lines = []
    for result in run.results:
        if result.status == PASS:
            continue
        level = "error" if result.status == FAIL or run.options.warn_error else "warning"
        properties = []
        if result.file:
            properties.append(f"file={_escape_property(result.file)}")
            if result.line:
                properties.append(f"line={result.line}")
        properties.append(f"title={_escape_property(f'sqlfeat check: {result.unique_id}')}")
        lines.append(f"::{level} {','.join(properties)}::{_escape_data(result.message)}")
    return lines
