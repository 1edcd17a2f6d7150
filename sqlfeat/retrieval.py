"""Training-set retrieval: turn an entity DataFrame or SQL spine into a compiled PIT job; and the
files of ``get-historical-features``: a spine read from parquet or CSV, a training set written as
parquet that sqlfeat recognises as its own."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlfeat.compiler import RetrievalPlan, Spine, compile_point_in_time
from sqlfeat.compiler.plan import INTERNAL_COLUMNS, ROW_ID
from sqlfeat.compiler.strategy import Choice, SourceStats, choose_strategies, explain
from sqlfeat.definitions.spec import RESERVED_PREFIX
from sqlfeat.errors import EntityDataFrameError, SchemaMismatchError, UsageError, WarehouseError
from sqlfeat.spine_keys import check_key_types, key_types, text_keys
from sqlfeat.transformations import check_request_fields, upload_request_fields
from sqlfeat.statistics import frame_bounds, relation_facts, source_stats
from sqlfeat.types import column_type_of_arrow, is_timestamp_column
from sqlfeat.types import exact_pandas as _exact_pandas
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


def _utc_instants(series: pd.Series, column: str, unit: str = "us") -> pa.Array:
    """The spine's times as UTC instants (rule 3): aware values converted, each from its own zone
    (a column of several zones is pandas' object dtype), naive ones taken as UTC. A column mixing
    naive and aware values is refused: the zone of its naive values cannot be known."""
    import pandas as pd
    import pyarrow as pa

    if isinstance(series.dtype, pd.DatetimeTZDtype):
        utc = series.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(series.dtype):
        utc = series.dt.tz_localize("UTC")  # naive: taken as UTC (rule 3)
    else:
        values = series.dropna()
        stamps = [v for v in values if isinstance(v, datetime)]  # pandas' Timestamp is a datetime
        if not stamps or len(stamps) != len(values):
            kinds = {type(v).__name__ for v in values.head(1000)}
            raise EntityDataFrameError(
                f"entity_df column {column!r} holds {sorted(kinds) or 'no values'}, not timestamps; "
                f"convert it with pd.to_datetime(df[{column!r}], utc=True)"
            )
        if len({v.utcoffset() is None for v in stamps}) > 1:
            raise EntityDataFrameError(
                f"entity_df column {column!r} mixes naive and time-zone-aware timestamps, and the zone of "
                f"the naive ones cannot be known; localize them first (if they are UTC: "
                f"df[{column!r}] = pd.to_datetime(df[{column!r}], utc=True))"
            )
        try:
            utc = pd.to_datetime(series, utc=True)
        except (pd.errors.OutOfBoundsDatetime, ValueError, TypeError) as err:
            raise EntityDataFrameError(f"entity_df column {column!r} cannot be converted to UTC: {err}") from None
    return pa.array(utc, type=pa.timestamp("ns", tz="UTC")).cast(pa.timestamp(unit, tz="UTC"), safe=False)


def _is_timestamp_series(series: pd.Series) -> bool:
    import pandas as pd

    if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(series.dtype):
        return True
    if series.dtype == object:
        sample = series.dropna().head(100)
        return len(sample) > 0 and all(hasattr(v, "tzinfo") and hasattr(v, "hour") for v in sample)
    return False


# Rendered SQL per (plan, spine, strategies...): an uploaded spine's name is the only part that
# changes between two calls with the same spine, so it is cached as a token and put back in.
_RENDERED: dict[tuple, str] = {}
_UPLOAD_TOKEN = "__sqlfeat_spine_" + "0" * 12


@dataclass
class RetrievalJob:
    """A compiled point-in-time retrieval. ``sql`` is what ``to_df``/``to_arrow`` run;
    ``strategies`` says which strategy each view got and ``explain()`` why."""

    plan: RetrievalPlan
    store: OfflineStore
    repo_path: Path
    entity_df: Any
    spine: Spine
    strategy: str | Mapping[str, str] = "auto"
    stats: dict[str, SourceStats] = field(default_factory=dict)
    # DataFrame key columns of integers uploaded as text (their views compare the key as text)
    text_keys: tuple[str, ...] = ()

    @cached_property
    def choices(self) -> dict[str, Choice]:
        return choose_strategies(self.plan, self.store.dialect, self.strategy, self.spine.rows, self.stats)

    @property
    def strategies(self) -> dict[str, str]:
        """The strategy each view runs with (``asof``, ``carry``, ``window`` or ``lateral``)."""
        return {name: choice.strategy for name, choice in self.choices.items()}

    def explain(self) -> str:
        """One line per view: its strategy, and why it was chosen."""
        return explain(self.plan, self.choices)

    @property
    def sql(self) -> str:
        return self._render(self.spine)

    def _render(self, spine: Spine) -> str:
        name = spine.relation if spine.row_id and isinstance(spine.relation, str) else ""
        prefix, marker, suffix = name.rpartition("__sqlfeat_spine_")
        token = prefix + _UPLOAD_TOKEN if marker else None
        keyed = replace(spine, relation=token) if token else spine
        ties = tuple(sorted((view, s.ties) for view, s in self.stats.items() if s is not None))
        key = (self.plan, keyed, self.store.dialect.NAME, tuple(sorted(self.strategies.items())), ties, str(self.repo_path))
        sql = _RENDERED.get(key)
        if sql is None:
            query = compile_point_in_time(
                self.plan, keyed, self.store.dialect, self.repo_path, stats=self.stats, choices=self.choices
            )
            sql = self.store.dialect.render(query)
            if len(_RENDERED) > 256:
                _RENDERED.clear()
            _RENDERED[key] = sql
        if token is None:
            return sql
        # The token comes back in the case the warehouse folds names to (Snowflake: upper).
        actual = marker + suffix
        return re.sub(re.escape(_UPLOAD_TOKEN), lambda m: actual.upper() if m.group(0).isupper() else actual, sql,
                      flags=re.IGNORECASE)

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
        result = self._in_spine_order(self._typed(result)) if uploaded else self._typed(result)
        return self._on_demand(result)

    def _on_demand(self, result: pa.Table) -> pa.Table:
        """pandas and python on-demand features over the fetched rows (request fields from
        entity_df, or the spine columns passed through); their hidden inputs dropped."""
        if not self.plan.functions:
            return result
        from sqlfeat.transformations import compute, request_arrays

        if self.spine.row_id:
            request = request_arrays(self.plan.functions, self.entity_df.reset_index(drop=True), online=False)
        else:
            request = request_arrays(self.plan.functions, {n: result.column(n) for n in result.column_names}, online=False)
        pit = {name: result.column(name).combine_chunks() for name in self.plan.selected_names}
        for name, values in compute(self.plan.functions, pit, request, result.num_rows, expressions=False).items():
            result = result.append_column(name, values)
        return result.drop_columns([n for n in self.plan.hidden if n in result.column_names])

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
        import pyarrow as pa

        declared = {name: field.dtype for request in (*self.plan.views, *self.plan.on_demand)
                    for field, name in zip(request.features, request.output_names)}  # fmt: skip
        for index, name in enumerate(result.column_names):
            if name in declared and result.schema.field(index).type != declared[name].to_arrow():
                try:
                    result = result.set_column(index, name, result.column(index).cast(declared[name].to_arrow()))
                except pa.ArrowInvalid as err:  # a declared dtype narrower than a value (Int32 over BIGINT)
                    raise SchemaMismatchError(
                        f"feature {name!r}: a value does not fit its declared dtype {declared[name].name} ({err}); "
                        "declare the source column's own dtype"
                    ) from None
        return result

    def _upload_keys(self) -> str:
        import pyarrow as pa

        df = self.entity_df
        import numpy as np

        columns = {ROW_ID: pa.array(np.arange(len(df), dtype=np.int64))}
        for key in self.plan.join_keys:
            columns[key] = pa.Array.from_pandas(df[key])
            if key in self.text_keys:
                columns[key] = columns[key].cast(pa.string())
        columns.update(upload_request_fields(self.plan, df, columns))  # read by SQL on-demand features
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
            if self.spine.ordered:  # sqlfeat's spine of a time range: keys nullable, never floats
                for key in self.plan.join_keys:
                    out[key] = _exact_pandas(result.column(key))
            for name in self.plan.output_names:
                out[name] = features[name]
            return out
        out = self.entity_df.copy()
        for name in self.plan.output_names:
            out[name] = features[name].set_axis(self.entity_df.index)
        return out

    def to_table(self, name: str, replace: bool = True) -> str:
        """Write the training set into warehouse table ``name`` without pulling it to Python
        (``replace=False``: a plain CREATE TABLE, refused by the warehouse if it exists)."""
        with self.full_sql() as sql:
            self.store.create_table(name, sql, replace)
        return name

    @contextmanager
    def full_sql(self) -> Iterator[str]:
        """The SQL of the whole training set, every spine column included, valid inside the block:
        a DataFrame spine is uploaded whole for it (and dropped after)."""
        if self.plan.functions:
            names = [r.name for r in self.plan.functions]
            raise UsageError(
                f"on-demand feature views {names} run in Python (pandas/python mode), so the training set cannot be "
                "written inside the warehouse; use to_df()/to_arrow(), or SQL-expression on-demand features"
            )
        if not self.spine.row_id:
            yield self.sql
            return
        import pyarrow as pa

        uploaded = self.store.upload_name()
        table = pa.Table.from_pandas(self.entity_df, preserve_index=False)
        for key in self.text_keys:
            table = table.set_column(table.schema.get_field_index(key), key, table.column(key).cast(pa.string()))
        self.store.upload(table, uploaded)
        try:
            yield self._render(replace(self.spine, relation=uploaded, row_id=None))
        finally:
            self.store.drop_upload(uploaded)


def plan_stats(plan: RetrievalPlan, store: OfflineStore, repo_path: Path) -> dict:
    """Source facts for every view (cached): they choose ``auto`` strategies, and tell whether
    the ASOF strategy can skip its created-time dedupe."""
    return {r.name: s for r in plan.views if (s := source_stats(store, r, repo_path)) is not None}


def build_job(
    plan: RetrievalPlan,
    entity_df: Any,
    store: OfflineStore,
    repo_path: Path,
    source_types: dict[str, dict],
    strategy: str | Mapping[str, str] = "auto",
) -> RetrievalJob:
    """Check the spine against the plan and make the job (nothing runs yet but small reads: the
    spine's time range for a table or query, and cached source facts for the strategy choice)."""
    import pandas as pd

    choose_strategies(plan, store.dialect, strategy)  # an impossible strategy fails before any work

    if isinstance(entity_df, pd.DataFrame):
        _check_columns(plan, list(entity_df.columns))
        check_request_fields(plan, list(entity_df.columns), "entity_df")
        timestamp = pick_timestamp_column({c: _is_timestamp_series(entity_df[c]) for c in entity_df.columns})
        _utc_instants(entity_df[timestamp].head(1000), timestamp)  # fail now on bad timestamps
        import pyarrow as pa

        spine_types = {}
        for key in plan.join_keys:
            arrow_type = pa.Array.from_pandas(entity_df[key].head(1000)).type
            spine_types[key] = column_type_of_arrow(arrow_type)
        expected = key_types(plan, source_types)
        as_text = text_keys(spine_types, expected)
        check_key_types({**spine_types, **{k: column_type_of_arrow(pa.string()) for k in as_text}}, expected)
        spine = Spine(store.upload_name(), timestamp, row_id=ROW_ID, rows=len(entity_df),
                      bounds=frame_bounds(entity_df[timestamp]))  # fmt: skip
        return RetrievalJob(plan, store, repo_path, entity_df, spine, strategy, plan_stats(plan, store, repo_path), as_text)
    if isinstance(entity_df, str):
        query = is_query(entity_df)
        dialect = store.dialect
        relation = dialect.query(entity_df).subquery() if query else dialect.table(entity_df)
        types = store.describe(relation)
        _check_columns(plan, list(types))
        check_request_fields(plan, list(types), "the entity_df query")
        timestamp = pick_timestamp_column({c: is_timestamp_column(t) for c, t in types.items()})
        check_key_types(types, key_types(plan, source_types))
        rows, bounds = relation_facts(store, relation, timestamp)
        spine = Spine(entity_df, timestamp, is_query=query, rows=rows, bounds=bounds)
        return RetrievalJob(plan, store, repo_path, entity_df, spine, strategy, plan_stats(plan, store, repo_path))
    raise EntityDataFrameError(
        f"entity_df must be a pandas DataFrame, a SQL query or a table name, got {type(entity_df).__name__}"
    )

