"""Feast's module path: ``from feast.on_demand_feature_view import on_demand_feature_view`` runs
as ``from sqlfeat.on_demand_feature_view import ...``. The definitions live in
``sqlfeat/definitions/on_demand.py``."""

from __future__ import annotations

from sqlfeat.definitions.on_demand import OnDemandFeatureView, on_demand_feature_view

__all__ = ["OnDemandFeatureView", "on_demand_feature_view"]
