"""Definitions checked against each other and against the warehouse's real columns.

Used by ``apply`` (before anything is written) and at retrieval time (a source whose schema
drifted since apply fails with the column named, not with a warehouse stack trace).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from sqlglot import exp

from sqlfeat.definitions import Entity, FeatureView
from sqlfeat.errors import DefinitionError, SchemaMismatchError, SqlfeatError
from sqlfeat.types import Family, FeatureType, column_family, is_timestamp_column
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


def check_view_source(
    view: FeatureView,
    entities: Mapping[str, Entity],
    store: OfflineStore,
    repo_path: Path,
    columns_cache: dict[str, dict[str, exp.DataType]] | None = None,
) -> None:
    """Every column the view reads exists in its source with a compatible type."""
    source = view.source
    columns = describe_source(view, store, repo_path, columns_cache)
    where = f"feature view {view.name!r}: source {source.name!r}"

    def column(name: str, role: str) -> exp.DataType:
        if name not in columns:
            raise SchemaMismatchError(
                f"{where} has no column {name!r} ({role}); its columns are {sorted(columns)}"
            )
        return columns[name]

    for role, name in (("timestamp_field", source.timestamp_field), ("created_timestamp_column", source.created_timestamp_column)):
        if name and not is_timestamp_column(column(name, role)):
            raise SchemaMismatchError(
                f"{where}: {role} {name!r} has type {columns[name].sql('duckdb')}, not a timestamp; "
                "convert it to a timestamp column"
            )
    declared: dict[str, FeatureType] = {f.name: f.dtype for f in view.schema}
    for entity_name in view.entities:
        entity = entities[entity_name]
        for key in entity.join_keys:
            source_type = column(source.source_column(key), f"join key of entity {entity_name!r}")
            expected = declared.get(key) or entity.key_dtype
            if expected is not None and column_family(source_type) is not expected.family:
                raise SchemaMismatchError(
                    f"{where}: join key {key!r} is {source_type.sql('duckdb')} in the source but "
                    f"entity {entity_name!r} declares {expected.name}"
                )
    join_keys = {k for name in view.entities for k in entities[name].join_keys}
    for aggregation in view.aggregations:
        _check_aggregation(view, aggregation, column(source.source_column(aggregation.column), f"aggregated by {aggregation.name!r}"), where)
    if view.aggregations:
        return
    for field in view.schema:
        if field.name in join_keys:
            continue
        source_column = source.source_column(field.name)
        actual = column(source_column, f"feature {field.name!r}")
        if not field.dtype.accepts_column(actual, store.dialect.FLOAT_IS_DOUBLE):
            raise SchemaMismatchError(
                f"{where}: feature {field.name!r} is declared {field.dtype.name} but source column "
                f"{source_column!r} is {actual.sql('duckdb')}; change the dtype in the schema or cast "
                "the column in the source"
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
