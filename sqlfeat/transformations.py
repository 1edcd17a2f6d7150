"""On-demand features computed outside the warehouse, by one evaluator for both paths: pandas and
python functions (offline after the point-in-time query, online after the read) and SQL
expressions online (DuckDB over the fetched values; offline they run inside the query,
``compiler/on_demand.py``). Inputs and outputs are Arrow arrays typed as declared, so offline and
online hand a function the same frame and turn its result into the same values."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlfeat.compiler.on_demand import OnDemandRequest, bind_expression, parse_expression
from sqlfeat.errors import DefinitionError, EntityDataFrameError, EntityRowError
from sqlfeat.types import exact_pandas

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from sqlfeat.compiler import RetrievalPlan

_LOCAL = threading.local()


def request_arrays(requests: Sequence[OnDemandRequest], columns: Mapping[str, Any], online: bool) -> dict[str, pa.Array]:
    """Each request field the views read, from ``columns`` (entity_df columns, or entity-row
    values), typed as declared; a missing one is an error naming it and its view."""
    import pyarrow as pa

    arrays: dict[str, pa.Array] = {}
    for request in requests:
        for field in request.request_fields:
            if field.name in arrays:
                continue
            if field.name not in columns:
                where = "the entity rows" if online else "entity_df"
                error = EntityRowError if online else EntityDataFrameError
                raise error(
                    f"on-demand feature view {request.name!r} needs request field {field.name!r}, which {where} lack; "
                    f"add a {field.name!r} {'value to every entity row' if online else 'column to entity_df'}"
                )
            values = columns[field.name]
            try:
                if isinstance(values, (pa.Array, pa.ChunkedArray)):
                    arrays[field.name] = values.cast(field.dtype.to_arrow())
                else:
                    arrays[field.name] = pa.array(values, type=field.dtype.to_arrow(), from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as err:
                error = EntityRowError if online else EntityDataFrameError
                raise error(f"request field {field.name!r} of on-demand feature view {request.name!r} is not "
                            f"{field.dtype.name}: {err}") from None  # fmt: skip
    return arrays


def compute(requests: Sequence[OnDemandRequest], pit: Mapping[str, pa.Array], request: Mapping[str, pa.Array],
            rows: int, expressions: bool) -> dict[str, pa.Array]:  # fmt: skip
    """The outputs of ``requests`` (functions, and SQL expressions when ``expressions``) from the
    views' columns (``pit``: PIT column -> values) and the request fields."""
    out: dict[str, pa.Array] = {}
    for odfv in requests:
        if odfv.odfv.mode == "sql":
            if expressions:
                out.update(_expressions(odfv, pit, request, rows))
        else:
            out.update(_function(odfv, pit, request, rows))
    return out


def _inputs(odfv: OnDemandRequest, pit: Mapping[str, pa.Array], request: Mapping[str, pa.Array]) -> dict[str, pa.Array]:
    typed = {i.name: i for i in odfv.typed_inputs}
    return {name: (pit[column] if typed[name].view is not None else request[name]) for name, column in odfv.inputs}


def _expressions(odfv: OnDemandRequest, pit, request, rows: int) -> dict[str, pa.Array]:
    import pyarrow as pa
    from sqlglot import exp

    from sqlfeat.warehouses import get_dialect

    duckdb_dialect = get_dialect("duckdb")
    inputs = _inputs(odfv, pit, request)
    names = {name: f"c{index}" for index, name in enumerate(inputs)}
    table = pa.table({names[n]: v for n, v in inputs.items()}) if inputs else pa.table({"c": pa.nulls(rows)})
    typed = {i.name: i for i in odfv.typed_inputs}

    def column(name: str) -> exp.Expression:
        return exp.cast(exp.column(exp.to_identifier(names[name], quoted=True)), duckdb_dialect.cast_type(typed[name].dtype))

    select = exp.select(*[
        exp.alias_(bind_expression(parse_expression(odfv.name, f), f.dtype, column, duckdb_dialect.cast_type), out, quoted=True)
        for f, out in zip(odfv.features, odfv.output_names)
    ]).from_("__sqlfeat_batch")  # fmt: skip
    connection = getattr(_LOCAL, "duckdb", None)
    if connection is None:
        import duckdb

        connection = _LOCAL.duckdb = duckdb.connect()
    connection.register("__sqlfeat_batch", table)
    try:
        result = connection.sql(duckdb_dialect.render(select, pretty=False)).to_arrow_table()
    finally:
        connection.unregister("__sqlfeat_batch")
    return {out: result.column(out).combine_chunks().cast(f.dtype.to_arrow()) for f, out in zip(odfv.features, odfv.output_names)}


def _function(odfv: OnDemandRequest, pit, request, rows: int) -> dict[str, pa.Array]:
    import pandas as pd
    import pyarrow as pa

    view = odfv.odfv
    where = f"on-demand feature view {view.name!r}"
    inputs = _inputs(odfv, pit, request)
    if view.mode == "pandas":
        frame = pd.DataFrame({n: exact_pandas(pa.chunked_array([v]) if isinstance(v, pa.Array) else v) for n, v in inputs.items()},
                             index=pd.RangeIndex(rows))  # fmt: skip
        result = view.function()(frame)
        if not isinstance(result, pd.DataFrame):
            raise DefinitionError(f"{where}: its function returned {type(result).__name__}, not a pandas DataFrame")
        produced = {c: result[c] for c in result.columns}
    else:
        lists = {n: v.to_pylist() for n, v in inputs.items()}
        if view.singleton:
            function = view.function()
            outputs = [function({n: lists[n][i] for n in lists}) for i in range(rows)]
            produced = {f.name: [o.get(f.name) if isinstance(o, Mapping) else None for o in outputs] for f in view.schema}
        else:
            result = view.function()(lists)
            if not isinstance(result, Mapping):
                raise DefinitionError(f"{where}: its function returned {type(result).__name__}, not a dict of lists")
            produced = dict(result)
    out = {}
    for field, output in zip(odfv.features, odfv.output_names):
        if field.name not in produced:
            raise DefinitionError(f"{where}: its function returned no {field.name!r}; it returned {sorted(map(str, produced))}")
        values = produced[field.name]
        if len(values) != rows:
            raise DefinitionError(f"{where}: its function returned {len(values)} values of {field.name!r} for {rows} rows")
        try:
            array = pa.array(values.astype(object).where(values.notna(), None) if isinstance(values, pd.Series) else list(values),
                             from_pandas=True)  # fmt: skip
            out[output] = array.cast(field.dtype.to_arrow()) if array.type != field.dtype.to_arrow() else array
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as err:
            raise DefinitionError(f"{where}: field {field.name!r} is declared {field.dtype.name}, but its function "
                                  f"returned values that do not convert: {err}") from None  # fmt: skip
    return out


def check_request_fields(plan: RetrievalPlan, columns: Sequence[str], where: str) -> None:
    """Every request field an on-demand view of ``plan`` reads is a spine column."""
    for request in plan.on_demand:
        for field in request.request_fields:
            if field.name not in columns:
                raise EntityDataFrameError(
                    f"on-demand feature view {request.name!r} needs request field {field.name!r}, which is not a column "
                    f"of {where} (its columns: {list(columns)}); add it"
                )


def upload_request_fields(plan: RetrievalPlan, df: pd.DataFrame, uploaded: Mapping[str, Any]) -> dict[str, pa.Array]:
    """The request fields SQL on-demand features read inside the query, typed as declared, to
    upload with an entity_df's keys."""
    sql = [r for r in plan.on_demand if r.odfv.mode == "sql"]
    return {k: v for k, v in request_arrays(sql, df.reset_index(drop=True), online=False).items() if k not in uploaded}
