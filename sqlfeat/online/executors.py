"""Online writes from a warehouse's own workers (Spark's executors, ``offline_store:
{type: spark, materialize_on_executors: true}``).

The latest-values query runs as usual; instead of streaming its rows to this process, each
partition of the result is written by the executor holding it, through the same
``OnlineStore.write_batch`` the driver path uses (one record per entity, never replaced by an
older row), so the two paths write the same records. An executor connects to the online store
once per partition, from the ``online_store`` section; what ``write_batch`` returned comes back
to the driver (pickled) and is counted as usual.
"""

from __future__ import annotations

import functools
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from sqlfeat.online.base import OnlineView, WriteResult


def write_partition(options: dict[str, Any], project: str, repo_path: str, layout: OnlineView,
                    batches: Iterator[pa.RecordBatch]) -> Iterator[bytes]:  # fmt: skip
    """Runs on an executor: write one partition's batches, yield each ``WriteResult`` pickled."""
    from sqlfeat.online import connect_online_store

    store = connect_online_store(options, project, Path(repo_path))
    try:
        for batch in batches:
            if batch.num_rows:
                yield pickle.dumps(store.write_batch(layout, batch))
    finally:
        store.close()


def partition_writer(options: dict[str, Any], project: str, repo_path: Path,
                     layout: OnlineView) -> Callable[[Iterator[pa.RecordBatch]], Iterator[bytes]]:  # fmt: skip
    """The task shipped to the executors: a module-level function with its arguments bound."""
    return functools.partial(write_partition, dict(options), project, str(repo_path), layout)


def results(returned: Iterator[bytes]) -> Iterator[WriteResult]:
    """The executors' ``WriteResult``s, back on the driver."""
    for payload in returned:
        yield pickle.loads(payload)  # noqa: S301 - written by write_partition of this run
