"""Training-set retrieval: turn an entity DataFrame or SQL spine into a compiled PIT job; and the
files of ``get-historical-features``: a spine read from parquet or CSV, a training set written as
parquet that sqlfeat recognises as its own."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlfeat.compiler import RetrievalPlan, Spine, compile_point_in_time
from sqlfeat.compiler.plan import INTERNAL_COLUMNS, ROW_ID
from sqlfeat.definitions.spec import RESERVED_PREFIX
from sqlfeat.errors import EntityDataFrameError, UsageError, WarehouseError
from sqlfeat.files import atomic_path
from sqlfeat.types import column_family, column_type_of_arrow, is_timestamp_column
from sqlfeat.warehouses.base import OfflineStore

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

DEFAULT_TIMESTAMP = "event_timestamp"
_QUERY_START = re.compile(r"\s*(?:\(\s*)*(?:select|with)\b", re.IGNORECASE)


def is_query(spine: str) -> bool:
    """A spine given as text is a query only when it starts with SELECT or WITH; anything else
    must be a table name (and is refused if it is not one)."""
    return bool(_QUERY_START.match(spine))


def pick_timestamp_column(columns: dict[str, bool]) -> str:
    """Rule 3: ``event_timestamp`` if present, else the only datetime column."""
    if DEFAULT_TIMESTAMP in columns:
        if not columns[DEFAULT_TIMESTAMP]:
            raise EntityDataFrameError(
                f"entity_df column {DEFAULT_TIMESTAMP!r} is not a timestamp; convert it with "
                f"pd.to_datetime(df[{DEFAULT_TIMESTAMP!r}], utc=True)"
            )
        return DEFAULT_TIMESTAMP
    candidates = [name for name, is_timestamp in columns.items() if is_timestamp]
    if len(candidates) == 1:
        return candidates[0]
    found = f"it has {candidates}" if candidates else "it has none"
    raise EntityDataFrameError(
        f"entity_df needs exactly one timestamp column, or one named {DEFAULT_TIMESTAMP!r}; {found}. "
        f"Rename the row-time column to {DEFAULT_TIMESTAMP!r}."
    )


def _check_columns(plan: RetrievalPlan, columns: Sequence[str]) -> None:
    for key in plan.join_keys:
        if key not in columns:
            raise EntityDataFrameError(
                f"entity_df has no join key column {key!r} (needed by "
                f"{[r.name for r in plan.views if key in r.join_keys]}); its columns are {list(columns)}"
            )
    duplicated = sorted({str(name) for name in columns if list(columns).count(name) > 1})
    if duplicated:
        raise EntityDataFrameError(f"entity_df has more than one column named {duplicated}; give each column its own name")
    for name in columns:
        if not isinstance(name, str):
            raise EntityDataFrameError(f"entity_df column names must be text, got {name!r}; rename it")
        if name in INTERNAL_COLUMNS or name.lower().startswith(RESERVED_PREFIX):
            raise EntityDataFrameError(f"entity_df column {name!r} is reserved by sqlfeat ({RESERVED_PREFIX}...); rename it")
        if name in plan.output_names:
            raise EntityDataFrameError(
                f"entity_df already has a column {name!r}, the name of a requested feature; rename "
                "it or pass full_feature_names=True"
            )


def _check_key_types(plan: RetrievalPlan, spine_types: dict, source_types: dict[str, dict]) -> None:
    for request in plan.views:
        columns = source_types[request.view.source.name]
        for key in request.join_keys:
            source_type = columns.get(request.view.source.source_column(key))
            if source_type is None or key not in spine_types:
                continue
            if column_family(spine_types[key]) is not column_family(source_type):
                raise EntityDataFrameError(
                    f"entity_df column {key!r} is {spine_types[key].sql('duckdb')} but feature view "
                    f"{request.name!r} keys it as {source_type.sql('duckdb')}; cast the column to match"
                )


def _utc_instants(series: pd.Series, column: str, unit: str = "us") -> pa.Array:
    import pandas as pd
    import pyarrow as pa

    if isinstance(series.dtype, pd.DatetimeTZDtype):
        utc = series.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(series.dtype):
        utc = series.dt.tz_localize("UTC")  # naive: taken as UTC (rule 3)
    else:
        kinds = {type(v).__name__ for v in series.dropna().head(1000)}
        zones = {getattr(v, "tzinfo", None) is None for v in series.dropna() if hasattr(v, "tzinfo")}
        if len(zones) > 1:
            raise EntityDataFrameError(
                f"entity_df column {column!r} mixes naive and time-zone-aware timestamps; convert "
                f"with pd.to_datetime(df[{column!r}], utc=True) after localizing the naive ones"
            )
        raise EntityDataFrameError(
            f"entity_df column {column!r} holds {sorted(kinds) or 'no values'}, not timestamps; "
            f"convert it with pd.to_datetime(df[{column!r}], utc=True)"
        )
    return pa.array(utc, type=pa.timestamp("ns", tz="UTC")).cast(pa.timestamp(unit, tz="UTC"), safe=False)


def _is_timestamp_series(series: pd.Series) -> bool:
    import pandas as pd

    if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(series.dtype):
        return True
    if series.dtype == object:
        sample = series.dropna().head(100)
        return len(sample) > 0 and all(hasattr(v, "tzinfo") and hasattr(v, "hour") for v in sample)
    return False


@dataclass
class RetrievalJob:
    """A compiled point-in-time retrieval. ``sql`` is what ``to_df``/``to_arrow`` run."""

    plan: RetrievalPlan
    store: OfflineStore
    repo_path: Path
    entity_df: Any
    spine: Spine
    strategy: str = "auto"

    @property
    def sql(self) -> str:
        return self._render(self.spine)

    def _render(self, spine: Spine) -> str:
        query = compile_point_in_time(self.plan, spine, self.store.dialect, self.repo_path, self.strategy)
        return self.store.dialect.render(query)

    @property
    def full_feature_names(self) -> bool:
        return self.plan.full_feature_names

    def _features(self) -> pa.Table:
        uploaded = self._upload_keys() if self.spine.row_id else None
        try:
            result = self.store.fetch_arrow(self.sql)
        finally:
            if uploaded:
                self.store.drop_upload(uploaded)
        return self._in_spine_order(self._typed(result)) if uploaded else self._typed(result)

    def _in_spine_order(self, result: pa.Table) -> pa.Table:
        """Rows back in the DataFrame's order: row ids are 0..n-1, so an inverse permutation
        (O(n), no sort) puts each result row at its spine position."""
        import numpy as np

        row_ids = result.column(ROW_ID).to_numpy()
        if len(row_ids) != len(self.entity_df):
            raise WarehouseError(f"the warehouse returned {len(row_ids)} rows for {len(self.entity_df)} spine rows")
        order = np.empty(len(row_ids), dtype=np.int64)
        order[row_ids] = np.arange(len(row_ids))
        return result.take(order)

    def _typed(self, result: pa.Table) -> pa.Table:
        """Feature columns in their declared Arrow types, whatever the warehouse returned
        (Snowflake NUMBER, BigQuery FLOAT64 for a Float32...): every warehouse, the same table."""
        declared = {
            name: field.dtype.to_arrow()
            for request in self.plan.views for field, name in zip(request.features, request.output_names)
        }
        for index, name in enumerate(result.column_names):
            if name in declared and result.schema.field(index).type != declared[name]:
                result = result.set_column(index, name, result.column(index).cast(declared[name]))
        return result

    def _upload_keys(self) -> str:
        import pyarrow as pa

        df = self.entity_df
        import numpy as np

        columns = {ROW_ID: pa.array(np.arange(len(df), dtype=np.int64))}
        for key in self.plan.join_keys:
            columns[key] = pa.Array.from_pandas(df[key])
        columns[self.spine.timestamp_column] = _utc_instants(
            df[self.spine.timestamp_column], self.spine.timestamp_column, self.store.dialect.INSTANT_UNIT
        )
        self.store.upload(pa.table(columns), self.spine.relation)
        return self.spine.relation

    def to_arrow(self) -> pa.Table:
        result = self._features()
        if not self.spine.row_id:
            return result
        import pyarrow as pa

        table = pa.Table.from_pandas(self.entity_df, preserve_index=False)
        for name in self.plan.output_names:
            table = table.append_column(name, result.column(name))
        return table

    def to_df(self) -> pd.DataFrame:
        """The training set as pandas: spine columns as given, features typed as declared; integer
        and boolean features are pandas' nullable dtypes (``Int64``, ``boolean``), so a null
        never turns them into floats (which would round integers above 2**53)."""
        result = self._features()
        features = {name: _exact_pandas(result.column(name)) for name in self.plan.output_names}
        if not self.spine.row_id:
            out = result.drop_columns(self.plan.output_names).to_pandas()
            for name in self.plan.output_names:
                out[name] = features[name]
            return out
        out = self.entity_df.copy()
        for name in self.plan.output_names:
            out[name] = features[name].set_axis(self.entity_df.index)
        return out

    def to_table(self, name: str) -> str:
        """Write the training set into warehouse table ``name`` without pulling it to Python."""
        if not self.spine.row_id:
            self.store.create_table(name, self.sql)
            return name
        import pyarrow as pa

        uploaded = self.store.upload_name()
        self.store.upload(pa.Table.from_pandas(self.entity_df, preserve_index=False), uploaded)
        try:
            spine = Spine(uploaded, self.spine.timestamp_column, rows=self.spine.rows)
            self.store.create_table(name, self._render(spine))
        finally:
            self.store.drop_upload(uploaded)
        return name


def _exact_pandas(column: pa.ChunkedArray) -> pd.Series:
    """An Arrow column as pandas without loss: integers and booleans as nullable dtypes."""
    import pandas as pd
    import pyarrow as pa

    nullable = {
        pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(), pa.uint8(): pd.UInt8Dtype(), pa.uint16(): pd.UInt16Dtype(),
        pa.uint32(): pd.UInt32Dtype(), pa.uint64(): pd.UInt64Dtype(), pa.bool_(): pd.BooleanDtype(),
    }  # fmt: skip
    return column.to_pandas(types_mapper=nullable.get)


def build_job(
    plan: RetrievalPlan,
    entity_df: Any,
    store: OfflineStore,
    repo_path: Path,
    source_types: dict[str, dict],
    strategy: str = "auto",
) -> RetrievalJob:
    """Check the spine against the plan and make the job (nothing runs yet)."""
    import pandas as pd

    if isinstance(entity_df, pd.DataFrame):
        _check_columns(plan, list(entity_df.columns))
        timestamp = pick_timestamp_column({c: _is_timestamp_series(entity_df[c]) for c in entity_df.columns})
        _utc_instants(entity_df[timestamp].head(1000), timestamp)  # fail now on bad timestamps
        import pyarrow as pa

        spine_types = {}
        for key in plan.join_keys:
            arrow_type = pa.Array.from_pandas(entity_df[key].head(1000)).type
            spine_types[key] = column_type_of_arrow(arrow_type)
        _check_key_types(plan, spine_types, source_types)
        spine = Spine(store.upload_name(), timestamp, row_id=ROW_ID, rows=len(entity_df))
        return RetrievalJob(plan, store, repo_path, entity_df, spine, strategy)
    if isinstance(entity_df, str):
        query = is_query(entity_df)
        dialect = store.dialect
        relation = dialect.query(entity_df).subquery() if query else dialect.table(entity_df)
        types = store.describe(relation)
        _check_columns(plan, list(types))
        timestamp = pick_timestamp_column({c: is_timestamp_column(t) for c, t in types.items()})
        _check_key_types(plan, types, source_types)
        spine = Spine(entity_df, timestamp, is_query=query)
        return RetrievalJob(plan, store, repo_path, entity_df, spine, strategy)
    raise EntityDataFrameError(
        f"entity_df must be a pandas DataFrame, a SQL query or a table name, got {type(entity_df).__name__}"
    )


# -- files: a spine in, a training set out ---------------------------------------------------------

# A CSV column (other than event_timestamp) is taken as times only when every value is a date and
# a time: a column of plain dates (a signup day) stays text, as it would in parquet.
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?\s*(Z|[+-]\d{2}(:?\d{2})?)?")
_OFFSET = re.compile(r"[T ]\d{2}(?::?\d{2}(?::?\d{2}(?:[.,]\d+)?)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$")
# Parquet schema metadata that marks a training set sqlfeat wrote, so a rerun may replace it.
TRAINING_SET_KEY = b"sqlfeat"
SQL_HEADER = "-- point-in-time SQL written by sqlfeat get-historical-features\n"


def read_spine_file(path: Path) -> pd.DataFrame:
    """The spine in a ``.parquet`` or ``.csv`` file. In a CSV the ``event_timestamp`` column, or
    else every column whose values are all ISO 8601 date-times, becomes UTC instants (a value
    without an offset is UTC). Anything unusable is a ``UsageError`` naming the file."""
    import pandas as pd
    import pyarrow as pa

    path = Path(path)
    kind = path.suffix.lower()
    if kind not in (".parquet", ".pq", ".csv"):
        raise UsageError(f"--entity-df {path}: expected a .parquet or .csv file, not {kind or 'a file without suffix'}")
    if path.stat().st_size == 0:
        raise UsageError(f"--entity-df {path} is empty; give a spine with a header and rows")
    try:
        frame = pd.read_csv(path) if kind == ".csv" else pd.read_parquet(path)
    except (OSError, ValueError, pa.ArrowException) as err:
        reason = (str(err).splitlines() or [type(err).__name__])[0]
        raise UsageError(f"--entity-df {path} is not a readable {kind[1:]} file: {reason}") from None
    if kind == ".csv":
        frame = _parse_csv_times(frame, path)
    if frame.empty:
        raise UsageError(f"--entity-df {path} has no rows: nothing to build a training set from")
    return frame


def _parse_csv_times(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    import pandas as pd

    def every_value_a_datetime(values: pd.Series) -> bool:
        present = values.dropna()
        textual = values.dtype == object or pd.api.types.is_string_dtype(values.dtype)
        return textual and len(present) > 0 and all(
            isinstance(v, str) and _ISO_DATETIME.fullmatch(v.strip()) for v in present
        )

    names = [DEFAULT_TIMESTAMP] if DEFAULT_TIMESTAMP in frame.columns else [
        name for name in frame.columns if every_value_a_datetime(frame[name])
    ]  # fmt: skip
    for name in names:
        values = frame[name]
        text = values.astype("string").str.strip()
        # Parsed apart: in one call pandas reads a value without offset that follows one with an
        # offset in that offset, not in UTC.
        aware = text.str.contains(_OFFSET.pattern, regex=True, na=False)
        parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
        for group in (aware, ~aware):
            if group.any():
                parsed[group] = pd.to_datetime(text[group], utc=True, format="ISO8601", errors="coerce")
        wrong = values.notna() & parsed.isna()
        if wrong.any():
            row = int(wrong.to_numpy().argmax())
            raise UsageError(
                f"--entity-df {path}: column {name!r} has {values.iloc[row]!r} in data row {row + 1}, not an "
                "ISO 8601 date-time; write times like 2024-01-31T12:00:00Z (without an offset they are UTC)"
            )
        frame[name] = parsed
    return frame


def write_training_set(path: Path, frame: pd.DataFrame, written_by: str) -> None:
    """``frame`` as parquet at ``path``, atomically, marked in its schema metadata as sqlfeat's."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    marked = {**(table.schema.metadata or {}), TRAINING_SET_KEY: json.dumps({"written_by": written_by}).encode()}
    with atomic_path(path) as temp:
        pq.write_table(table.replace_schema_metadata(marked), temp)


def is_training_set(path: Path) -> bool:
    """Whether ``path`` is a training set sqlfeat wrote (so ``--out`` may replace it)."""
    import pyarrow.parquet as pq

    return TRAINING_SET_KEY in (pq.read_schema(path).metadata or {})


def is_training_sql(path: Path) -> bool:
    """Whether ``path`` is SQL ``get-historical-features --sql-out`` wrote."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read(len(SQL_HEADER)) == SQL_HEADER
