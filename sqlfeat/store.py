"""``FeatureStore``: the one façade the CLI, notebooks and pipelines go through (Feast's names).

It owns the repo's configuration, its registry and its lazily connected stores, and turns each
public call into one call of the module that owns the work: ``compiler`` and ``retrieval`` for
training sets, ``online`` for materialization, serving and consistency. It prints nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlfeat.definitions import DataSource, Entity, FeatureService, FeatureView, OnDemandFeatureView
from sqlfeat.errors import RegistryError
from sqlfeat.registry import Registry, RegistryPlan
from sqlfeat.config import RepoConfig, load_config
from sqlfeat.repo import RepoContents, collect, load_definitions
from sqlfeat.store_online import OnlineSurface
from sqlfeat.store_push import PushSurface

if TYPE_CHECKING:
    from sqlfeat.definitions import SavedDataset, SavedDatasetStorage
    from sqlfeat.historical import Definitions
    from sqlfeat.online import OnlineStore
    from sqlfeat.retrieval import RetrievalJob
    from sqlfeat.warehouses.base import Dialect, OfflineStore


class FeatureStore(PushSurface, OnlineSurface):
    """``FeatureStore(repo_path="feature_repo")``: a feature repo and its stores."""

    def __init__(self, repo_path: str | os.PathLike | None = None, config: RepoConfig | None = None) -> None:
        self.config = config or load_config(repo_path)
        self.repo_path: Path = self.config.repo_path
        self._registry: Registry | None = None
        self._offline: OfflineStore | None = None
        self._online: OnlineStore | None = None
        # Resolved get_online_features requests, per (features, full names): (registry, plan).
        self._serving_plans: dict[tuple, tuple[Registry, Any]] = {}

    # -- registry -----------------------------------------------------------------------------
    @property
    def project(self) -> str:
        return self.config.project

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = Registry(self.config.registry_path, self.project)
        return self._registry

    def refresh_registry(self) -> None:
        self._registry = None

    def _applied(self) -> Registry:
        if not self.registry.exists:
            raise RegistryError(
                f"no registry at {self.config.registry_path}: run `sqlfeat apply` in {self.repo_path} first"
            )
        return self.registry

    def list_entities(self) -> list[Entity]:
        return list(self._applied().entities().values())

    def list_feature_views(self, allow_cache: bool = False, tags: dict[str, str] | None = None) -> list[FeatureView]:
        """Registered views; with ``tags``, those holding every one of them (Feast's filter)."""
        return [v for v in self._applied().feature_views().values() if _has_all_tags(v.tags, tags)]

    def list_feature_services(self, tags: dict[str, str] | None = None) -> list[FeatureService]:
        return [s for s in self._applied().feature_services().values() if _has_all_tags(s.tags, tags)]

    def get_feature_service(self, name: str, allow_cache: bool = False) -> FeatureService:
        from sqlfeat.historical import feature_service, registered

        return feature_service(registered(self._applied()), name)

    def list_on_demand_feature_views(self, tags: dict[str, str] | None = None) -> list[OnDemandFeatureView]:
        return [v for v in self._applied().on_demand_feature_views().values() if _has_all_tags(v.tags, tags)]

    def get_on_demand_feature_view(self, name: str) -> OnDemandFeatureView:
        views = self._applied().on_demand_feature_views()
        if name not in views:
            from sqlfeat.errors import FeatureReferenceError

            raise FeatureReferenceError(f"on-demand feature view {name!r} is not registered; registered: {sorted(views)}")
        return views[name]

    def list_data_sources(self) -> list[DataSource]:
        return list(self._applied().data_sources().values())

    def get_feature_view(self, name: str) -> FeatureView:
        views = self._applied().feature_views()
        if name not in views:
            from sqlfeat.errors import FeatureReferenceError

            if name in self._applied().on_demand_feature_views():
                raise FeatureReferenceError(f"{name!r} is an on-demand feature view: computed at request time from its "
                                            "sources, never materialized; use get_on_demand_feature_view")  # fmt: skip
            raise FeatureReferenceError(f"feature view {name!r} is not registered; registered: {sorted(views)}")
        return views[name]

    def get_entity(self, name: str) -> Entity:
        entities = self._applied().entities()
        if name not in entities:
            from sqlfeat.errors import FeatureReferenceError

            raise FeatureReferenceError(f"entity {name!r} is not registered; registered: {sorted(entities)}")
        return entities[name]

    # -- apply / plan -------------------------------------------------------------------------
    def load_repo(self) -> RepoContents:
        """Import every definition file of the repo."""
        return load_definitions(self.repo_path)

    def plan(self, contents: RepoContents | None = None, partial: bool = False, *, strict: bool | None = None) -> RegistryPlan:
        """What ``apply`` would change, validated against the warehouse; writes nothing."""
        contents = contents if contents is not None else self.load_repo()
        inferred = self._no_features(contents)
        plan = self.registry.plan(self._resolve(contents), partial=partial, target=self.online_target)
        self._dtype_notes(self._validate(plan), strict)
        return self._show_inferred(plan, inferred)

    def apply(
        self,
        objects: Sequence[Any] | Any | None = None,
        objects_to_delete: Sequence[Any] | None = None,
        partial: bool = True,
        *,
        strict: bool | None = None,
    ) -> RegistryPlan:
        """Register ``objects`` (Feast's signature); with no objects, sync the whole repo.

        Deleting a materialized view deletes its online values from the configured online store
        (``sqlfeat/online/teardown.py``); if the store fails, the registry is still written, the
        deletion stays recorded as pending (retried by the next apply) and ``TeardownPendingError``
        is raised. A declared dtype that is not its column's but converts (Int32 over BIGINT...) is
        cast in SQL and warned about (``sqlfeat.validation.DtypeNotice``); ``strict=True`` (default:
        the config's ``strict_dtypes``) makes it an error."""
        if objects is None:
            contents, partial = self.load_repo(), False
        else:
            contents = collect(list(objects) if isinstance(objects, (list, tuple)) else [objects])
        inferred = self._no_features(contents)
        plan = self.registry.plan(self._resolve(contents), partial=partial, target=self.online_target)
        self._show_inferred(plan, inferred)
        for obj in objects_to_delete or ():
            kind = {Entity: "entities", FeatureView: "feature_views", FeatureService: "feature_services",
                    OnDemandFeatureView: "on_demand_feature_views"}.get(type(obj), "data_sources")  # fmt: skip
            self.registry.plan_removal(plan, kind, obj.name, self.online_target)
        self._dtype_notes(self._validate(plan), strict)
        self.registry.apply(plan)
        from sqlfeat.online.teardown import run_teardowns

        run_teardowns(self, plan=plan)
        return plan

    def _resolve(self, contents: RepoContents) -> RepoContents:
        """What the sources' columns decide, before planning: aggregation result types, and the
        schema of a view that lists no features (every other source column, as Feast infers it;
        columns no dtype reads are left out with a ``DtypeNotice``)."""
        import warnings

        from sqlfeat.validation import (
            DtypeNotice, describe_source, infer_schema, lists_no_features, resolve_aggregations,
        )  # fmt: skip

        cache: dict = {}
        entities = self._entities_of(contents)
        resolved = []
        for view in contents.feature_views:
            if view.aggregations:
                view = resolve_aggregations(view, describe_source(view, self.offline_store, self.repo_path, cache))
            elif lists_no_features(view, entities):
                view, notes = infer_schema(view, entities, describe_source(view, self.offline_store, self.repo_path, cache))
                for note in notes:
                    warnings.warn(note, DtypeNotice, stacklevel=3)
            resolved.append(view)
        contents.feature_views = resolved
        return contents

    @staticmethod
    def _show_inferred(plan: RegistryPlan, inferred: set[str]) -> RegistryPlan:
        """Each added or changed view whose schema was inferred says so, with its fields."""
        from dataclasses import replace

        for index, change in enumerate(plan.changes):
            if change.kind == "feature_views" and change.name in inferred and change.action != "remove":
                schema = plan.specs["feature_views"][change.name]["schema"]
                fields = ", ".join(f"{f['name']} ({f['dtype']})" for f in schema)
                plan.changes[index] = replace(change, details=(f"schema inferred from its source: {fields}", *change.details))
        return plan

    def _entities_of(self, contents: RepoContents) -> dict[str, Entity]:
        """The entities ``contents`` may use: its own, and those registered before."""
        known = self.registry.entities() if self.registry.exists else {}
        return {**known, **{e.name: e for e in contents.entities}}

    def _no_features(self, contents: RepoContents) -> set[str]:
        from sqlfeat.validation import lists_no_features

        entities = self._entities_of(contents)
        return {v.name for v in contents.feature_views if lists_no_features(v, entities)}

    def _validate(self, plan: RegistryPlan) -> list[str]:
        """Every view of ``plan`` against the warehouse; returns the dtype notes (conversions)."""
        from sqlfeat.validation import check_view_entities, check_view_source

        self.registry.check_feature_services(plan)
        entities = {name: Entity.from_spec(spec) for name, spec in plan.specs["entities"].items()}
        views = [FeatureView.from_spec(spec) for spec in plan.specs["feature_views"].values()]
        check_view_entities(views, entities)
        from sqlfeat.validation import check_on_demand

        odfvs = [OnDemandFeatureView.from_spec(spec) for spec in plan.specs.get("on_demand_feature_views", {}).values()]
        check_on_demand(odfvs, {v.name: v for v in views}, entities)
        cache: dict = {}
        notes: list[str] = []
        for view in views:
            notes += check_view_source(view, entities, self.offline_store, self.repo_path, cache)
        return notes

    def _dtype_notes(self, notes: list[str] | None, strict: bool | None) -> None:
        """Declared dtypes that convert: an error when strict (default: ``strict_dtypes``), else
        a ``DtypeNotice`` warning each."""
        import warnings

        from sqlfeat.validation import DtypeNotice, strict_error

        if notes and (self.config.strict_dtypes if strict is None else strict):
            raise strict_error(notes)
        for note in notes or ():
            warnings.warn(note, DtypeNotice, stacklevel=3)

    # -- offline ------------------------------------------------------------------------------
    @property
    def dialect(self) -> Dialect:
        from sqlfeat.warehouses import get_dialect

        return get_dialect(self.config.offline_type)

    @property
    def offline_store(self) -> OfflineStore:
        if self._offline is None:
            from sqlfeat.warehouses import connect_warehouse

            self._offline = connect_warehouse(self.config.offline_store, self.repo_path)
        return self._offline

    def get_historical_features(
        self,
        entity_df: Any = None,
        features: Sequence[str] | FeatureService = (),
        full_feature_names: bool = False,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        filter_by_created_timestamp: bool = False,
        strategy: str | Mapping[str, str] = "auto",
    ) -> RetrievalJob:
        """A point-in-time correct training set: one row per entity_df row, nothing from its future.

        ``entity_df`` is a pandas DataFrame, or a SQL query / table name in the warehouse; without
        it, every (keys, event time) of the views' sources in [start_date, end_date] (Feast's
        defaults: end now, start end minus the longest TTL). ``features``: ``"view:feature"``
        references or a ``FeatureService``. ``filter_by_created_timestamp``: a row is visible only
        once created (created time at or before the entity row's time).
        ``strategy``: ``"auto"`` picks per view by estimated cost (``job.explain()`` says why);
        ``"asof"``, ``"carry"``, ``"window"`` or ``"lateral"`` forces one, for every view or per
        view (``{"view": "carry"}``). Every strategy gives the same rows.
        """
        from sqlfeat import historical
        from sqlfeat.retrieval import build_job
        from sqlfeat.validation import check_view_source

        historical.check_spine_arguments(entity_df, start_date, end_date)
        registry = self._applied()
        plan = historical.plan_features(historical.registered(registry), features, full_feature_names, filter_by_created_timestamp)
        entities, cache = registry.entities(), {}
        for request in plan.views:
            check_view_source(request.view, entities, self.offline_store, self.repo_path, cache)
        if entity_df is None:
            start, end = historical.date_range(plan, start_date, end_date)
            return historical.range_job(plan, self.offline_store, self.repo_path, cache, start, end, strategy)
        return build_job(plan, entity_df, self.offline_store, self.repo_path, cache, strategy)

    def compile_historical_features(
        self,
        features: Sequence[str] | FeatureService,
        spine: str = "entity_df",
        timestamp_column: str = "event_timestamp",
        dialect: str | None = None,
        full_feature_names: bool = False,
        strategy: str | Mapping[str, str] = "auto",
        explain: bool = False,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        filter_by_created_timestamp: bool = False,
        from_definitions: bool | None = None,
    ) -> str:
        """The PIT SQL for a spine table or query (or, with start_date/end_date, the time range's
        spine), for any dialect; connects to nothing. Names resolve against the registry, or the
        repo's definition files when there is none (or ``from_definitions=True``).

        Without a connection there are no statistics: ``auto`` takes the strategy whose cost never
        grows with rows per key squared. ``explain=True`` puts one comment line per view first:
        the strategy and why."""
        from sqlfeat import historical
        from sqlfeat.warehouses import get_dialect

        plan = historical.plan_features(self.definitions(from_definitions), features, full_feature_names, filter_by_created_timestamp)
        time_range = historical.date_range(plan, start_date, end_date) if start_date or end_date else None
        target = get_dialect(dialect or self.config.offline_type)
        return historical.compile_sql(plan, target, self.repo_path, spine, timestamp_column, strategy, explain, time_range)

    def definitions(self, from_definitions: bool | None = None) -> Definitions:
        """What names resolve against: the registry, or (no registry, or ``from_definitions``) the
        repo's definition files, read without a warehouse."""
        from sqlfeat import historical

        if from_definitions or (from_definitions is None and not self.registry.exists):
            return historical.from_files(self.load_repo(), self.registry)
        return historical.registered(self._applied())

    # -- saved datasets (sqlfeat/saved_datasets.py) -------------------------------------------
    def create_saved_dataset(
        self, from_: RetrievalJob, name: str, storage: SavedDatasetStorage, tags: dict[str, str] | None = None,
        feature_service: FeatureService | None = None, allow_overwrite: bool = False,
    ) -> SavedDataset:  # fmt: skip
        """Write ``from_``'s training set into ``storage`` (a warehouse table, or a parquet file on
        DuckDB) inside the warehouse, and record it with its exact SQL. An existing table or file is
        replaced only with ``allow_overwrite=True`` and only when sqlfeat saved a dataset there."""
        from sqlfeat.saved_datasets import create_saved_dataset

        return create_saved_dataset(self, from_, name, storage, tags, feature_service, allow_overwrite)

    def get_saved_dataset(self, name: str) -> SavedDataset:
        from sqlfeat.saved_datasets import get_saved_dataset

        return get_saved_dataset(self, name)

    def list_saved_datasets(self, tags: dict[str, str] | None = None) -> list[SavedDataset]:
        return [d for d in self._applied().saved_datasets().values() if _has_all_tags(d.tags, tags)]

    def compile_latest_values(
        self, view: str, end: datetime, start: datetime | None = None, dialect: str | None = None
    ) -> str:
        """The SQL materialization runs for ``view``: each entity's newest row in [start, end]."""
        from sqlfeat.compiler import plan_view
        from sqlfeat.compiler.latest import compile_latest_values
        from sqlfeat.warehouses import get_dialect

        registry = self._applied()
        request = plan_view(view, registry.feature_views(), registry.entities())
        target = get_dialect(dialect or self.config.offline_type)
        return target.render(compile_latest_values(request, target, self.repo_path, end, start))

    def close(self) -> None:
        if self._offline is not None:
            self._offline.close()
            self._offline = None
        self.close_online()

    def __enter__(self) -> FeatureStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _has_all_tags(tags: Mapping[str, str], wanted: Mapping[str, str] | None) -> bool:
    """Feast's tag filter: every requested key present with that value (``None``: no filter)."""
    return wanted is None or all(tags.get(key) == value for key, value in wanted.items())
