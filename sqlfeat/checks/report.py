"""A check run as a reader needs it: a terminal report (rich), ``run_results.json`` (dbt's name,
recognised as sqlfeat's by its ``metadata.format``), JUnit XML for CI test tabs (always valid XML,
whatever the messages quote), and GitHub workflow commands that annotate the pull request."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree

from sqlfeat.checks.results import FAIL, PASS, STATUSES, WARN, CheckRun
from sqlfeat.files import claim_file, write_text_atomic

if TYPE_CHECKING:
    from rich.console import Console

    from sqlfeat.files import OutputFolder

FORMAT = "sqlfeat-run-results/1"
RUN_RESULTS = "run_results.json"
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


def write_run_results(run: CheckRun, folder: OutputFolder, rel: str = RUN_RESULTS) -> Path:
    """``run_results.json`` in the target folder, written atomically."""
    return folder.write_text(rel, json.dumps(run_results(run), indent=2, default=str) + "\n")


def read_run_results(path: Path) -> dict[str, Any] | None:
    """A previous ``sqlfeat check``'s results, or None: no file, not JSON, or JSON of another shape
    (dbt writes a ``run_results.json`` too). Only a file whose ``metadata.format`` is sqlfeat's and
    whose fields have the types the catalog reads is returned."""
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return loaded if _is_run_results(loaded) else None


def _is_run_results(loaded: Any) -> bool:
    if not isinstance(loaded, dict):
        return False
    metadata, summary, results = loaded.get("metadata"), loaded.get("summary"), loaded.get("results")
    if not (isinstance(metadata, dict) and metadata.get("format") == FORMAT and isinstance(metadata.get("generated_at"), str)):
        return False
    if not (isinstance(summary, dict) and all(type(summary.get(s)) is int for s in STATUSES) and isinstance(results, list)):
        return False
    return all(
        isinstance(r, dict) and r.get("status") in STATUSES
        and all(isinstance(r.get(k), str) for k in ("check", "message", "unique_id"))
        and all(isinstance(r.get(k), (str, type(None))) for k in ("view", "dialect", "column"))
        for r in results
    )  # fmt: skip


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
    for element in root.iter():
        element.text, element.tail = _xml_text(element.text), _xml_text(element.tail)
        for key, value in list(element.attrib.items()):
            element.set(key, _xml_text(value))
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="unicode") + "\n"


# What XML 1.0 allows. Anything else (NUL, ESC, a vertical tab quoted from the data, a lone
# surrogate) makes the whole report unparseable, so it is written as a visible escape instead.
_NOT_XML = re.compile(r"[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(text: str | None) -> str | None:
    if text is None:
        return None
    return _NOT_XML.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", text)


def is_junit(path: Path) -> bool:
    """Whether ``path`` is a JUnit report ``sqlfeat check`` wrote (its root names it)."""
    with open(path, "rb") as handle:
        for _, element in ElementTree.iterparse(handle, events=("start",)):
            return element.tag == "testsuites" and element.get("name", "").startswith("sqlfeat check ")
    return False


def claim_junit(path: Path) -> Path:
    """Check ``--junit`` before the run: a new file, or one sqlfeat wrote (never another report)."""
    return claim_file(path, is_junit, "--junit", create_folder=True)


def write_junit(run: CheckRun, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, junit_xml(run))


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
