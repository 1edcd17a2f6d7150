"""``OnlineResponse``: what ``get_online_features`` returns, in Feast's shapes, with a status per value.

Feast's names and shapes: ``to_dict(include_event_timestamps=False)`` (``{column: [value per
entity row]}``, join keys first, then the features in the order asked; with event timestamps, each
column ``c`` is followed by ``c__ts``, the event time of the value in whole seconds since the
epoch), ``to_df`` and ``to_arrow`` (the same, as a DataFrame or an Arrow table). Where Feast
answers 0 for "no timestamp" (a join key, an entity the store does not have), sqlfeat answers
``None``: 0 would be a real instant, 1970-01-01.

Every value has a status, Feast's ``FieldStatus`` (same names and numbers): ``PRESENT``,
``NULL_VALUE`` (the record holds null), ``NOT_FOUND`` (no record for this entity),
``OUTSIDE_MAX_AGE`` (the record is older than the view's TTL at the read's instant, or newer than
a given ``as_of``: either way not the value of that time, so it reads as null). ``statuses()``
and ``event_timestamps()`` give them per column, and ``explain_nulls()`` says in words why each
null is null (the CLI prints it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from sqlfeat.online.base import from_micros

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from sqlfeat.types import FeatureType

# Feast's suffix for a column's event timestamps in ``to_dict(include_event_timestamps=True)``.
TIMESTAMP_POSTFIX = "__ts"
# sqlfeat's suffix for a column's statuses in ``to_json(include_statuses=True)`` and the CLI.
STATUS_POSTFIX = "__status"
# Rows named per explanation list before the rest are only counted.
EXPLAINED = 10


class FieldStatus(IntEnum):
    """Feast's ``FieldStatus`` (``feast.serving.ServingService``), with its numbers, so a value
    compares equal to Feast's enum."""

    INVALID = 0
    PRESENT = 1
    NULL_VALUE = 2
    NOT_FOUND = 3
    OUTSIDE_MAX_AGE = 4


def jsonable(value: Any) -> Any:
    """A feature value as strict JSON can carry it: NaN and infinities as the strings ``"NaN"``,
    ``"Infinity"``, ``"-Infinity"`` (JSON has no such numbers), timestamps as ISO 8601 text,
    bytes as hex, statuses by name; lists element by element."""
    if isinstance(value, FieldStatus):
        return value.name
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


@dataclass(frozen=True)
class ColumnSource:
    """Where a feature column of a response comes from: its view, that view's TTL, its dtype."""

    view: str
    ttl: timedelta | None
    dtype: FeatureType | None
    join_keys: tuple[str, ...] = ()
    on_demand: bool = False  # computed at request time by an on-demand feature view


def _duration(ttl: timedelta | None) -> str:
    """``30 days``, ``1 day``, ``2:00:00``: a TTL as people write it."""
    if ttl is None:
        return "none"
    if ttl.days and not ttl.seconds and not ttl.microseconds:
        return f"{ttl.days} day{'s' if ttl.days != 1 else ''}"
    return str(ttl)


class OnlineResponse:
    """The answer of ``get_online_features``: one value, one status and one event time per column
    and entity row (join-key columns: the values given, ``PRESENT``, no time)."""

    def __init__(
        self, columns: dict[str, list[Any]], statuses: dict[str, list[FieldStatus]] | None = None,
        event_ts: dict[str, list[int | None]] | None = None, sources: dict[str, ColumnSource] | None = None,
        as_of: datetime | None = None, now: bool = True,
    ) -> None:  # fmt: skip
        self._columns = columns
        rows = len(next(iter(columns.values()), []))
        present = [FieldStatus.PRESENT] * rows
        self._statuses = {name: list((statuses or {}).get(name, present)) for name in columns}
        self._event_ts = {name: list((event_ts or {}).get(name, [None] * rows)) for name in columns}
        self._sources = dict(sources or {})
        self.as_of = as_of  # the instant TTLs were measured from
        self._now = now  # True when that instant was "now" (no as_of given)

    # -- Feast's shapes ---------------------------------------------------------------------------
    def to_dict(self, include_event_timestamps: bool = False) -> dict[str, list[Any]]:
        """``{column: [value per entity row]}``; with ``include_event_timestamps``, each column
        ``c`` is followed by ``c__ts``: its values' event times in whole seconds since the epoch
        (``None`` where there is none)."""
        result: dict[str, list[Any]] = {}
        for name, values in self._columns.items():
            result[name] = list(values)
            if include_event_timestamps:
                seconds = [None if ts is None else ts // 1_000_000 for ts in self._event_ts[name]]
                result[name + TIMESTAMP_POSTFIX] = seconds
        return result

    def to_df(self, include_event_timestamps: bool = False) -> pd.DataFrame:
        """``to_dict`` as a DataFrame (as Feast builds it); event-time columns as nullable integers."""
        import pandas as pd

        frame = pd.DataFrame(self.to_dict(include_event_timestamps))
        if include_event_timestamps:
            for name in self._columns:
                frame[name + TIMESTAMP_POSTFIX] = frame[name + TIMESTAMP_POSTFIX].astype("Int64")
        return frame

    def to_arrow(self, include_event_timestamps: bool = False) -> pa.Table:
        """An Arrow table; feature columns typed as declared (a column of nulls keeps its type)."""
        import pyarrow as pa

        arrays = {}
        for name, values in self.to_dict(include_event_timestamps).items():
            source = self._sources.get(name)
            if source is not None and source.dtype is not None:
                arrays[name] = pa.array(values, source.dtype.to_arrow())
            elif name.endswith(TIMESTAMP_POSTFIX) and name[: -len(TIMESTAMP_POSTFIX)] in self._columns:
                arrays[name] = pa.array(values, pa.int64())
            else:
                arrays[name] = pa.array(values)
        return pa.table(arrays)

    # -- statuses and event times -----------------------------------------------------------------
    def statuses(self) -> dict[str, list[FieldStatus]]:
        """Every column's status per entity row (the same keys as ``to_dict()``)."""
        return {name: list(values) for name, values in self._statuses.items()}

    def event_timestamps(self) -> dict[str, list[datetime | None]]:
        """Every column's event time per entity row, exact (aware, UTC); ``None`` where the store
        has no record (and for join keys)."""
        return {
            name: [None if ts is None else from_micros(ts) for ts in values] for name, values in self._event_ts.items()
        }

    def to_json(
        self, indent: int | None = 2, include_event_timestamps: bool = False, include_statuses: bool = False
    ) -> str:
        """``to_dict()`` as strict JSON (see :func:`jsonable`): always parseable. With
        ``include_statuses``, each feature column ``c`` is followed by ``c__status`` (the status
        names); with ``include_event_timestamps``, by ``c__ts`` as in ``to_dict``."""
        import json

        out: dict[str, Any] = {}
        stamped = self.to_dict(include_event_timestamps)
        for name in self._columns:
            out[name] = jsonable(stamped[name])
            if include_statuses and name in self._sources:
                out[name + STATUS_POSTFIX] = jsonable(self._statuses[name])
            if include_event_timestamps:
                out[name + TIMESTAMP_POSTFIX] = stamped[name + TIMESTAMP_POSTFIX]
        return json.dumps(out, indent=indent, allow_nan=False)

    def explain_nulls(self, limit: int = EXPLAINED) -> list[str]:
        """One line per null value (per record, that is per view and entity, when the record is
        missing or expired), saying why: ``NOT_FOUND``, ``NULL_VALUE``, or ``OUTSIDE_MAX_AGE``
        with the record's event time and the TTL. Empty when no value is null."""
        lines: list[str] = []
        seen: set[tuple] = set()
        for name, source in self._sources.items():
            for row, status in enumerate(self._statuses[name]):
                if status is FieldStatus.PRESENT or self._columns[name][row] is not None:
                    continue
                if source.on_demand:
                    lines.append(f"{name} of on-demand feature view {source.view} is null: its expression or function gave "
                                 "null for this row (a null input, a zero divisor, or the function's own result)")  # fmt: skip
                    continue
                key = tuple(self._columns[k][row] if k in self._columns else None for k in source.join_keys)
                entity = ", ".join(f"{k}={v!r}" for k, v in zip(source.join_keys, key))
                record = f"{source.view} for {entity}" if entity else f"{source.view} (no entities: one record for all)"
                if status is FieldStatus.NULL_VALUE:
                    lines.append(f"{name} of {record} is NULL_VALUE: the source row it was materialized from holds null")
                elif (source.view, key) not in seen:  # every feature of a record shares its status
                    seen.add((source.view, key))
                    lines.append(f"{record} is {status.name}: {self._why(source, status, name, row)}")
        if len(lines) > limit:
            lines = [*lines[:limit], f"... and {len(lines) - limit:,} more"]
        return lines

    def _why(self, source: ColumnSource, status: FieldStatus, column: str, row: int) -> str:
        if status is FieldStatus.NOT_FOUND:
            return "the online store has no record of it (not materialized yet, or no source row for it)"
        event = self._event_ts[column][row]
        when = from_micros(event).isoformat() if event is not None else "unknown"
        as_of = (self.as_of.isoformat() if self.as_of else "") + (" (now)" if self._now else "")
        if event is not None and self.as_of is not None and not self._now and from_micros(event) > self.as_of:
            return (
                f"its event time {when} is after {as_of.strip()}: the online store keeps only the newest record, "
                "so the value as of then is not online (get_historical_features has it)"
            )
        return (
            f"its event time {when} is more than the view's ttl ({_duration(source.ttl)}) before {as_of.strip()}; "
            f"read it as of {when} (as_of=, or --as-of) to see the value it had then"
        )

    def __repr__(self) -> str:
        return f"OnlineResponse({self._columns!r})"
