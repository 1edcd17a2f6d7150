"""``Aggregation``: a feature computed from raw events over a trailing time window.

At time t the window holds the source rows with ``t - time_window < event_ts <= t``; an empty
window gives 0 for ``count`` and ``count_distinct`` and null for everything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlfeat.definitions.spec import check_name
from sqlfeat.errors import DefinitionError
from sqlfeat.types import Family, FeatureType, Float64, Int64, dtype_from_name

# function -> what it computes over the window's non-null values of the column
FUNCTIONS = {
    "count": "number of events whose column is not null",
    "count_distinct": "number of distinct non-null values",
    "sum": "sum of the values",
    "mean": "mean of the values",
    "min": "smallest value",
    "max": "largest value",
    "stddev": "sample standard deviation (null below two values)",
    "last": "the value of the newest event in the window (ties: newest created timestamp)",
}
COUNTING = frozenset({"count", "count_distinct"})


def window_label(window: timedelta) -> str:
    """``7d``, ``12h``, ``30m``, ``45s``: the suffix of a default aggregation name."""
    seconds = int(window.total_seconds())
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True, init=False)
class Aggregation:
    """``Aggregation("dwell_seconds", "mean", timedelta(days=7))`` -> feature ``dwell_seconds_mean_7d``."""

    column: str
    function: str
    time_window: timedelta
    name: str
    # Set when the view is applied, from the source column's type (see result_dtype).
    dtype: FeatureType | None = None

    def __init__(
        self,
        column: str,
        function: str,
        time_window: timedelta,
        name: str | None = None,
        dtype: FeatureType | str | None = None,
    ) -> None:
        check_name("aggregation column", column)
        if function not in FUNCTIONS:
            raise DefinitionError(
                f"aggregation of {column!r}: unknown function {function!r}; use one of {sorted(FUNCTIONS)}"
            )
        if not isinstance(time_window, timedelta) or time_window <= timedelta(0):
            raise DefinitionError(
                f"aggregation {function}({column}): time_window must be a positive timedelta, got {time_window!r}"
            )
        if time_window % timedelta(seconds=1):
            raise DefinitionError(f"aggregation {function}({column}): time_window must be whole seconds")
        name = name or f"{column}_{function}_{window_label(time_window)}"
        object.__setattr__(self, "column", column)
        object.__setattr__(self, "function", function)
        object.__setattr__(self, "time_window", time_window)
        object.__setattr__(self, "name", check_name("aggregation", name))
        object.__setattr__(self, "dtype", dtype_from_name(dtype) if dtype is not None else None)

    def result_dtype(self, column_dtype: FeatureType | None) -> FeatureType:
        """The dtype of the result given the aggregated column's dtype."""
        if self.function in COUNTING:
            return Int64
        if self.function in ("mean", "stddev"):
            return Float64
        if column_dtype is None:
            raise DefinitionError(f"aggregation {self.name!r}: the type of column {self.column!r} is unknown")
        if self.function == "sum":
            return Int64 if column_dtype.family is Family.INTEGER else Float64
        return column_dtype

    def to_spec(self) -> dict[str, Any]:
        return {
            "column": self.column, "function": self.function, "window_seconds": int(self.time_window.total_seconds()),
            "name": self.name, "dtype": self.dtype.name if self.dtype else None,
        }  # fmt: skip

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Aggregation:
        return cls(spec["column"], spec["function"], timedelta(seconds=spec["window_seconds"]), spec["name"], spec.get("dtype"))
