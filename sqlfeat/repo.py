"""A feature repo on disk: ``feature_store.yaml`` and the Python files that define features."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlfeat.definitions import DataSource, Entity, FeatureView
from sqlfeat.errors import ConfigError, DefinitionError

CONFIG_FILE = "feature_store.yaml"
_ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SKIP_DIRS = {"data", "target", "__pycache__", "node_modules", "venv", "site-packages"}


@dataclass(frozen=True)
class RepoConfig:
    """``feature_store.yaml`` read and defaulted (Feast's keys)."""

    repo_path: Path
    project: str
    registry_path: Path
    offline_store: dict[str, Any] = field(default_factory=lambda: {"type": "duckdb"})
    online_store: dict[str, Any] = field(default_factory=lambda: {"type": "sqlite"})

    @property
    def offline_type(self) -> str:
        return self.offline_store["type"]


def find_repo(path: str | os.PathLike | None = None) -> Path:
    """The folder holding feature_store.yaml: ``path`` itself, or its ``feature_repo/``."""
    start = Path(path or os.getcwd()).expanduser().resolve()
    if start.is_file() and start.name == CONFIG_FILE:
        return start.parent
    for candidate in (start, start / "feature_repo"):
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    raise ConfigError(
        f"no {CONFIG_FILE} in {start}: run inside a feature repo, pass repo_path= / --chdir, "
        "or create one with `sqlfeat init NAME`"
    )


def _expand_env(value: Any, key: str) -> Any:
    if isinstance(value, dict):
        return {k: _expand_env(v, f"{key}.{k}" if key else k) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, key) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ConfigError(f"{CONFIG_FILE}: {key} uses ${{{name}}}, but environment variable {name} is not set")
        return os.environ[name]

    return _ENV_VAR.sub(substitute, value)


def load_config(repo_path: str | os.PathLike | None = None) -> RepoConfig:
    import yaml

    root = find_repo(repo_path)
    path = root / CONFIG_FILE
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must be a mapping of keys (project, registry, offline_store, ...)")
    raw = _expand_env(raw, "")
    project = raw.get("project")
    if not project or not re.match(r"^[A-Za-z0-9_]+$", str(project)):
        raise ConfigError(f"{path}: `project` must be set to letters, digits and underscores, got {project!r}")
    registry = raw.get("registry", "data/registry.json")
    if isinstance(registry, dict):
        registry = registry.get("path", "data/registry.json")
    registry_path = Path(registry)
    if not registry_path.is_absolute():
        registry_path = root / registry_path
    offline = _store_section(raw, "offline_store", "duckdb", path)
    online = _store_section(raw, "online_store", "sqlite", path)
    return RepoConfig(root, str(project), registry_path, offline, online)


def _store_section(raw: dict, key: str, default: str, path: Path) -> dict[str, Any]:
    section = raw.get(key) or {}
    if isinstance(section, str):
        section = {"type": section}
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: `{key}` must be a mapping like {{type: {default}}}")
    return {"type": default, **section}


@dataclass
class RepoContents:
    entities: list[Entity] = field(default_factory=list)
    data_sources: list[DataSource] = field(default_factory=list)
    feature_views: list[FeatureView] = field(default_factory=list)

    def add(self, obj: object) -> None:
        bucket = {Entity: self.entities, FeatureView: self.feature_views}.get(type(obj))
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
        if not isinstance(obj, (Entity, FeatureView, DataSource)):
            raise DefinitionError(f"cannot apply {obj!r}: expected an Entity, FeatureView or data source")
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
                if isinstance(value, (Entity, FeatureView, DataSource)):
                    contents.add(value)
    finally:
        sys.path.remove(str(root))
    return contents
