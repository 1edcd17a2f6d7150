"""The definitions check (the repo loads, views name defined entities) and the schema check (every
column a view reads exists in the warehouse with its declared dtype): what ``apply`` validates,
one result per view, with nothing written."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlfeat.checks.results import FAIL, PASS, WARN, CheckResult
from sqlfeat.errors import SqlfeatError

if TYPE_CHECKING:
    from sqlglot import exp

    from sqlfeat.definitions import Entity, FeatureView
    from sqlfeat.repo import RepoContents
    from sqlfeat.store import FeatureStore

_NAME_ARGUMENT = re.compile(r"""\bname\s*=\s*(['"])([A-Za-z_][A-Za-z0-9_]*)\1""")
_LOAD_ERROR = re.compile(r"^(?P<file>[^\n]+?\.py), line (?P<line>\d+): ")


@dataclass
class CheckedViews:
    """The views later checks may use (those that passed), by name, plus the source columns read."""

    views: dict[str, FeatureView]
    entities: dict[str, Entity]
    columns: dict[str, dict[str, exp.DataType]] = field(default_factory=dict)


def load(store: FeatureStore) -> tuple[RepoContents | None, CheckResult]:
    started = time.perf_counter()
    try:
        contents = store.load_repo()
    except SqlfeatError as err:
        result = CheckResult("definitions", FAIL, str(err))
        found = _LOAD_ERROR.match(str(err))
        if found:
            result.file, result.line = str(store.repo_path / found["file"]), int(found["line"])
        return None, result
    counts = f"{len(contents.entities)} entities, {len(contents.feature_views)} feature views"
    message = f"definitions load: {counts}, {len(contents.data_sources)} sources"
    return contents, CheckResult("definitions", PASS, message, execution_time=time.perf_counter() - started)


def validate(contents: RepoContents) -> tuple[CheckedViews, list[CheckResult]]:
    """Each view's entities are defined (apply's check_view_entities), one result per view."""
    from sqlfeat.validation import check_view_entities

    entities = {e.name: e for e in contents.entities}
    checked = CheckedViews({}, entities)
    results = []
    for view in contents.feature_views:
        try:
            check_view_entities([view], entities)
        except SqlfeatError as err:
            results.append(CheckResult("definitions", FAIL, str(err), view=view.name))
            continue
        checked.views[view.name] = view
    results += _on_demand(contents, checked)
    return checked, results


def _on_demand(contents: RepoContents, checked: CheckedViews) -> list[CheckResult]:
    """apply's check of each on-demand view: its sources exist and its code reads only their
    features and its request fields (one fail per view that does not)."""
    from sqlfeat.validation import check_on_demand

    views = {v.name: v for v in contents.feature_views}
    results = []
    for odfv in contents.on_demand_feature_views:
        try:
            check_on_demand([odfv], views, checked.entities)
        except SqlfeatError as err:
            results.append(CheckResult("definitions", FAIL, str(err), view=odfv.name))
    return results


def check_schema(checked: CheckedViews, store: FeatureStore, strict: bool | None = None) -> list[CheckResult]:
    """apply's source validation per view against the warehouse: columns exist, dtypes read them.

    Views that fail are dropped from ``checked``; aggregated views get their result dtypes. A
    declared dtype that converts (Int32 over BIGINT...) is a ``dtypes`` warn, a fail when
    ``strict`` (default: the config's ``strict_dtypes``).
    """
    from sqlfeat.validation import (
        check_view_source, describe_source, infer_schema, lists_no_features, resolve_aggregations,
    )  # fmt: skip

    strict = store.config.strict_dtypes if strict is None else strict
    results = []
    for name, view in list(checked.views.items()):
        started = time.perf_counter()
        left_out: list[str] = []
        try:
            columns = describe_source(view, store.offline_store, store.repo_path, checked.columns)
            if view.aggregations:
                view = resolve_aggregations(view, columns)
            elif lists_no_features(view, checked.entities):
                view, left_out = infer_schema(view, checked.entities, columns)
            notes = check_view_source(view, checked.entities, store.offline_store, store.repo_path, checked.columns)
        except SqlfeatError as err:
            del checked.views[name]
            column = _quoted_column(str(err))
            results.append(CheckResult("schema", FAIL, str(err), view=name, column=column))
            continue
        checked.views[name] = view
        message = f"every column read from source {view.source.name!r} exists with a dtype that reads it"
        results.append(CheckResult("schema", PASS, message, view=name, execution_time=time.perf_counter() - started))
        for note in notes:
            said = f"{note} (strict_dtypes: declare the column's own dtype)" if strict else note
            results.append(CheckResult("dtypes", FAIL if strict else WARN, said, view=name, column=_quoted_column(note)))
        results += [CheckResult("dtypes", WARN, note, view=name, column=_quoted_column(note)) for note in left_out]
    return results


def resolve_from_registry(checked: CheckedViews, store: FeatureStore) -> list[CheckResult]:
    """Without the warehouse (--no-data), aggregated views borrow the result dtypes the registry
    inferred at apply, when their aggregations are unchanged; others cannot compile."""
    from sqlfeat.validation import lists_no_features, typed_like_registered

    results = []
    for name, view in list(checked.views.items()):
        if lists_no_features(view, checked.entities):
            results += _inferred_from_registry(checked, store, view)
            continue
        if not view.aggregations or all(a.dtype is not None for a in view.aggregations):
            continue
        resolved = typed_like_registered(view, _registered_view(store, name))
        if resolved is None:
            del checked.views[name]
            results.append(CheckResult(
                "schema", WARN, f"feature view {name!r}: its aggregations' dtypes come from the warehouse; "
                "not compiled with --no-data (run `sqlfeat check` with data, or apply first)",
                view=name, skipped=True,
            ))
        else:
            checked.views[name] = resolved
    return results


def _inferred_from_registry(checked: CheckedViews, store: FeatureStore, view: FeatureView) -> list[CheckResult]:
    """A view that lists no features borrows the schema apply inferred, when its source and
    entities are unchanged since; otherwise it cannot compile without the warehouse."""
    registered = _registered_view(store, view.name)
    if registered is not None and (registered.source, registered.entities) == (view.source, view.entities):
        spec = view.to_spec()
        spec["schema"] = [f.to_spec() for f in registered.schema]
        checked.views[view.name] = type(view).from_spec(spec)
        return []
    del checked.views[view.name]
    return [CheckResult(
        "schema", WARN, f"feature view {view.name!r}: lists no features, so its schema comes from the warehouse; "
        "not compiled with --no-data (run `sqlfeat check` with data, or apply first)", view=view.name, skipped=True,
    )]


def _registered_view(store: FeatureStore, name: str) -> FeatureView | None:
    try:
        registry = store.registry
        return registry.feature_views().get(name) if registry.exists else None
    except SqlfeatError:
        return None


def _quoted_column(message: str) -> str | None:
    """The first column a validation message names (``column 'x'``, ``feature 'x'``...)."""
    found = re.search(r"(?:column|feature|join key|timestamp_field|created_timestamp_column) '([^']+)'", message)
    return found.group(1) if found else None


def locate_definitions(repo_path: Path) -> dict[str, tuple[Path, int]]:
    """Where each ``name="..."`` is first written in the repo's definition files: the file and
    line GitHub annotations point at. A name built at run time is simply not found."""
    from sqlfeat.repo import definition_files

    found: dict[str, tuple[Path, int]] = {}
    for path in definition_files(repo_path):
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for number, text in enumerate(lines, start=1):
            for match in _NAME_ARGUMENT.finditer(text):
                found.setdefault(match.group(2), (path, number))
    return found
