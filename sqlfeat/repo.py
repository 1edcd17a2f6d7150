"""A feature repo's definitions: the Python files that define features, imported and collected.

(``feature_store.yaml`` is read by ``config.py``.)
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from sqlfeat.definitions import DataSource, Entity, FeatureService, FeatureView, OnDemandFeatureView
from sqlfeat.errors import DefinitionError

_SKIP_DIRS = {"data", "target", "__pycache__", "node_modules", "venv", "site-packages"}


@dataclass
class RepoContents:
    entities: list[Entity] = field(default_factory=list)
    data_sources: list[DataSource] = field(default_factory=list)
    feature_views: list[FeatureView] = field(default_factory=list)
    feature_services: list[FeatureService] = field(default_factory=list)
    on_demand_feature_views: list[OnDemandFeatureView] = field(default_factory=list)

    def add(self, obj: object) -> None:
        if isinstance(obj, FeatureView) and obj.is_projected:
            obj = obj.unprojected()  # view[[...]], with_name...: a query-time copy of the same view
        bucket = {Entity: self.entities, FeatureView: self.feature_views, FeatureService: self.feature_services,
                  OnDemandFeatureView: self.on_demand_feature_views}.get(type(obj))  # fmt: skip
        if isinstance(obj, DataSource):
            bucket = self.data_sources
        if bucket is None:
            return
        for existing in bucket:
            if existing.name == obj.name:
                if existing == obj:
                    return  # the same definition imported twice (one file importing another)
                raise DefinitionError(
                    f"two different {type(obj).__name__} definitions are named {obj.name!r}; "
                    "give each a unique name"
                )
        bucket.append(obj)
        if isinstance(obj, DataSource) and isinstance(getattr(obj, "batch_source", None), DataSource):
            self.add(obj.batch_source)  # a PushSource's
        if isinstance(obj, FeatureView):
            self.add(obj.source)
            if obj.stream_source is not None:
                self.add(obj.stream_source)
            for entity in obj.entity_objects:
                self.add(entity)
        if isinstance(obj, OnDemandFeatureView):
            for view in obj.source_views:
                self.add(view)


def collect(objects: list[object]) -> RepoContents:
    contents = RepoContents()
    for obj in objects:
        if not isinstance(obj, (Entity, FeatureView, DataSource, FeatureService, OnDemandFeatureView)):
            raise DefinitionError(
                f"cannot apply {obj!r}: expected an Entity, FeatureView, OnDemandFeatureView, FeatureService or data source"
            )
        contents.add(obj)
    return contents


def definition_files(root: Path) -> list[Path]:
    files = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts
        if any(p.startswith(".") or p in _SKIP_DIRS for p in parts[:-1]) or path.name.startswith("."):
            continue
        files.append(path)
    return files


def _forget_repo_modules(root: Path) -> None:
    """Drop from ``sys.modules`` what a definition file imports by a plain name (``from features
    import user``): this repo's modules, and another repo's module of the same name, so each load
    reads the files as they are now and two repos in one process never see each other's modules.
    Installed packages and the standard library are never touched."""
    resolved = root.resolve()
    local = {p.stem for p in resolved.glob("*.py")} | {p.name for p in resolved.iterdir() if (p / "__init__.py").is_file()}
    installed = tuple(str(Path(p).resolve()) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix})
    for name, module in list(sys.modules.items()):
        origin = getattr(module, "__file__", None)
        if not origin:
            continue
        where = Path(origin).resolve()
        ours = where.is_relative_to(resolved)
        shadowing = name.split(".")[0] in local and not str(where).startswith(installed)
        if ours or shadowing:
            sys.modules.pop(name, None)


def load_definitions(root: Path) -> RepoContents:
    """Import every definition file of the repo and collect the definitions they hold."""
    contents = RepoContents()
    _forget_repo_modules(root)
    sys.path.insert(0, str(root))
    try:
        for path in definition_files(root):
            module_name = f"sqlfeat_repo_{abs(hash(str(path)))}"
            spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(spec)
            try:
                spec.loader.exec_module(module)
            except Exception as err:
                lines = [f.lineno for f in traceback.extract_tb(err.__traceback__) if f.filename == str(path)]
                raise DefinitionError(
                    f"{path.relative_to(root)}, line {lines[-1] if lines else '?'}: {err}"
                ) from err
            for value in vars(module).values():
                if isinstance(value, (Entity, FeatureView, DataSource, FeatureService, OnDemandFeatureView)):
                    contents.add(value)
    finally:
        sys.path.remove(str(root))
        _forget_repo_modules(root)
    return contents
