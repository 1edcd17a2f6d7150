"""A feature repo's definitions: the Python files that define features, imported and collected.

(``feature_store.yaml`` is read by ``config.py``.)
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from sqlfeat.definitions import DataSource, Entity, FeatureService, FeatureView
from sqlfeat.errors import DefinitionError

_SKIP_DIRS = {"data", "target", "__pycache__", "node_modules", "venv", "site-packages"}


@dataclass
class RepoContents:
    entities: list[Entity] = field(default_factory=list)
    data_sources: list[DataSource] = field(default_factory=list)
    feature_views: list[FeatureView] = field(default_factory=list)
    feature_services: list[FeatureService] = field(default_factory=list)

    def add(self, obj: object) -> None:
        if isinstance(obj, FeatureView) and obj.is_projected:
            obj = obj.unprojected()  # view[[...]], with_name...: a query-time copy of the same view
        bucket = {Entity: self.entities, FeatureView: self.feature_views, FeatureService: self.feature_services}.get(type(obj))
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
        if isinstance(obj, FeatureView):
            self.add(obj.source)
            for entity in obj.entity_objects:
                self.add(entity)


def collect(objects: list[object]) -> RepoContents:
    contents = RepoContents()
    for obj in objects:
        if not isinstance(obj, (Entity, FeatureView, DataSource, FeatureService)):
            raise DefinitionError(f"cannot apply {obj!r}: expected an Entity, FeatureView, FeatureService or data source")
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


def load_definitions(root: Path) -> RepoContents:
    """Import every definition file of the repo and collect the definitions they hold."""
    contents = RepoContents()
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
                if isinstance(value, (Entity, FeatureView, DataSource, FeatureService)):
                    contents.add(value)
    finally:
        sys.path.remove(str(root))
    return contents
