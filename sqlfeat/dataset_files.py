"""Files in and out of ``get-historical-features``: a spine read from parquet or CSV (CSV times
parsed as UTC instants), a training set written as parquet (atomically, marked as sqlfeat's so a
rerun may replace it, and nothing else)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlfeat.errors import UsageError
from sqlfeat.files import atomic_path
from sqlfeat.retrieval import DEFAULT_TIMESTAMP

if TYPE_CHECKING:
    import pandas as pd

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
