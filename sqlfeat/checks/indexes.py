"""The index check: does the warehouse have the index the cheap point-in-time strategies need?

On PostgreSQL the ``lateral`` strategy probes, per spine row, the newest source row of a key at or
before t: one backward index scan when the source table has an index whose leading columns are
the join keys then the event time (then the created time, if any). Without it every probe scans.
For each view whose source is a table on such a warehouse, the check passes when a matching
index exists, else warns with the ``CREATE INDEX`` statement to run. Warehouses without indexes
(or sources given as a query) are not checked.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sqlfeat.checks.results import PASS, WARN, CheckResult
from sqlfeat.errors import SqlfeatError

if TYPE_CHECKING:
    from sqlfeat.checks.definitions import CheckedViews
    from sqlfeat.store import FeatureStore


def check(checked: CheckedViews, store: FeatureStore) -> list[CheckResult]:
    results = []
    for view in checked.views.values():
        source = view.source
        if not getattr(source, "table", None) or view.aggregations:
            continue
        started = time.perf_counter()
        keys = [source.source_column(k) for name in view.entities for k in checked.entities[name].join_keys]
        leading = [*keys, source.event_time_column]
        extra = [source.created_time_column] if source.created_time_column else []
        columns = leading + extra
        try:
            advice = store.offline_store.index_advice(source.table, leading, extra)
        except SqlfeatError as err:
            results.append(CheckResult("index", WARN, f"feature view {view.name!r}: indexes could not be read: {err}", view=view.name))
            continue
        if advice is None:
            continue  # this warehouse has no indexes to advise on
        elapsed = time.perf_counter() - started
        found, statement = advice
        if found:
            results.append(CheckResult("index", PASS, f"index {found} serves (keys, event time) lookups", view=view.name,
                                       execution_time=elapsed))  # fmt: skip
        else:
            message = (
                f"feature view {view.name!r}: source table {source.table!r} has no index on ({', '.join(columns)}): "
                f"point-in-time lookups by index probe (strategy lateral) cannot be used; run: {statement}"
            )
            results.append(CheckResult("index", WARN, message, view=view.name, data={"create_index": statement},
                                       execution_time=elapsed))  # fmt: skip
    return results
