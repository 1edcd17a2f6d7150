"""dbt's ``target/manifest.json`` (and ``catalog.json`` beside it, when ``dbt docs generate`` wrote
one) read as the models ``sqlfeat dbt import`` turns into feature views: their relation, columns
with warehouse types, and the ``meta: {sqlfeat: {...}}`` they declare.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlfeat.errors import ConfigError, SqlfeatError, UsageError
from sqlfeat.warehouses.base import Dialect


@dataclass(frozen=True)
class DbtModel:
    unique_id: str
    name: str
    relation: str  # relation_name: database.schema.identifier as dbt quotes it
    columns: dict[str, str | None]  # name -> warehouse type (catalog.json, else the declared data_type)
    tags: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)  # meta.sqlfeat
    depends_on: tuple[str, ...] = ()  # unique ids of the models and sources it reads


def _read_json(path: Path, what: str) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist; run `dbt parse` (or `dbt compile`) in the dbt project first") from None
    except (OSError, ValueError) as err:
        raise ConfigError(f"{what} {path} is not readable JSON: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path} is not a dbt artifact (expected a JSON object)")
    return data


def read_models(manifest_path: Path | str, select: Sequence[str] = (), every: bool = False) -> list[DbtModel]:
    """The models ``select`` picks (``tag:NAME`` or a model name, any of them), or without
    ``select`` every model whose meta has a ``sqlfeat`` entry (``every``: every model with a
    relation, for lineage); sorted by name."""
    manifest_path = Path(manifest_path)
    manifest = _read_json(manifest_path, "--manifest")
    nodes = manifest.get("nodes")
    if not isinstance(nodes, dict):
        raise ConfigError(f"--manifest {manifest_path} has no nodes: is it dbt's target/manifest.json?")
    catalog_path = manifest_path.with_name("catalog.json")
    catalog = _read_json(catalog_path, "catalog").get("nodes", {}) if catalog_path.exists() else {}
    models = []
    for unique_id, node in nodes.items():
        if node.get("resource_type") != "model":
            continue
        meta = {**(node.get("meta") or {}), **((node.get("config") or {}).get("meta") or {})}
        tags = tuple(dict.fromkeys([*(node.get("tags") or []), *((node.get("config") or {}).get("tags") or [])]))
        if not (every or _selected(node.get("name", ""), tags, "sqlfeat" in meta, select)):
            continue
        if every and not node.get("relation_name"):
            continue
        if not node.get("relation_name"):
            raise UsageError(f"dbt model {node.get('name')!r} has no relation (an ephemeral model?); materialize it as a table or view")
        typed = {name.lower(): c.get("type") for name, c in (catalog.get(unique_id, {}).get("columns") or {}).items()}
        columns = {
            c.get("name", name): typed.get(c.get("name", name).lower()) or c.get("data_type")
            for name, c in (node.get("columns") or {}).items()
        }  # fmt: skip
        for name, column in (catalog.get(unique_id, {}).get("columns") or {}).items():
            if name.lower() not in {c.lower() for c in columns}:
                columns[column.get("name", name)] = column.get("type")
        sqlfeat_meta = meta.get("sqlfeat") or {}
        if not isinstance(sqlfeat_meta, dict):
            raise UsageError(f"dbt model {node['name']!r}: meta.sqlfeat must be a mapping, got {sqlfeat_meta!r}")
        upstream = tuple((node.get("depends_on") or {}).get("nodes") or ())
        models.append(DbtModel(unique_id, node["name"], node["relation_name"], columns, tags, sqlfeat_meta, upstream))
    if not models and not every:
        wanted = " ".join(select) if select else "models with meta: {sqlfeat: {...}}"
        raise UsageError(f"--manifest {manifest_path}: no dbt model matches {wanted}; check --select")
    return sorted(models, key=lambda m: m.name)


def _selected(name: str, tags: tuple[str, ...], has_meta: bool, select: Sequence[str]) -> bool:
    if not select:
        return has_meta
    for selector in select:
        for part in selector.split():
            if part.startswith("tag:") and part[4:] in tags:
                return True
            if part == name:
                return True
    return False


def model_reading(models: Sequence[DbtModel], table: str, dialect: Dialect) -> DbtModel | None:
    """The dbt model whose relation is ``table`` (a source's table name), if any: compared part by
    part as the warehouse reads them; a name without a database matches any database."""
    try:
        wanted = dialect.table(table)
    except SqlfeatError:
        return None
    for model in models:
        try:
            relation = dialect.table(model.relation)
        except SqlfeatError:
            continue
        same_db = not wanted.catalog or not relation.catalog or wanted.catalog == relation.catalog
        if same_db and relation.name == wanted.name and (relation.db or None) == (wanted.db or None):
            return model
    return None
