"""Direct offline writes: ``write_to_offline_store`` and ``push(..., to=PushMode.OFFLINE)`` append
checked rows (``push_frames.pushed_rows``) to a feature view's batch source.

sqlfeat never deletes or overwrites what it did not create, and writes files atomically:

- a ``FileSource`` whose ``path`` is a glob (``data/driver_stats/*.parquet``) gets one new parquet
  file per write, written under a temporary name the glob does not match and renamed into place;
- a ``FileSource`` naming one file is refused: appending would rewrite a file sqlfeat did not
  create. The fix is to point the source at a folder of files;
- a table source gets one ``INSERT INTO <table> (<columns>) SELECT ...`` from the rows uploaded as
  Arrow (never values in SQL text): one statement, so every row lands or none does;
- a query source is refused: there is nothing to append to.

The written columns are the source's, in its order, each cast to the source's column type; a
source column the DataFrame does not give is null. A DataFrame column the source lacks is refused
(it would be lost).
"""

from __future__ import annotations

import fnmatch
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from sqlglot import exp

from sqlfeat.compiler.plan import CREATED_TS, EVENT_TS
from sqlfeat.errors import PushedDataError, UsageError
from sqlfeat.files import atomic_path
from sqlfeat.push_frames import PushedRows
from sqlfeat.types import arrow_type_of_column

if TYPE_CHECKING:
    import pyarrow as pa

    from sqlfeat.warehouses.base import OfflineStore

GLOB_CHARS = "*?["


def source_table(offline: OfflineStore, repo_path: Path, pushed: PushedRows, what: str) -> pa.Table:
    """The pushed rows as the source's columns, in its order and types."""
    import pyarrow as pa
    import pyarrow.compute as pc

    view = pushed.request.view
    source = view.source
    columns = offline.describe(offline.dialect.source_relation(source, repo_path))
    # source column -> the checked column holding it
    checked = {source.source_column(name): name for name in pushed.table.column_names if name not in (EVENT_TS, CREATED_TS)}
    checked[source.event_time_column] = EVENT_TS
    if CREATED_TS in pushed.table.column_names and source.created_time_column:
        checked[source.created_time_column] = CREATED_TS
    used = set(pushed.given.values())
    unknown = [name for name in pushed.raw.column_names if name not in used and name not in columns]
    if unknown:
        raise PushedDataError(
            f"{what}: the DataFrame has columns {unknown} that source {source.name!r} of feature view {view.name!r} "
            f"does not have (its columns: {list(columns)}); they would be lost. Drop them, or add them to the source"
        )
    arrays: dict[str, pa.Array] = {}
    rows = pushed.table.num_rows
    for name, column_type in columns.items():
        target = arrow_type_of_column(column_type)
        if name in checked:
            array = pushed.table.column(checked[name])
        elif name in pushed.raw.column_names:
            array = pushed.raw.column(name)
        else:
            arrays[name] = pa.nulls(rows, target)
            continue
        if array.type == target:
            arrays[name] = array
            continue
        try:
            if pa.types.is_timestamp(array.type) and pa.types.is_timestamp(target) and not target.tz and array.type.tz:
                array = array.cast(pa.timestamp(array.type.unit, tz="UTC")).cast(pa.timestamp(array.type.unit))  # UTC wall time
            arrays[name] = pc.cast(array, target, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as err:
            raise PushedDataError(
                f"{what}: column {name!r} holds {array.type} values, which source {source.name!r} stores as "
                f"{column_type.sql('duckdb')} and they do not convert: {err}; convert the column"
            ) from None
    return pa.table(arrays)


def append_offline(offline: OfflineStore, repo_path: Path, pushed: PushedRows, what: str) -> str:
    """Append the rows to the view's batch source; returns where they went (for messages)."""
    source = pushed.request.view.source
    table = source_table(offline, repo_path, pushed, what)
    if source.kind == "file":
        return _append_file(source.path, repo_path, table, pushed.request.view.name)  # type: ignore[attr-defined]
    if not getattr(source, "table", None):
        raise UsageError(
            f"feature view {pushed.request.view.name!r} reads a query source ({source.name!r}): there is no table to "
            "append to; give the view a table source, or insert the rows where the query reads"
        )
    target = source.table  # type: ignore[attr-defined]
    if table.num_rows == 0:
        return f"table {target}"
    staged = offline.upload_name()
    offline.upload(table, staged)
    try:
        names = [exp.to_identifier(name, quoted=True) for name in table.column_names]
        select = exp.select(*[exp.column(name.copy()) for name in names]).from_(offline.dialect.table(staged))
        insert = exp.Insert(this=exp.Schema(this=offline.dialect.table(target), expressions=names), expression=select)
        offline.execute(offline.dialect.render(insert, pretty=False), f"appending rows to table {target!r}")
    finally:
        offline.drop_upload(staged)
    return f"table {target}"


def _append_file(path_text: str, repo_path: Path, table: pa.Table, view: str) -> str:
    import pyarrow.parquet as pq

    pattern = Path(path_text)
    if not pattern.is_absolute():
        pattern = repo_path / pattern
    if "://" in path_text:
        raise UsageError(f"feature view {view!r} reads remote files ({path_text}); sqlfeat appends to local folders only")
    if not any(char in path_text for char in GLOB_CHARS):
        raise UsageError(
            f"feature view {view!r} reads the single file {path_text}, which sqlfeat did not create and never rewrites, "
            "so rows cannot be appended to it. Point the source at a folder of files instead: move the file into a "
            f"folder and set path='{Path(path_text).with_suffix('')}/*.parquet'; each write then adds a new file there"
        )
    folder = pattern.parent
    if any(char in str(folder) for char in GLOB_CHARS):
        raise UsageError(
            f"feature view {view!r} reads {path_text}, a glob over several folders: sqlfeat cannot tell which folder "
            "new files belong in; give the source one folder (path='data/<view>/*.parquet')"
        )
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    target = folder / f"sqlfeat-push-{stamp}-{uuid.uuid4().hex[:8]}.parquet"
    if not fnmatch.fnmatchcase(target.name, pattern.name):
        raise UsageError(
            f"feature view {view!r} reads {path_text}, which would not match a new file named like {target.name}; "
            "use a pattern such as '*.parquet' for the file names"
        )
    if table.num_rows == 0:
        return str(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as temp:
        pq.write_table(table, temp)
    return str(target)
