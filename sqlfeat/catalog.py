"""The feature catalog: ``sqlfeat docs generate`` writes a static HTML site (no CDN, no server
needed) of every entity, source, feature view and feature, and ``sqlfeat docs serve`` serves it.

Each view page shows its features (dtype, TTL or window, owner, tags), its lineage (entities and
source -> view -> features -> the feature services serving them and the saved datasets built from
them), its compiled SQL per dialect (highlighted here with pygments), the freshness and other
results of the last ``sqlfeat check`` (``target/run_results.json``) and its last materialization
(from the registry). Each feature service has a page: its features per view (and projection) and
the saved datasets built from it. Saved datasets (from the registry) are listed with their SQL.

Definitions come from the repo's files (what the branch says), not from the registry, so the
catalog of a pull request shows the pull request's features; nothing connects to a warehouse.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlfeat.errors import SqlfeatError
from sqlfeat.files import OutputFolder

if TYPE_CHECKING:
    from sqlfeat.definitions import Entity, FeatureView
    from sqlfeat.store import FeatureStore

STATIC = ("catalog.css", "catalog.js")


@dataclass
class ServicePage:
    """A feature service: per projection its view, the name it is used under, its join-key map
    and the features it serves (``dtype`` from the view)."""

    service: Any
    projections: list[dict[str, Any]]
    datasets: list[Any] = field(default_factory=list)
    location: str | None = None

    @property
    def views(self) -> list[str]:
        return list(dict.fromkeys(p["view"] for p in self.projections))


def _service_page(service: Any, views: dict[str, Any], entities: dict[str, Entity], on_demand: dict[str, Any]) -> ServicePage:
    projections = []
    for projection in service.feature_view_projections:
        view, odfv = views.get(projection.name), on_demand.get(projection.name)
        features = _features(view, entities) if view is not None else []
        if view is None and odfv is not None:
            features = [{"name": f.name, "dtype": f.dtype.name} for f in odfv.schema]
        chosen = [f for f in features if not projection.features or f["name"] in projection.features]
        projections.append({
            "view": projection.name, "name": projection.name_to_use(), "join_key_map": projection.join_key_map,
            "features": chosen, "defined": view is not None or odfv is not None,
            "href": f"{'on_demand' if view is None and odfv is not None else 'views'}/{projection.name}.html",
        })  # fmt: skip
    return ServicePage(service, projections)


@dataclass
class ViewPage:
    view: FeatureView
    features: list[dict[str, Any]]
    sql: list[tuple[str, list[tuple[str, str]]]]  # (dialect, [(label, highlighted html)])
    unreadable: list[str]
    checks: list[dict[str, Any]] = field(default_factory=list)
    freshness: dict[str, Any] | None = None
    materialization: dict[str, Any] | None = None
    registered: dict[str, Any] | None = None
    location: str | None = None
    services: list[str] = field(default_factory=list)
    datasets: list[Any] = field(default_factory=list)
    dbt_model: Any = None  # the dbt model its source reads (with --manifest)


def _features(view: FeatureView, entities: dict[str, Entity]) -> list[dict[str, Any]]:
    from sqlfeat.checks.data import human_duration

    keys = {k for name in view.entities if name in entities for k in entities[name].join_keys}
    if view.aggregations:
        return [{
            "name": a.name, "dtype": a.dtype.name if a.dtype else "inferred at apply", "description": "",
            "tags": {}, "computed": f"{a.function}({a.column}) over {human_duration(a.time_window)}",
        } for a in view.aggregations]  # fmt: skip
    return [
        {"name": f.name, "dtype": f.dtype.name, "description": f.description, "tags": f.tags, "computed": ""}
        for f in view.schema if f.name not in keys
    ]


def _highlight(sql: str) -> str:
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import SqlLexer

    return highlight(sql + ";", SqlLexer(), HtmlFormatter(cssclass="highlight"))


def on_demand_pages(odfvs: list, places: dict, repo_path: Path) -> list[dict[str, Any]]:
    """A page per on-demand view: its sources, fields, and its code highlighted (the function's
    source text as registered, or each field's SQL expression)."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer, SqlLexer

    pages = []
    for odfv in sorted(odfvs, key=lambda v: v.name):
        if odfv.udf_source is not None:
            code = highlight(odfv.udf_source.source, PythonLexer(), HtmlFormatter(cssclass="highlight"))
        else:
            code = highlight("\n".join(f"{f.expression}  AS {f.name}" for f in odfv.schema), SqlLexer(),
                             HtmlFormatter(cssclass="highlight"))  # fmt: skip
        where = places.get(odfv.name)
        pages.append({"odfv": odfv, "code": code, "location": f"{where[0].relative_to(repo_path)}:{where[1]}" if where else None})
    return pages


def _compiled(view: FeatureView, entities: dict[str, Entity], dialects: list) -> tuple[list, list[str]]:
    from sqlfeat.checks.compile import compile_view

    compiled, unreadable = [], []
    for dialect in dialects:
        if view.source.kind not in dialect.SOURCE_KINDS:
            unreadable.append(dialect.NAME)
            continue
        try:
            result = compile_view(view, entities, dialect)
        except (SqlfeatError, ValueError) as err:
            compiled.append((dialect.NAME, [("does not compile", f'<pre class="error">{_escape(str(err))}</pre>')]))
            continue
        compiled.append((dialect.NAME, [(s.label, _highlight(s.sql)) for s in result.statements]))
    return compiled, unreadable


def _escape(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


def build_pages(store: FeatureStore, dialect_names: tuple[str, ...] = ()) -> tuple[list[ViewPage], dict[str, Any]]:
    """A page per view from the repo's definitions, plus the facts shared by every page."""
    from sqlfeat.checks import definitions
    from sqlfeat.checks.compile import resolve_dialects
    from sqlfeat.checks.report import read_run_results

    contents, loaded = definitions.load(store)
    if contents is None:
        raise SqlfeatError(f"the catalog needs definitions that load: {loaded.message}")
    checked, _ = definitions.validate(contents)
    definitions.resolve_from_registry(checked, store)
    entities = {e.name: e for e in contents.entities}
    dialects = resolve_dialects(store.config.offline_type, dialect_names)
    last_run = read_run_results(store.repo_path / "target" / "run_results.json")
    registry = store.registry if store.registry.exists else None
    places = definitions.locate_definitions(store.repo_path)
    pages = []
    for original in sorted(contents.feature_views, key=lambda v: v.name):
        view = checked.views.get(original.name, original)
        resolved = all(a.dtype is not None for a in view.aggregations)
        sql, unreadable = _compiled(view, entities, dialects) if view.name in checked.views and resolved else ([], [])
        page = ViewPage(view, _features(view, entities), sql, unreadable)
        if last_run:
            page.checks = [r for r in last_run["results"] if r.get("view") == view.name]
            page.freshness = next((r for r in page.checks if r["check"] == "freshness"), None)
        if registry is not None:
            page.materialization = registry.materialization(view.name)
            record = registry.record("feature_views", view.name)
            page.registered = {k: record[k] for k in ("created", "updated", "fingerprint")} if record else None
        if view.name in places:
            path, line = places[view.name]
            page.location = f"{path.relative_to(store.repo_path)}:{line}"
        pages.append(page)
    on_demand = on_demand_pages(contents.on_demand_feature_views, places, store.repo_path)
    services = [_service_page(s, {p.view.name: p.view for p in pages}, entities, {o["odfv"].name: o["odfv"] for o in on_demand})
                for s in sorted(contents.feature_services, key=lambda s: s.name)]  # fmt: skip
    datasets = sorted(registry.saved_datasets().values(), key=lambda d: d.name) if registry is not None else []
    for page in services:
        page.datasets = [d for d in datasets if d.feature_service_name == page.service.name]
        if page.service.name in places:
            path, line = places[page.service.name]
            page.location = f"{path.relative_to(store.repo_path)}:{line}"
    for page in pages:
        page.services = [s.service.name for s in services if page.view.name in s.views]
        page.datasets = [d for d in datasets if page.view.name in d.feature_view_fingerprints]
    shared = {
        "services": services,
        "on_demand": on_demand,
        "datasets": datasets,
        "project": store.project,
        "generated_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "entities": sorted(contents.entities, key=lambda e: e.name),
        "sources": sorted(contents.data_sources, key=lambda s: s.name),
        "online_store": store.config.online_store.get("type"),
        "offline_store": store.config.offline_type,
        "last_run": last_run,
    }
    return pages, shared


def search_index(pages: list[ViewPage], shared: dict[str, Any]) -> list[dict[str, str]]:
    items = []
    for page in pages:
        url = f"views/{page.view.name}.html"
        items.append({"kind": "view", "name": page.view.name, "text": page.view.description, "url": url})
        for feature in page.features:
            items.append({"kind": "feature", "name": feature["name"], "view": page.view.name,
                          "text": f"{feature['dtype']} {feature['description']} {feature['computed']}".strip(),
                          "url": f"{url}#feature-{feature['name']}"})  # fmt: skip
    for service in shared["services"]:
        items.append({"kind": "service", "name": service.service.name, "text": service.service.description,
                      "url": f"services/{service.service.name}.html"})  # fmt: skip
    for page in shared["on_demand"]:
        items.append({"kind": "on-demand view", "name": page["odfv"].name, "text": page["odfv"].description,
                      "url": f"on_demand/{page['odfv'].name}.html"})  # fmt: skip
    for dataset in shared["datasets"]:
        items.append({"kind": "dataset", "name": dataset.name, "text": dataset.storage.describe(), "url": f"index.html#dataset-{dataset.name}"})
    for entity in shared["entities"]:
        items.append({"kind": "entity", "name": entity.name, "text": entity.description, "url": f"index.html#entity-{entity.name}"})
    return items


def _environment():
    from jinja2 import Environment, FunctionLoader, StrictUndefined

    from sqlfeat.checks.data import human_duration

    root = files("sqlfeat.templates") / "catalog"
    env = Environment(
        loader=FunctionLoader(lambda name: (root / name).read_text(encoding="utf-8")),
        autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["duration"] = lambda value: human_duration(value) if value else "never expires"
    env.filters["json"] = script_json
    return env, root


# Inside <script>, "</script" or "<!--" in the data would end or derail the element; escaped as
# JSON \u escapes they mean the same to JSON.parse and the HTML parser sees no markup at all.
_SCRIPT_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def script_json(value: Any) -> str:
    """``value`` as JSON that is safe as the text of a ``<script>`` element."""
    text = json.dumps(value, default=str)
    return text.translate(_SCRIPT_ESCAPES)


def generate_catalog(
    store: FeatureStore, output: Path | None = None, dialects: tuple[str, ...] = (), manifest: Path | None = None
) -> Path:
    """Write the site to ``output`` (default ``<repo>/target/catalog``); return its index.html.
    With dbt's ``manifest``, a view's lineage starts at the dbt model its source reads.

    ``output`` is an output folder (``sqlfeat.files``): a new, empty or sqlfeat-marked folder,
    checked before any work; a regeneration deletes only the pages the previous one wrote.
    """
    from pygments.formatters import HtmlFormatter

    output = Path(output) if output else store.repo_path / "target" / "catalog"
    with OutputFolder.open(output, "sqlfeat docs generate", "--output") as folder:
        pages, shared = build_pages(store, dialects)
        if manifest is not None:
            from sqlfeat.dbt.manifest import model_reading, read_models

            models = read_models(manifest, every=True)
            for page in pages:
                table = getattr(page.view.source, "table", None)
                page.dbt_model = model_reading(models, table, store.dialect) if table else None
        env, root = _environment()
        files = {name: (root / name).read_text(encoding="utf-8") for name in STATIC}
        files["highlight.css"] = HtmlFormatter(style="friendly").get_style_defs(".highlight")
        context = {**shared, "pages": pages}
        index_json = script_json(search_index(pages, shared))
        files["index.html"] = env.get_template("index.html.j2").render(root="", search_json=index_json, **context)
        for page in pages:
            html = env.get_template("view.html.j2").render(root="../", page=page, **context)
            files[f"views/{page.view.name}.html"] = html
        for service in shared["services"]:
            html = env.get_template("service.html.j2").render(root="../", page=service, **context)
            files[f"services/{service.service.name}.html"] = html
        for odfv in shared["on_demand"]:
            html = env.get_template("on_demand.html.j2").render(root="../", page=odfv, **context)
            files[f"on_demand/{odfv['odfv'].name}.html"] = html
        folder.claim(files)
        for rel, text in files.items():
            folder.write_text(rel, text)
        folder.prune()
    return output / "index.html"


def catalog_server(directory: Path, host: str = "127.0.0.1", port: int = 8080) -> Any:
    """An HTTP server (not yet serving) for ``directory``; port 0 picks a free port."""
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    return ThreadingHTTPServer((host, port), functools.partial(Quiet, directory=str(directory)))


def serve_catalog(directory: Path, host: str = "127.0.0.1", port: int = 8080, ready: Any = None) -> None:
    """Serve ``directory`` until interrupted; ``ready(url)`` is called once listening."""
    with catalog_server(directory, host, port) as server:
        if ready is not None:
            ready(f"http://{host}:{server.server_address[1]}/")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
