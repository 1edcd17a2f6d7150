"""Definitions checked against each other and against the warehouse's real columns.

Used by ``apply`` (before anything is written) and at retrieval time (a source whose schema
drifted since apply fails with the column named, not with a warehouse stack trace).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from sqlglot import exp

from sqlfeat.definitions import Entity, FeatureView
from sqlfeat.errors import DefinitionError, SchemaMismatchError, SqlfeatError
from sqlfeat.types import Family, FeatureType, column_family, dtype_of_column, is_timestamp_column
from sqlfeat.warehouses.base import OfflineStore


def check_names(objects: Iterable, kind: str) -> None:
    seen: dict[str, object] = {}
    for obj in objects:
        other = seen.get(obj.name)
        if other is not None and other is not obj and other != obj:
            raise DefinitionError(f"two different {kind} are named {obj.name!r}; give each a unique name")
        seen[obj.name] = obj


def check_view_entities(views: Iterable[FeatureView], entities: Mapping[str, Entity]) -> None:
    for view in views:
        for name in view.entities:
            if name not in entities:
                raise DefinitionError(
                    f"feature view {view.name!r} uses entity {name!r}, which is not defined; "
                    f"defined entities: {sorted(entities)}"
                )


def describe_source(
    view: FeatureView, store: OfflineStore, repo_path: Path, cache: dict[str, dict[str, exp.DataType]] | None = None
) -> dict[str, exp.DataType]:
    """The columns of the view's source as the warehouse sees them (cached per source)."""
    cache = cache if cache is not None else {}
    source = view.source
    if source.name not in cache:
        relation = store.dialect.source_relation(source, repo_path)
        try:
            cache[source.name] = store.describe(relation)
        except SqlfeatError as err:
            raise SchemaMismatchError(
                f"feature view {view.name!r}: source {source.name!r} cannot be read: {err}"
            ) from err
    return cache[source.name]


class DtypeNotice(UserWarning):
    """A declared dtype is not its source column's but converts to it (Int32 over a BIGINT column,
    Float32 over DOUBLE, a String join key over integers): the SQL casts the values. ``apply``
    warns with it; ``strict_dtypes: true`` (``--strict``) makes it an error."""


def check_view_source(
    view: FeatureView,
    entities: Mapping[str, Entity],
    store: OfflineStore,
    repo_path: Path,
    columns_cache: dict[str, dict[str, exp.DataType]] | None = None,
) -> list[str]:
    """Every column the view reads exists in its source with a type its declared dtype reads.

    Returns one note per declared dtype that differs from its column but converts (a
    ``types.CONVERSIONS`` entry: the SQL casts it); what cannot convert raises."""
    source = view.source
    columns = describe_source(view, store, repo_path, columns_cache)
    where = f"feature view {view.name!r}: source {source.name!r}"
    notes: list[str] = []

    def column(name: str, role: str) -> exp.DataType:
        if name not in columns:
            raise SchemaMismatchError(
                f"{where} has no column {name!r} ({role}); its columns are {sorted(columns)}"
            )
        return columns[name]

    stamps = (("timestamp_field", source.timestamp_field, source.event_time_column),
              ("created_timestamp_column", source.created_timestamp_column, source.created_time_column))  # fmt: skip
    for role, given, name in stamps:
        if name and not is_timestamp_column(column(name, role)):
            mapped = f" (source column {name!r})" if name != given else ""
            raise SchemaMismatchError(
                f"{where}: {role} {given!r}{mapped} has type {columns[name].sql('duckdb')}, not a timestamp; "
                "convert it to a timestamp column"
            )
    declared: dict[str, FeatureType] = {f.name: f.dtype for f in view.schema}
    for entity_name in view.entities:
        entity = entities[entity_name]
        for key in entity.join_keys:
            source_column = source.source_column(key)
            source_type = column(source_column, f"join key of entity {entity_name!r}")
            expected = declared.get(key) or entity.key_dtype
            if expected is None or column_family(source_type) is expected.family:
                continue  # keys of one family compare as they are, whatever their width
            note = expected.conversion(source_type) if expected.casts_key else None
            if note is None:
                raise SchemaMismatchError(
                    f"{where}: join key {key!r} is {source_type.sql('duckdb')} in the source but "
                    f"entity {entity_name!r} declares {expected.name}; declare the column's type or cast it in the source"
                )
            notes.append(
                f"{where}: join key {key!r} is declared {expected.name} but source column {source_column!r} is "
                f"{_named(source_type)}: {note}"
            )
    join_keys = {k for name in view.entities for k in entities[name].join_keys}
    for aggregation in view.aggregations:
        _check_aggregation(view, aggregation, column(source.source_column(aggregation.column), f"aggregated by {aggregation.name!r}"), where)
    if view.aggregations:
        return notes
    for field in view.schema:
        if field.name in join_keys:
            continue
        source_column = source.source_column(field.name)
        actual = column(source_column, f"feature {field.name!r}")
        unsupported = store.dialect.unsupported(field.dtype)
        if unsupported is not None:
            raise SchemaMismatchError(f"{where}: feature {field.name!r} is declared {field.dtype.name}, but {unsupported}")
        if field.dtype.accepts_column(actual, store.dialect.FLOAT_IS_DOUBLE):
            continue
        said = f"{where}: feature {field.name!r} is declared {field.dtype.name} but source column {source_column!r} is {_named(actual)}"
        note = field.dtype.conversion(actual, store.dialect.FLOAT_IS_DOUBLE)
        if note is None:
            raise SchemaMismatchError(f"{said}, which does not convert to it; change the dtype in the schema or cast the column in the source")
        notes.append(f"{said}: {note}")
    return notes


def _named(column_type: exp.DataType) -> str:
    """``BIGINT (Int64)``: a column type and the dtype that reads it exactly, if any."""
    own = dtype_of_column(column_type)
    return column_type.sql("duckdb") + (f" ({own.name})" if own is not None else "")


def strict_error(notes: list[str]) -> SchemaMismatchError:
    """The error ``strict_dtypes`` (``--strict``) makes of dtype notes."""
    return SchemaMismatchError(
        "; ".join(notes) + ". strict_dtypes is on: declare each column's own dtype (in parentheses), or cast the "
        "column in the source (without strict_dtypes the conversion is accepted with a warning)"
    )


_NUMERIC = frozenset({Family.INTEGER, Family.FLOAT})
_ORDERED = _NUMERIC | {Family.STRING, Family.TIMESTAMP}


def _check_aggregation(view: FeatureView, aggregation, column_type: exp.DataType, where: str) -> None:
    family = column_family(column_type)
    needs = {"sum": _NUMERIC, "mean": _NUMERIC, "stddev": _NUMERIC, "min": _ORDERED, "max": _ORDERED}
    allowed = needs.get(aggregation.function)
    if allowed is not None and family not in allowed:
        raise SchemaMismatchError(
            f"{where}: aggregation {aggregation.name!r} takes {aggregation.function} of column "
            f"{aggregation.column!r}, which is {column_type.sql('duckdb')}; {aggregation.function} needs a "
            f"{' or '.join(sorted(f.value for f in allowed))} column"
        )


def resolve_aggregations(view: FeatureView, columns: dict[str, exp.DataType]) -> FeatureView:
    """The view with every aggregation's result dtype inferred from its source column."""
    from dataclasses import replace

    from sqlfeat.types import dtype_of_column

    if not view.aggregations:
        return view
    resolved = []
    for aggregation in view.aggregations:
        column_type = columns.get(view.source.source_column(aggregation.column))
        column_dtype = dtype_of_column(column_type) if column_type is not None else None
        if column_dtype is None and aggregation.function not in ("count", "count_distinct", "mean", "stddev"):
            raise SchemaMismatchError(
                f"feature view {view.name!r}: aggregation {aggregation.name!r} cannot type column "
                f"{aggregation.column!r} ({column_type.sql('duckdb') if column_type is not None else 'missing'})"
            )
        resolved.append(replace(aggregation, dtype=aggregation.result_dtype(column_dtype)))
    spec = view.to_spec()
    spec["aggregations"] = [a.to_spec() for a in resolved]
    return FeatureView.from_spec(spec)


def typed_like_registered(view: FeatureView, registered: FeatureView | None) -> FeatureView | None:
    """Without a warehouse: ``view`` with its aggregations' result dtypes as the registry inferred
    them at the last apply, when those aggregations are registered unchanged; else ``None``."""
    if registered is None:
        return None

    def key(aggregation) -> tuple:
        return aggregation.column, aggregation.function, aggregation.time_window, aggregation.name

    typed = {key(a): a for a in registered.aggregations}
    if not all(key(a) in typed for a in view.aggregations):
        return None
    spec = view.to_spec()
    spec["aggregations"] = [typed[key(a)].to_spec() for a in view.aggregations]
    return FeatureView.from_spec(spec)


def lists_no_features(view: FeatureView, entities: Mapping[str, Entity]) -> bool:
    """A lookup view whose schema declares no feature (at most its join keys' types): its
    features are inferred from its source at apply, as Feast does."""
    keys = {k for name in view.entities if name in entities for k in entities[name].join_keys}
    return not view.aggregations and all(f.name in keys for f in view.schema)


# Feast leaves such columns out of inferred schemas: double underscores mark internal columns.
_INTERNAL_COLUMN = re.compile(r"^__|__$")


def infer_schema(
    view: FeatureView, entities: Mapping[str, Entity], columns: dict[str, exp.DataType]
) -> tuple[FeatureView, list[str]]:
    """The view with a feature per source column that is not a join key, a timestamp or the
    partition column (named through ``field_mapping``, typed by ``types.dtype_of_column``), and
    a note per column left out because no dtype reads it. Join-key fields it declared are kept."""
    from sqlfeat.definitions import Field

    source = view.source
    keys = {k for name in view.entities if name in entities for k in entities[name].join_keys}
    skipped = {source.event_time_column, source.created_time_column, getattr(source, "partition_column", None)}
    fields, notes = list(view.schema), []
    for column, column_type in columns.items():
        name = source.field_mapping.get(column, column)
        if column in skipped or name in keys or _INTERNAL_COLUMN.search(column):
            continue
        dtype = dtype_of_column(column_type)
        left_out = f"feature view {view.name!r}: source column {column!r} ({column_type.sql('duckdb')}) is not inferred as a feature"
        if dtype is None:
            notes.append(f"{left_out}: no sqlfeat dtype reads it; declare the schema to choose the features")
            continue
        try:
            fields.append(Field(name, dtype))
        except DefinitionError as err:  # a column name that is no identifier
            notes.append(f"{left_out}: {err}; map it to a name with field_mapping")
    if len(fields) == len(view.schema):
        raise DefinitionError(
            f"feature view {view.name!r} lists no features and its source {source.name!r} has no other column to "
            "infer them from; declare schema=[Field(...), ...]"
        )
    spec = view.to_spec()
    spec["schema"] = [f.to_spec() for f in fields]
    return FeatureView.from_spec(spec), notes


def check_on_demand(odfvs: list, views: dict[str, FeatureView], entities: dict[str, Entity]) -> None:
    """Each on-demand view reads defined views and features, and its expressions or function
    read only its sources' features and request fields (an unknown name is an error naming it);
    no on-demand view shares a feature view's name."""
    import ast

    from sqlfeat.compiler.on_demand import check_names, parse_expression, referenced, source_inputs

    for odfv in odfvs:
        if odfv.name in views:
            raise DefinitionError(f"on-demand feature view {odfv.name!r} has the name of a feature view; rename one")
        inputs, _ = source_inputs(odfv, views, entities)
        if odfv.mode == "sql":
            for field in odfv.schema:
                check_names(odfv.name, referenced(parse_expression(odfv.name, field)), inputs, f"the expression of {field.name!r}")
            continue
        odfv.function()  # re-created from its source text now, not at the first retrieval
        parameter = odfv.udf_source.parameter()
        used = [
            node.slice.value for node in ast.walk(ast.parse(odfv.udf_source.source))
            if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and isinstance(node.value, ast.Name)
            and node.value.id == parameter and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str)
        ]  # fmt: skip
        check_names(odfv.name, used, inputs, f"its function {odfv.udf_source.name!r}")
