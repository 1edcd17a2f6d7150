"""``sqlfeat consistency``: do online values equal the training values at materialization time T?

For each online view, T is its watermark. The entities are those with a row at or before T in the
source (all of them, or a sample); the offline side is ``get_historical_features`` with spine rows
(entity, T), the online side ``get_online_features`` read as of T. Two independent code paths
(the PIT join and the latest-values materialization plus the online store) must agree exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlfeat.compiler import plan_view
from sqlfeat.online.materialize import online_views, watermark
from sqlfeat.online.serving import build_plan, read_plan

if TYPE_CHECKING:
    from sqlfeat.online.materialize import StoreSurface

MAX_EXAMPLES = 5


@dataclass
class ViewConsistency:
    view: str
    as_of: datetime | None
    entities: int = 0
    matched: int = 0
    mismatched: int = 0
    missing: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.as_of is not None and self.mismatched == 0 and self.missing == 0


@dataclass
class ConsistencyReport:
    views: list[ViewConsistency] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(view.ok for view in self.views)

    def summary(self) -> str:
        lines = []
        for v in self.views:
            if v.as_of is None:
                lines.append(f"{v.view}: never materialized; run `sqlfeat materialize-incremental <end>`")
                continue
            share = f"{100 * v.matched / v.entities:.2f}%" if v.entities else "n/a"
            lines.append(
                f"{v.view} at {v.as_of.isoformat()}: {v.entities:,} entities, {v.matched:,} matched ({share}), "
                f"{v.mismatched:,} mismatched, {v.missing:,} missing online"
            )
            lines.extend(f"    {example}" for example in v.examples)
        total = sum(v.entities for v in self.views)
        matched = sum(v.matched for v in self.views)
        verdict = "consistent" if self.ok else "NOT consistent"
        share = f"{100 * matched / total:.2f}%" if total else "n/a"
        lines.append(f"Online vs offline: {matched:,}/{total:,} entities match ({share}): {verdict}")
        return "\n".join(lines)


def same(offline: Any, online: Any) -> bool:
    """Equal values; nulls equal nulls, NaN equals NaN, lists compare element by element."""
    if offline is None or online is None:
        return offline is None and online is None
    if isinstance(offline, float) and isinstance(online, float) and math.isnan(offline):
        return math.isnan(online)
    if isinstance(offline, list) and isinstance(online, list):
        return len(offline) == len(online) and all(same(a, b) for a, b in zip(offline, online))
    return offline == online


def _check_view(store: StoreSurface, name: str, sample: int | None, seed: int) -> ViewConsistency:
    import numpy as np
    import pandas as pd

    as_of = watermark(store, name)
    result = ViewConsistency(name, as_of)
    if as_of is None:
        return result
    registry = store.registry
    views, entities = registry.feature_views(), registry.entities()
    request = plan_view(name, views, entities)
    keys = store.offline_store.fetch_arrow(store.compile_latest_values(name, as_of)).select(list(request.join_keys))
    if sample is not None and keys.num_rows > sample:
        rows = np.sort(np.random.default_rng(seed).choice(keys.num_rows, sample, replace=False))
        keys = keys.take(rows)
    result.entities = keys.num_rows
    if not keys.num_rows:
        return result
    references = [f"{name}:{feature.name}" for feature in request.features]
    spine = keys.to_pandas()
    spine["event_timestamp"] = pd.Timestamp(as_of)
    offline = store.get_historical_features(spine, references, full_feature_names=True).to_arrow()
    plan = build_plan(store.project, views, entities, references, full_feature_names=True)
    entity_rows = keys.to_pylist()
    read = read_plan(store.online_store, plan, entity_rows, as_of)
    online, stamps = read.columns, read.stamps[0]  # the plan reads this one view
    outputs = plan.views[0].outputs
    expected = {output: offline.column(output).to_pylist() for output in outputs}
    for index, row in enumerate(entity_rows):
        pairs = [(output, expected[output][index], online[output][index]) for output in outputs]
        if stamps[index] is None:
            if all(off is None for _, off, _ in pairs):
                result.matched += 1
            else:
                result.missing += 1
                if len(result.examples) < MAX_EXAMPLES:
                    result.examples.append(f"{row}: missing online, offline has values")
            continue
        differing = [(output, off, on) for output, off, on in pairs if not same(off, on)]
        if not differing:
            result.matched += 1
            continue
        result.mismatched += 1
        if len(result.examples) < MAX_EXAMPLES:
            output, off, on = differing[0]
            result.examples.append(f"{row}: {output[len(name) + 2:]} offline={off!r} online={on!r}")
    return result


def check_consistency(
    store: StoreSurface, feature_views: Sequence[str] | None = None, sample: int | None = None, seed: int = 0
) -> ConsistencyReport:
    """Compare online and offline values for every online view (or the named ones)."""
    return ConsistencyReport([_check_view(store, name, sample, seed) for name in online_views(store, feature_views)])
