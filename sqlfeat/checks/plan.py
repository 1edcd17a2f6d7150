"""The plan check: what ``apply`` would change, one result per change. Removing or retyping a field
(or changing the source or entities) of a view that already has online data (a materialization in
the registry) fails unless ``--allow-breaking``: its online values no longer match its definition
until it is re-materialized."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sqlfeat.checks.results import FAIL, PASS, WARN, CheckResult
from sqlfeat.errors import SqlfeatError

if TYPE_CHECKING:
    from sqlfeat.definitions import FeatureView
    from sqlfeat.repo import RepoContents
    from sqlfeat.store import FeatureStore

_FIELD = re.compile(r"^(?:removes|retypes) field (\w+)")
_SINGULAR = {"entities": "entity", "data_sources": "data source", "feature_views": "feature view",
             "feature_services": "feature service", "on_demand_feature_views": "on-demand feature view"}  # fmt: skip


def check(
    store: FeatureStore, contents: RepoContents, resolved: dict[str, FeatureView], allow_breaking: bool
) -> list[CheckResult]:
    """``resolved``: views with their aggregation dtypes inferred, as apply would register them."""
    from sqlfeat.repo import RepoContents

    try:
        registry = store.registry
        views = [resolved.get(v.name, v) for v in contents.feature_views]
        plan = registry.plan(RepoContents(contents.entities, contents.data_sources, views, contents.feature_services,
                                          contents.on_demand_feature_views))  # fmt: skip
    except SqlfeatError as err:
        return [CheckResult("plan", FAIL, str(err))]
    where = store.config.registry_path
    if not registry.exists:
        return [CheckResult("plan", PASS, f"no registry at {where} yet: apply would add {len(plan.changes)} objects")]
    if plan.is_empty:
        return [CheckResult("plan", PASS, "no changes: the registry matches the definitions")]
    results = []
    for change in plan.changes:
        view = change.name if change.kind == "feature_views" else None
        record = registry.materialization(view) if view is not None else None
        online = record is not None
        label = _SINGULAR[change.kind]
        summary = "; ".join(change.details) or f"{change.action}s {label} {change.name}"
        if online and change.invalidates_online:
            watermark = record.get("watermark") or "an unknown time"
            message = (
                f"feature view {view!r}: {summary}. Its online data (materialized up to {watermark}) no longer "
                f"matches: re-materialize {view} after apply"
                + ("" if allow_breaking else "; pass --allow-breaking to accept the change")
            )
            fields = [m.group(1) for d in change.details if (m := _FIELD.match(d))]
            results.append(CheckResult(
                "plan", WARN if allow_breaking else FAIL, message, view=view, column=fields[0] if fields else None,
                data={"rematerialize": [view]},
            ))
        elif online and change.action == "remove":
            message = f"feature view {view!r} is removed but has online data: remove it from the online store"
            results.append(CheckResult("plan", WARN, message, view=view))
        else:
            sign = {"add": "+", "change": "~", "remove": "-"}[change.action]
            text = f"{sign} {label} {change.name}" + (f": {summary}" if change.details else "")
            results.append(CheckResult("plan", PASS, text, view=view))
    return results
