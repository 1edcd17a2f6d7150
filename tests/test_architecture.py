"""The package's layout rules, checked: no import cycle, small files, self-contained docs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "sqlfeat"


def _cycles(exclude_type_checking: bool) -> list[list[str]]:
    """Strongly connected components (size > 1) of the module import graph."""
    import grimp

    graph = grimp.build_graph("sqlfeat", exclude_type_checking_imports=exclude_type_checking, cache_dir=None)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


@pytest.mark.parametrize("exclude_type_checking", [True, False], ids=["runtime", "with-annotations"])
def test_no_import_cycle_among_sqlfeat_modules(exclude_type_checking):
    assert _cycles(exclude_type_checking) == []


def test_import_linter_contracts_hold():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}, "split these along a real seam"


def test_the_product_cites_no_document_outside_the_repository():
    outside = re.compile(r"design\.md|seed pitfall|\.\./shared|the seed\b", re.IGNORECASE)
    files = [*PACKAGE.rglob("*.py"), *(ROOT / "docs").glob("*.md"), ROOT / "README.md", *(ROOT / "templates").rglob("*.*"),
             *(ROOT / "benchmarks").glob("*.py"), ROOT / "benchmarks" / "README.md",
             *(p for p in (ROOT / "tests").rglob("*.py") if p.name != "test_architecture.py")]
    hits = [f"{p.relative_to(ROOT)}:{i}" for p in files if p.is_file() and p.suffix in (".py", ".md", ".j2", ".yaml")
            for i, line in enumerate(p.read_text().splitlines(), 1) if outside.search(line)]  # fmt: skip
    assert hits == []


def test_every_module_says_what_it_owns():
    missing = []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text().lstrip()
        if path.name != "__main__.py" and not text.startswith(('"""', "'''")):
            missing.append(str(path.relative_to(ROOT)))
    assert missing == []
