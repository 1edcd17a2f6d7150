"""``FeatureStore``'s online surface (Feast's names): the online store it connects to, where
materialized values go, materialization, serving and the consistency check. A base class of
``FeatureStore`` (``store.py``), kept apart so each file holds one concern; the work itself is in
``sqlfeat/online/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlfeat.definitions import FeatureService
from sqlfeat.registry import OnlineTarget

if TYPE_CHECKING:
    from sqlfeat.online import OnlineStore
    from sqlfeat.online.consistency import ConsistencyReport
    from sqlfeat.online.materialize import MaterializationReport, ProgressHook
    from sqlfeat.online.response import OnlineResponse


class OnlineSurface:
    """Materialization, serving and consistency; expects ``FeatureStore``'s attributes
    (``config``, ``project``, ``repo_path``, ``_online``, ``_registry``, ``_serving_plans``,
    ``_applied()``)."""

    @property
    def online_store(self) -> OnlineStore:
        """The ``online_store`` of feature_store.yaml (sqlite by default), connected lazily."""
        online = self._online
        if online is None:
            from sqlfeat.online import connect_online_store

            online = self._online = connect_online_store(self.config.online_store, self.project, self.repo_path)
        return online

    @property
    def online_target(self) -> OnlineTarget:
        """Where materialized values go: this project in the configured online store (described
        by host, port, database, path or table, never a secret; no connection is made)."""
        from sqlfeat.online import describe_online_store

        return OnlineTarget(self.project, describe_online_store(self.config.online_store, self.project, self.repo_path))

    def close_online(self) -> None:
        online, self._online = self._online, None
        if online is not None:
            online.close()

    def materialize(
        self, start_date: datetime, end_date: datetime, feature_views: Sequence[str] | None = None,
        on_progress: ProgressHook | None = None,
    ) -> MaterializationReport:  # fmt: skip
        """Write each entity's newest row with event time in [start_date, end_date] online.

        ``on_progress(report, run)`` is called as the run advances (the CLI draws its bar from it).
        """
        from sqlfeat.online.materialize import materialize

        return materialize(self, start_date, end_date, feature_views, on_progress=on_progress)

    def materialize_incremental(
        self, end_date: datetime, feature_views: Sequence[str] | None = None, on_progress: ProgressHook | None = None
    ) -> MaterializationReport:
        """Continue each view from its watermark up to end_date; a new view gets its full history."""
        from sqlfeat.online.materialize import materialize_incremental

        return materialize_incremental(self, end_date, feature_views, on_progress=on_progress)

    def get_online_features(
        self, features: Sequence[str] | FeatureService, entity_rows: Any, full_feature_names: bool = False,
        as_of: datetime | None = None,
    ) -> OnlineResponse:  # fmt: skip
        """Latest values for ``entity_rows`` (``[{"user_id": 42}, ...]``): one read per view; a
        value older than its view's TTL at ``as_of`` (default: now) reads as null."""
        from sqlfeat.online import serving

        plan = self._serving_plan(features, full_feature_names)
        return serving.get_online_features(self.online_store, plan, entity_rows, as_of)

    def _serving_plan(self, features: Sequence[str] | FeatureService, full_feature_names: bool) -> Any:
        """The resolved request (``serving.ServingPlan``), cached per registry."""
        from sqlfeat.online import serving

        # A plan is only cached once the registry was read successfully: skip the file check then.
        registry = self._registry if self._registry is not None else self._applied()
        plans = self._serving_plans
        wanted = features if isinstance(features, FeatureService) else (features,) if isinstance(features, str) else tuple(features)
        key = (wanted, full_feature_names)
        cached = plans.get(key)
        if cached is None or cached[0] is not registry:
            if len(plans) > 256:
                plans.clear()
            from sqlfeat.online.teardown import pending_views

            plan = serving.build_plan(self.project, registry.feature_views(), registry.entities(), key[0], full_feature_names,
                                      pending_views(registry, self.online_target), registry.on_demand_feature_views())  # fmt: skip
            cached = plans[key] = (registry, plan)
        return cached[1]

    def check_consistency(
        self, feature_views: Sequence[str] | None = None, sample: int | None = None, seed: int = 0
    ) -> ConsistencyReport:
        """Compare online values with get_historical_features at each view's watermark."""
        from sqlfeat.online.consistency import check_consistency

        return check_consistency(self, feature_views, sample, seed)
