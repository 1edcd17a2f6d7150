"""``sqlfeat dbt export``: the repo's compiled SQL as a dbt package dbt users install with
``packages.yml`` (``local:`` or ``git:``) and build with ``dbt build``.

The package, written into an output folder sqlfeat owns (``sqlfeat/files.py``):

* ``dbt_project.yml``;
* ``models/sources.yml``: a dbt source per feature source table (freshness when a view declares
  ``freshness_warn_after`` / ``freshness_error_after``), with the contract's tests: join keys and
  event time not null, one row per keys and event time (and created time), no event time in the
  future;
* ``models/<view>.sql``: each entity's latest values as of now (the materialization query,
  ``compiler/latest.py``), tested for one row per keys;
* ``models/<training set>.sql``: the point-in-time query of a feature list or service over a
  spine model (``{{ ref('training_rows') }}``): the SQL ``sqlfeat compile`` prints;
* ``macros/sqlfeat_tests.sql``: the generic tests above, so the package needs no other package.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from sqlglot import exp

from sqlfeat.compiler import Spine, compile_point_in_time, plan_view
from sqlfeat.compiler.latest import compile_latest_values, latest_columns
from sqlfeat.compiler.plan import CREATED_TS, EVENT_TS
from sqlfeat.compiler.strategy import choose_strategies
from sqlfeat.dbt.relations import SPINE_PLACEHOLDER, DbtSource, dbt_source, swap_relations
from sqlfeat.definitions.spec import check_name
from sqlfeat.errors import UsageError
from sqlfeat.files import OutputFolder
from sqlfeat.warehouses import get_dialect

if TYPE_CHECKING:
    from sqlfeat.store import FeatureStore
    from sqlfeat.warehouses.base import Dialect

OWNER = "dbt export"
HEADER = "-- Written by `sqlfeat dbt export` from the feature repo's definitions: regenerate it, do not edit it.\n"
# compile_latest_values takes an instant; the exported model reads "now" instead of this one.
_AS_OF = datetime(2001, 2, 3, 4, 5, 6, 789012, tzinfo=timezone.utc)

MACROS = """\
{# Written by `sqlfeat dbt export`: the generic tests of sqlfeat's contract. #}

{% test sqlfeat_not_in_future(model, column_name) %}
select {{ column_name }} from {{ model }} where {{ column_name }} > {{ dbt.current_timestamp() }}
{% endtest %}

{% test sqlfeat_unique_combination(model, columns) %}
select {% for c in columns %}{{ adapter.quote(c) }}, {% endfor %}count(*) as sqlfeat_rows
from {{ model }}
group by {% for c in columns %}{{ adapter.quote(c) }}{% if not loop.last %}, {% endif %}{% endfor %}
having count(*) > 1
{% endtest %}
"""


@dataclass(frozen=True)
class TrainingSet:
    """A training-set model: ``features`` (``view:feature``) or ``feature_service``, over the rows
    of the dbt model ``spine_model`` (join keys plus ``timestamp_column``)."""

    name: str
    features: tuple[str, ...] = ()
    feature_service: str | None = None
    spine_model: str = "training_rows"
    timestamp_column: str = "event_timestamp"
    full_feature_names: bool = False


def export_package(
    store: FeatureStore, out: Path | str, package: str = "sqlfeat_features",
    training_sets: Sequence[TrainingSet] = (), dialect: str | None = None, from_definitions: bool | None = None,
) -> list[str]:  # fmt: skip
    """Write the dbt package into ``out``; return the files written (relative to ``out``)."""
    from sqlfeat.historical import feature_service, plan_features

    check_name("dbt package", package)
    target = get_dialect(dialect or store.config.offline_type)
    definitions = store.definitions(from_definitions)
    repo = store.repo_path
    views = sorted(definitions.views)
    files: dict[str, str] = {}
    sources: dict[str, DbtSource] = {}
    source_yaml: dict[str, dict] = {}
    model_yaml: list[dict] = []
    for name in views:
        request = plan_view(name, definitions.views, definitions.entities)
        source = dbt_source(request.view.source, target, repo)
        sources[source.name] = source
        _add_source(source_yaml, source, request, target)
        tree = _as_of_now(compile_latest_values(request, target, repo, _AS_OF), target)
        files[f"models/{name}.sql"] = _model("view", swap_relations(tree, sources.values()), target)
        model_yaml.append(_latest_model(name, request))
    for training in training_sets:
        check_name("training set", training.name)
        check_name("--spine-model", training.spine_model)
        if training.name in views:
            raise UsageError(f"training set {training.name!r} has the name of a feature view's model; pick another name")
        wanted = feature_service(definitions, training.feature_service) if training.feature_service else list(training.features)
        if not wanted:
            raise UsageError(f"training set {training.name!r} needs features (-f view:feature) or a feature service")
        plan = plan_features(definitions, wanted, training.full_feature_names)
        if plan.functions:
            raise UsageError(f"on-demand feature view {plan.functions[0].name!r} runs a Python function, which dbt "
                             "cannot run; leave it out of the training set")  # fmt: skip
        choices = choose_strategies(plan, target, "auto")
        tree = compile_point_in_time(plan, Spine(SPINE_PLACEHOLDER, training.timestamp_column), target, repo, choices=choices)
        tree = swap_relations(tree, sources.values(), training.spine_model)
        files[f"models/{training.name}.sql"] = _model("table", tree, target)
        model_yaml.append({"name": training.name, "description": f"sqlfeat training set over {training.spine_model}"})
    files["dbt_project.yml"] = _yaml({
        "name": package, "version": "1.0.0", "config-version": 2, "require-dbt-version": ">=1.5.0",
        "model-paths": ["models"], "macro-paths": ["macros"],
    })  # fmt: skip
    files["models/sources.yml"] = _yaml({"version": 2, "sources": list(source_yaml.values())})
    files["models/schema.yml"] = _yaml({"version": 2, "models": model_yaml})
    files["macros/sqlfeat_tests.sql"] = MACROS
    with OutputFolder.open(out, OWNER, "--out") as folder:
        folder.claim(files)
        for rel, text in files.items():
            folder.write_text(rel, text)
        folder.prune()
    return sorted(files)


def _as_of_now(tree: exp.Expression, dialect: Dialect) -> exp.Expression:
    """The latest-values query as of the moment dbt runs it."""
    marker = dialect.instant_literal(_AS_OF)
    for node in list(tree.find_all(type(marker))):
        if node == marker:
            node.replace(exp.cast(exp.CurrentTimestamp(), dialect.instant_type()))
    return tree


def _model(materialized: str, tree: exp.Expression, dialect: Dialect) -> str:
    return f"{HEADER}{{{{ config(materialized='{materialized}') }}}}\n\n{dialect.render(tree)}\n"


def _yaml(data: object) -> str:
    return "# Written by `sqlfeat dbt export`: regenerate it, do not edit it.\n" + yaml.safe_dump(data, sort_keys=False)


def _minutes(delta: timedelta) -> dict:
    return {"count": max(1, int(delta.total_seconds() // 60)), "period": "minute"}


def _add_source(found: dict[str, dict], source: DbtSource, request, dialect: Dialect) -> None:
    view, data = request.view, request.view.source
    keys = [request.source_key(k) for k in request.join_keys]
    event = data.event_time_column
    unique = [*keys, event, *([data.created_time_column] if data.created_time_column else [])]
    entry = found.get(source.name)
    if entry is None:
        columns = [{"name": k, "quote": True, "tests": ["not_null"]} for k in keys]
        columns.append({"name": event, "quote": True, "tests": ["not_null", "sqlfeat_not_in_future"]})
        table = {
            "name": source.name, "identifier": source.identifier, "description": f"source of feature view {view.name}",
            "quoting": {"database": True, "schema": True, "identifier": True},
            "tests": [{"sqlfeat_unique_combination": {"columns": unique}}], "columns": columns,
        }  # fmt: skip
        if source.external:  # dbt-duckdb reads it through this expression (braces escaped for its format_map)
            table["meta"] = {"external_location": source.external.replace("{", "{{").replace("}", "}}")}
        entry = {"name": source.name, "tables": [table]}
        if source.schema:
            entry["schema"] = source.schema
        if source.database:
            entry["database"] = source.database
        found[source.name] = entry
    freshness = {}
    if view.freshness_warn_after:
        freshness["warn_after"] = _minutes(view.freshness_warn_after)
    if view.freshness_error_after:
        freshness["error_after"] = _minutes(view.freshness_error_after)
    if freshness:
        table = entry["tables"][0]
        table["loaded_at_field"] = dialect.render(exp.column(exp.to_identifier(event, quoted=True)), pretty=False)
        for level, limit in freshness.items():  # the strictest of the views reading this source
            held = table.setdefault("freshness", {}).get(level)
            if held is None or held["count"] > limit["count"]:
                table["freshness"][level] = limit


def _latest_model(name: str, request) -> dict:
    created = CREATED_TS in latest_columns(request)
    columns = [{"name": k, "quote": True, "tests": ["not_null"]} for k in request.join_keys]
    columns.append({"name": EVENT_TS, "quote": True, "tests": ["not_null", "sqlfeat_not_in_future"]})
    return {
        "name": name, "description": f"each entity's latest values of feature view {name}"
        + (" (newest event time, then created time)" if created else ""),
        "tests": [{"sqlfeat_unique_combination": {"columns": list(request.join_keys)}}], "columns": columns,
    }  # fmt: skip
