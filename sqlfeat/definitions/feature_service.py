"""``FeatureService``: a named group of features from one or more views (Feast's name), the
unit a model trains on and is served with.

``FeatureService(name="driver_ranking", features=[driver_stats, customer_stats[["age"]]])``
lists views (all their features) and projections (``view[[...]]``, ``view.with_name(...)``,
``view.with_join_key_map(...)``). ``apply`` registers it with the feature names resolved, so its
fingerprint changes when the features it serves do.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlfeat.definitions.feature_view import FeatureView
from sqlfeat.definitions.on_demand import OnDemandFeatureView
from sqlfeat.definitions.projection import FeatureViewProjection
from sqlfeat.definitions.spec import check_name
from sqlfeat.errors import DefinitionError


@dataclass(frozen=True, init=False)
class FeatureService:
    """``FeatureService(name=..., features=[view, view[["a"]]], description=, tags=, owner=)``."""

    name: str
    feature_view_projections: tuple[FeatureViewProjection, ...]
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    owner: str = ""

    def __init__(
        self,
        *,
        name: str,
        features: list[FeatureView | FeatureViewProjection],
        tags: dict[str, str] | None = None,
        description: str = "",
        owner: str = "",
        logging_config: Any = None,
        precompute_online: bool = False,
    ) -> None:
        check_name("feature service", name)
        if logging_config is not None or precompute_online:
            raise DefinitionError(
                f"feature service {name!r}: logging_config and precompute_online are Feast features sqlfeat "
                "does not have; remove them"
            )
        if not isinstance(features, (list, tuple)) or not features:
            raise DefinitionError(f"feature service {name!r}: features must be a non-empty list of feature views")
        projections = []
        for item in features:
            if isinstance(item, FeatureView):
                projections.append(item.projection)
            elif isinstance(item, FeatureViewProjection):
                projections.append(item)
            elif isinstance(item, OnDemandFeatureView):
                projections.append(FeatureViewProjection(item.name))
            else:
                raise DefinitionError(
                    f"feature service {name!r}: features must be feature views or projections such as "
                    f"view[['a', 'b']], got {item!r}"
                )
        used = [p.name_to_use() for p in projections]
        twice = sorted({n for n in used if used.count(n) > 1})
        if twice:
            raise DefinitionError(
                f"feature service {name!r} uses feature view {twice[0]!r} twice; merge the selections into "
                f"one view[[...]], or name each use with .with_name(...)"
            )
        values = {
            "name": name, "feature_view_projections": tuple(projections), "description": description,
            "tags": dict(tags or {}), "owner": owner,
        }  # fmt: skip
        for key, value in values.items():
            object.__setattr__(self, key, value)

    def __hash__(self) -> int:
        return hash(self.name)

    @property
    def feature_views(self) -> list[str]:
        """The names of the registered views this service reads (each once)."""
        return list(dict.fromkeys(p.name for p in self.feature_view_projections))

    def to_spec(self) -> dict[str, Any]:
        return {
            "name": self.name, "features": [p.to_spec() for p in self.feature_view_projections],
            "description": self.description, "tags": self.tags, "owner": self.owner,
        }  # fmt: skip

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> FeatureService:
        return cls(
            name=spec["name"], features=[FeatureViewProjection.from_spec(p) for p in spec["features"]],
            tags=spec.get("tags"), description=spec.get("description", ""), owner=spec.get("owner", ""),
        )  # fmt: skip


def resolve_service_spec(
    spec: dict[str, Any], views: Mapping[str, dict[str, Any]], entities: Mapping[str, dict[str, Any]],
    removed: Collection[str] = (), on_demand: Mapping[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """``spec`` with every projection's features listed (all of a view's features when it selects
    none), checked against the view specs an apply would register. ``removed``: views that apply
    deletes, named as such in the error."""
    resolved = []
    for projection in spec["features"]:
        view_name = projection["name"]
        where = f"feature service {spec['name']!r} uses feature view {view_name!r}"
        if on_demand and view_name in on_demand and view_name not in views:
            available = [f["name"] for f in on_demand[view_name]["schema"]]
            missing = [f for f in projection["features"] if f not in available]
            if missing or projection.get("join_key_map") or projection.get("name_alias"):
                raise DefinitionError(f"{where} (on demand): it has no feature {missing[0]!r}; it has {available}" if missing
                                      else f"{where}: an on-demand view is used as is (no with_name or with_join_key_map)")
            resolved.append({**projection, "features": list(projection["features"]) or available})
            continue
        view = views.get(view_name)
        if view is None:
            why = "which this apply deletes" if view_name in removed else "which is not defined"
            raise DefinitionError(f"{where}, {why}; remove it from the service's features, or keep the view")
        keys = [k for entity in view["entities"] for k in entities.get(entity, {}).get("join_keys", [])]
        if view.get("aggregations"):
            available = [a["name"] for a in view["aggregations"]]
        else:
            available = [f["name"] for f in view["schema"] if f["name"] not in keys]
        missing = [f for f in projection["features"] if f not in available]
        if missing:
            raise DefinitionError(f"{where}, which has no feature {missing[0]!r}; it has {available}")
        for key in projection.get("join_key_map", {}):
            if key not in keys:
                raise DefinitionError(f"{where}: with_join_key_map maps {key!r}, which is not one of its join keys {keys}")
        resolved.append({**projection, "features": list(projection["features"]) or available})
    return {**spec, "features": resolved}


def service_changes(old: dict[str, Any], new: dict[str, Any]) -> tuple[str, ...]:
    """What a plan says about a changed service: the features it starts and stops serving, then
    its other changed keys."""

    def served(spec: dict[str, Any]) -> list[str]:
        return [f"{p.get('name_alias') or p['name']}:{f}" for p in spec["features"] for f in p["features"]]

    before, after = served(old), served(new)
    details = [f"serves {ref}" for ref in after if ref not in before]
    details += [f"stops serving {ref}" for ref in before if ref not in after]
    old_maps = {p.get("name_alias") or p["name"]: (p["name"], p.get("join_key_map")) for p in old["features"]}
    for p in new["features"]:
        use = p.get("name_alias") or p["name"]
        if use in old_maps and old_maps[use] != (p["name"], p.get("join_key_map")):
            details.append(f"{use}: reads {p['name']} joined on {p.get('join_key_map') or 'its keys'}")
    details += [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in ("description", "tags", "owner") if old.get(k) != new.get(k)]
    return tuple(details)
