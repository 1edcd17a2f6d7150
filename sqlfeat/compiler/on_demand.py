"""On-demand feature views in a retrieval: which source features and request fields each reads
(``plan_on_demand``), and their SQL expressions, parsed once and bound to columns for any
dialect (``bind_expression``): inside the point-in-time query offline, over the fetched values
(DuckDB) online. One binding, so both paths compute the same thing:

- ``/`` is true division on every engine: both operands cast to DOUBLE, and a zero divisor gives
  null (``NULLIF(divisor, 0)``), where PostgreSQL, BigQuery and Snowflake would fail and
  Snowflake would divide NUMBERs to a few decimals;
- every source feature and request field is cast to its declared dtype, and the result to the
  field's dtype.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from difflib import get_close_matches

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from sqlfeat.compiler.plan import RetrievalPlan, plan_retrieval, split_reference
from sqlfeat.definitions import Entity, FeatureService, FeatureView, FeatureViewProjection, Field
from sqlfeat.definitions.on_demand import OnDemandFeatureView
from sqlfeat.errors import DefinitionError, FeatureReferenceError
from sqlfeat.types import FeatureType

# Nodes a scalar expression may not hold: it is evaluated per row, with no table of its own.
_REFUSED = (exp.Query, exp.Subquery, exp.AggFunc, exp.Window, exp.Table, exp.Star, exp.Placeholder, exp.Parameter)


@dataclass(frozen=True)
class Input:
    """A name an on-demand view's code reads: a source feature (``view`` set) or a request field."""

    name: str
    dtype: FeatureType
    view: str | None = None
    feature: str | None = None


def source_inputs(odfv: OnDemandFeatureView, views: Mapping[str, FeatureView],
                  entities: Mapping[str, Entity]) -> tuple[dict[str, Input], tuple[FeatureViewProjection, ...]]:  # fmt: skip
    """Every name ``odfv`` may read: ``view__feature`` for each source feature, its short name when
    no other source has it, and each request field; and its source projections with their
    features listed. An unknown view or feature is an error naming it."""
    where = f"on-demand feature view {odfv.name!r}"
    projections, found = [], []
    for projection in odfv.sources:
        view = views.get(projection.name)
        if view is None:
            raise DefinitionError(f"{where} reads feature view {projection.name!r}, which is not defined; "
                                  f"defined views: {sorted(views)}")  # fmt: skip
        keys = {k for e in view.entities if e in entities for k in entities[e].join_keys}
        available = {f.name: f for f in view.features if f.name not in keys}
        for feature in projection.features:
            if feature not in available:
                raise DefinitionError(f"{where} reads feature {feature!r} of view {projection.name!r}, which has "
                                      f"{sorted(available)}")  # fmt: skip
        names = projection.features or tuple(available)
        projections.append(replace(projection, features=tuple(names)))
        found += [(projection.name_to_use(), available[n]) for n in names]
    inputs: dict[str, Input] = {}
    short = [f.name for _, f in found]
    for use, f in found:
        inputs[f"{use}__{f.name}"] = Input(f"{use}__{f.name}", f.dtype, use, f.name)
        if short.count(f.name) == 1:
            inputs[f.name] = Input(f.name, f.dtype, use, f.name)
    for f in odfv.request_fields:
        if f.name in inputs:
            raise DefinitionError(f"{where}: request field {f.name!r} has the name of a source feature; rename one")
        inputs[f.name] = Input(f.name, f.dtype)
    return inputs, tuple(projections)


def parse_expression(odfv: str, field: Field) -> exp.Expression:
    """A field's expression as a scalar sqlglot tree (sqlglot's neutral dialect), or an error
    naming the expression and what it may not hold."""
    where = f"on-demand feature view {odfv!r}, field {field.name!r}: expression {field.expression!r}"
    try:
        tree = sqlglot.parse_one(field.expression or "")
    except ParseError as err:
        raise DefinitionError(f"{where} is not valid SQL: {str(err).splitlines()[0]}") from None
    for node in tree.walk():
        if isinstance(node, _REFUSED):
            kind = type(node).__name__.lower()
            raise DefinitionError(f"{where} holds a {kind}; an on-demand expression is scalar: no subqueries, "
                                  "aggregates, window functions or table references")  # fmt: skip
        if isinstance(node, exp.Column) and node.table:
            raise DefinitionError(f"{where} names {node.sql()!r}; write a feature as `feature` or `view__feature`")
    if isinstance(tree, (exp.Alias,)):
        raise DefinitionError(f"{where} has an alias; the field's name is its name")
    return tree


def referenced(tree: exp.Expression) -> list[str]:
    return list(dict.fromkeys(c.name for c in tree.find_all(exp.Column)))


def check_names(odfv: str, used: Sequence[str], inputs: Mapping[str, Input], what: str) -> None:
    for name in used:
        if name not in inputs:
            close = get_close_matches(name, list(inputs), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise DefinitionError(
                f"on-demand feature view {odfv!r}: {what} reads {name!r}, which is neither a feature of its sources "
                f"nor a request field; it can read {sorted(inputs)}.{hint}"
            )


def bind_expression(tree: exp.Expression, dtype: FeatureType, column: Callable[[str], exp.Expression],
                    cast_type: Callable[[FeatureType], exp.DataType]) -> exp.Expression:  # fmt: skip
    """``tree`` with each name replaced by ``column(name)`` (already cast by the caller), each
    division made true division with a null for a zero divisor, the result cast to ``dtype``."""
    double = exp.DataType.build("double")
    tree = tree.copy()
    for division in list(tree.find_all(exp.Div)):
        divisor = exp.Nullif(this=exp.cast(division.expression, double), expression=exp.Literal.number(0))
        division.set("this", exp.cast(division.this, double))
        division.set("expression", divisor)
    for name in list(tree.find_all(exp.Column)):
        if name is tree:
            return exp.cast(column(name.name), cast_type(dtype))
        name.replace(column(name.name))
    return exp.cast(tree, cast_type(dtype))


@dataclass(frozen=True)
class OnDemandRequest:
    """One on-demand view of a retrieval: the fields asked, their output names, and for each name
    its code reads the PIT column holding it (a request field: the spine column of that name)."""

    odfv: OnDemandFeatureView
    features: tuple[Field, ...]
    output_names: tuple[str, ...]
    inputs: tuple[tuple[str, str], ...]
    typed_inputs: tuple[Input, ...]

    @property
    def request_fields(self) -> tuple[Field, ...]:
        return self.odfv.request_fields

    @property
    def name(self) -> str:
        return self.odfv.name


def plan_features(
    references: Sequence[str] | FeatureService, views: Mapping[str, FeatureView], entities: Mapping[str, Entity],
    on_demand: Mapping[str, OnDemandFeatureView], full_feature_names: bool = False,
) -> RetrievalPlan:  # fmt: skip
    """``plan_retrieval`` with on-demand views: their references (or a service's projections)
    taken out, their source features joined as hidden inputs, their outputs after the views'."""
    if isinstance(references, str):
        references = [references]
    wanted: dict[str, list[str] | None] = {}
    if isinstance(references, FeatureService):
        projections = [p for p in references.feature_view_projections if p.name not in on_demand]
        for p in references.feature_view_projections:
            if p.name in on_demand:
                wanted[p.name] = list(p.features) or None
        base: Sequence[str] | FeatureService = replace_service(references, projections)
    else:
        base = []
        for reference in references:
            view, feature = split_reference(reference)
            if view in on_demand and view not in views:
                asked = wanted.setdefault(view, [])
                if asked is not None and feature not in asked:
                    asked.append(feature)
            else:
                base.append(reference)
    if not wanted:
        return plan_retrieval(references, views, entities, full_feature_names)
    inputs: list[FeatureViewProjection] = []
    resolved = []
    for name, features in wanted.items():
        odfv = on_demand[name]
        names, projections = source_inputs(odfv, views, entities)
        by_name = {f.name: f for f in odfv.schema}
        for feature in features or []:
            if feature not in by_name:
                raise FeatureReferenceError(f"feature {feature!r} is not in on-demand feature view {name!r}; it has {sorted(by_name)}")
        fields = tuple(by_name[f] for f in features) if features else odfv.schema
        inputs += projections
        resolved.append((odfv, fields, names))
    plan = plan_retrieval(base, views, entities, full_feature_names, inputs)
    columns = {(r.name, f.name): out for r in plan.views for f, out in zip(r.features, r.output_names)}
    requests = []
    for odfv, fields, names in resolved:
        pit = tuple((n, columns[(i.view, i.feature)] if i.view else n) for n, i in names.items())
        outputs = tuple(f"{odfv.name}__{f.name}" if full_feature_names else f.name for f in fields)
        requests.append(OnDemandRequest(odfv, fields, outputs, pit, tuple(names.values())))
    plan = replace(plan, on_demand=tuple(requests))
    _check_outputs(plan)
    return plan


def replace_service(service: FeatureService, projections: list[FeatureViewProjection]) -> Sequence[str] | FeatureService:
    """A service with only its feature view projections (its on-demand views taken out)."""
    if not projections:
        return []
    return FeatureService(name=service.name, features=list(projections), tags=service.tags,
                          description=service.description, owner=service.owner)  # fmt: skip


def _check_outputs(plan: RetrievalPlan) -> None:
    seen: set[str] = set(plan.join_keys)
    for name in plan.output_names:
        if name in seen:
            raise FeatureReferenceError(
                f"feature name {name!r} is requested twice (or is a join key); pass full_feature_names=True"
            )
        seen.add(name)


def expression_columns(
    plan: RetrievalPlan, features: Mapping[str, exp.Expression], request_column: Callable[[str], exp.Expression],
    cast_type: Callable[[FeatureType], exp.DataType],
) -> list[exp.Expression]:  # fmt: skip
    """The SQL on-demand features of ``plan`` as aliased expressions over the query's feature
    expressions (``features``: PIT column -> expression) and request fields."""
    out: list[exp.Expression] = []
    for request in plan.on_demand:
        if request.odfv.mode != "sql":
            continue
        columns, typed = dict(request.inputs), {i.name: i for i in request.typed_inputs}

        def column(name: str, columns=columns, typed=typed) -> exp.Expression:
            if typed[name].view is not None:  # a source feature, already cast to its dtype
                return features[columns[name]].copy()
            return exp.cast(request_column(name), cast_type(typed[name].dtype))

        for field, output in zip(request.features, request.output_names):
            tree = bind_expression(parse_expression(request.name, field), field.dtype, column, cast_type)
            out.append(exp.alias_(tree, output, quoted=True))
    return out
