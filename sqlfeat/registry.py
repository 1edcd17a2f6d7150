"""The registry: applied definitions as readable JSON, each with a content fingerprint, plus
materialization records (watermarks). ``plan`` diffs a repo against it and says which changes
invalidate data already materialized online (a removed or retyped field must be
re-materialized). A deleted view that was materialized leaves a pending teardown (its online
values, in the store its watermark names) until they are deleted. Its raw JSON is private: other
modules read and write it through methods.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlfeat.definitions import (
    DataSource, Entity, FeatureService, FeatureView, OnDemandFeatureView, SavedDataset, fingerprint, source_from_spec,
)  # fmt: skip
from sqlfeat.errors import RegistryError
from sqlfeat.registry_online import OnlineRecords, OnlineTarget, Teardown, now as _now
from sqlfeat.repo import RepoContents

__all__ = ["Change", "OnlineTarget", "Registry", "RegistryPlan", "Teardown"]

FORMAT = "sqlfeat-registry/1"
KINDS = ("entities", "data_sources", "feature_views", "feature_services", "on_demand_feature_views")
_LOADERS = {
    "entities": Entity.from_spec, "data_sources": source_from_spec, "feature_views": FeatureView.from_spec,
    "feature_services": FeatureService.from_spec, "on_demand_feature_views": OnDemandFeatureView.from_spec,
}  # fmt: skip
_SINGULAR = {"entities": "entity", "data_sources": "data source", "feature_views": "feature view", "feature_services": "feature service",
             "on_demand_feature_views": "on-demand feature view"}  # fmt: skip
# Records beside the definitions, which apply never removes.
RECORDS = ("materializations", "teardowns", "saved_datasets")


# How long an apply or a materialization waits for another one to release the registry.
LOCK_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class Change:
    """One object that apply would add, change or remove, with what changed in words."""

    kind: str
    name: str
    action: str  # "add" | "change" | "remove"
    details: tuple[str, ...] = ()
    # True when values already materialized for this view no longer match its definition.
    invalidates_online: bool = False
    # True when the online store lacks something new (an added field): the next incremental run
    # must start from the full history again, though nothing stored is wrong.
    needs_backfill: bool = False

    def describe(self) -> str:
        sign = {"add": "+", "change": "~", "remove": "-"}[self.action]
        text = f"{sign} {_SINGULAR[self.kind]} {self.name}"
        return text + "".join(f"\n    {d}" for d in self.details)


@dataclass
class RegistryPlan:
    changes: list[Change] = field(default_factory=list)
    specs: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    # Things apply does not change but the user must know (the online store changed...).
    notices: list[str] = field(default_factory=list)
    # The definitions' fingerprints this plan was made against: apply refuses to write over
    # definitions that changed meanwhile (another apply ran).
    based_on: dict[str, dict[str, str]] = field(default_factory=dict)
    # Online values of deleted views that apply deletes from the configured online store: views
    # this plan deletes, and deletions an earlier apply could not finish.
    teardowns: list[Teardown] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.changes

    @property
    def views_to_rematerialize(self) -> list[str]:
        return [c.name for c in self.changes if c.invalidates_online]

    @property
    def views_to_backfill(self) -> list[str]:
        return [c.name for c in self.changes if c.invalidates_online or c.needs_backfill]


def _fields(spec: dict[str, Any]) -> dict[str, str]:
    """A view spec's features and their dtypes: its schema, or its aggregations' results."""
    if spec.get("aggregations"):
        return {a["name"]: str(a.get("dtype")) for a in spec["aggregations"]}
    return {f["name"]: f["dtype"] for f in spec["schema"]}


class Registry(OnlineRecords):
    """The JSON registry file of one project (its online bookkeeping: ``registry_online.py``).

    Reads see the file as it was when the object was made (or last reloaded). Every write goes
    through ``transaction()``: under an exclusive lock on ``<registry>.lock`` the file is read
    again, changed, and replaced atomically, so concurrent applies and materializations never
    erase each other's updates.
    """

    def __init__(self, path: Path, project: str) -> None:
        self.path = Path(path)
        self.project = project
        self._load()

    def _empty(self) -> dict[str, Any]:
        return {"format": FORMAT, "project": self.project, **{k: {} for k in (*KINDS, *RECORDS)}}

    def _load(self) -> None:
        self.data = self._empty()
        if not self.path.exists():
            return
        recover = (
            "move it aside and rerun `sqlfeat apply` (the next materialize-incremental then backfills "
            "every view in full)"
        )
        try:
            loaded = json.loads(self.path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise RegistryError(f"registry {self.path} cannot be read: {err}; {recover}") from None
        if not isinstance(loaded, dict) or loaded.get("format") != FORMAT:
            found = f"a JSON {type(loaded).__name__}" if not isinstance(loaded, dict) else f"format {loaded.get('format')!r}"
            raise RegistryError(f"registry {self.path} is not a {FORMAT} file ({found}); {recover}")
        for kind in (*KINDS, *RECORDS):
            section = loaded.get(kind, {})
            if not isinstance(section, dict) or not all(isinstance(r, dict) for r in section.values()):
                raise RegistryError(f"registry {self.path}: `{kind}` is not a mapping of records; {recover}")
            if kind in KINDS and not all("spec" in r and "fingerprint" in r for r in section.values()):
                raise RegistryError(f"registry {self.path}: a record of `{kind}` lacks its spec; {recover}")
        self.data.update(loaded)
        self.data["project"] = self.project

    @property
    def exists(self) -> bool:
        return self.path.exists()

    @contextmanager
    def transaction(self) -> Iterator[Registry]:
        """Read-modify-write under the registry's lock: re-read, let the caller change it, save."""
        from filelock import FileLock, Timeout

        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(f"{self.path}.lock", timeout=LOCK_TIMEOUT_SECONDS)
        try:
            with lock:
                self._load()
                yield self
                self.save()
        except Timeout:
            raise RegistryError(
                f"registry {self.path} stayed locked by another sqlfeat process for {LOCK_TIMEOUT_SECONDS} s; "
                f"retry when it is done (or remove {self.path}.lock if no sqlfeat process is running)"
            ) from None

    def fingerprints(self) -> dict[str, dict[str, str]]:
        """Every definition's fingerprint, by kind: what a plan was made against."""
        return {kind: {name: r["fingerprint"] for name, r in self.data[kind].items()} for kind in KINDS}

    def _objects(self, kind: str) -> dict[str, Any]:
        return {name: _LOADERS[kind](record["spec"]) for name, record in self.data[kind].items()}

    def entities(self) -> dict[str, Entity]:
        return self._objects("entities")

    def data_sources(self) -> dict[str, DataSource]:
        return self._objects("data_sources")

    def feature_views(self) -> dict[str, FeatureView]:
        return self._objects("feature_views")

    def feature_services(self) -> dict[str, FeatureService]:
        return self._objects("feature_services")

    def on_demand_feature_views(self) -> dict[str, OnDemandFeatureView]:
        """Registered on-demand views; each function is re-created from its stored source."""
        return self._objects("on_demand_feature_views")

    def record(self, kind: str, name: str) -> dict[str, Any] | None:
        """The stored record (spec, fingerprint, created, updated) of one object, as a copy."""
        record = self.data[kind].get(name)
        return json.loads(json.dumps(record)) if record is not None else None

    def fingerprint_of(self, kind: str, name: str) -> str | None:
        record = self.data[kind].get(name)
        return record["fingerprint"] if record else None

    # -- planning ---------------------------------------------------------------------------
    def plan(self, contents: RepoContents, partial: bool = False, target: OnlineTarget | None = None) -> RegistryPlan:
        """What applying ``contents`` changes; ``partial`` keeps objects it does not mention.
        With ``target`` (the configured online store), views materialized elsewhere get a notice."""
        plan = RegistryPlan(based_on=self.fingerprints())
        new_specs = {
            "entities": {e.name: e.to_spec() for e in contents.entities},
            "data_sources": {s.name: s.to_spec() for s in contents.data_sources},
            "feature_views": {v.name: v.to_spec() for v in contents.feature_views},
            "on_demand_feature_views": {v.name: v.to_spec() for v in contents.on_demand_feature_views},
        }
        new_specs["feature_services"] = self._service_specs(contents, new_specs, partial)
        for kind in KINDS:
            current = {name: record["spec"] for name, record in self.data[kind].items()}
            merged = {**current, **new_specs[kind]} if partial else dict(new_specs[kind])
            plan.specs[kind] = merged
            for name, spec in new_specs[kind].items():
                if name not in current:
                    plan.changes.append(Change(kind, name, "add"))
                elif fingerprint(spec) != fingerprint(current[name]):
                    plan.changes.append(self._change(kind, name, current[name], spec))
            if not partial:
                for name in sorted(current.keys() - new_specs[kind].keys()):
                    self.plan_removal(plan, kind, name, target)
        if target is not None:
            for view, where in sorted(self.elsewhere(target).items()):
                if view in plan.specs["feature_views"]:  # a deleted view's change says where its values stay
                    plan.notices.append(
                        f"feature view {view} was materialized into {where}; the configured online store is "
                        f"{target.describe()}: the next materialize-incremental backfills its full history"
                    )
        self._plan_pending_teardowns(plan, target)
        return plan

    # -- feature services ---------------------------------------------------------------------
    def _service_specs(self, contents: RepoContents, new_specs: dict[str, dict], partial: bool) -> dict[str, dict]:
        """The repo's feature services, resolved against the views and entities the apply
        registers (the features each serves listed, so the plan shows when they change)."""
        from sqlfeat.definitions.feature_service import resolve_service_spec

        merged = {k: {**{n: r["spec"] for n, r in self.data[k].items()}, **new_specs[k]} if partial else new_specs[k]
                  for k in ("feature_views", "entities", "on_demand_feature_views")}  # fmt: skip
        removed = set(self.data["feature_views"]) - set(merged["feature_views"])
        return {
            s.name: resolve_service_spec(s.to_spec(), merged["feature_views"], merged["entities"], removed,
                                         merged["on_demand_feature_views"])  # fmt: skip
            for s in contents.feature_services
        }

    def check_feature_services(self, plan: RegistryPlan) -> None:
        """Every service the plan keeps still finds its views and features (a view deleted with
        ``objects_to_delete`` while a service uses it is an error naming both)."""
        from sqlfeat.definitions.feature_service import resolve_service_spec

        views = plan.specs.get("feature_views", {})
        for spec in plan.specs.get("feature_services", {}).values():
            resolve_service_spec(spec, views, plan.specs.get("entities", {}), set(self.data["feature_views"]) - set(views),
                                 plan.specs.get("on_demand_feature_views", {}))  # fmt: skip

    # -- saved datasets (kept by every apply) --------------------------------------------------
    def saved_datasets(self) -> dict[str, SavedDataset]:
        return {name: SavedDataset.from_spec(record) for name, record in self.data["saved_datasets"].items()}

    def record_saved_dataset(self, dataset: SavedDataset) -> None:
        """Record ``dataset`` (call inside ``transaction()``); a record of the same name is replaced."""
        self.data["saved_datasets"][dataset.name] = json.loads(json.dumps(dataset.to_spec(), default=str))

    def plan_removal(self, plan: RegistryPlan, kind: str, name: str, target: OnlineTarget | None) -> None:
        """Add the deletion of ``name`` to ``plan``; for a materialized view, say what happens to
        its online values: deleted by apply from the configured store, or kept as pending."""
        plan.specs[kind].pop(name, None)
        if name not in self.data[kind]:
            return
        record = self.data["materializations"].get(name) if kind == "feature_views" else None
        details: tuple[str, ...] = ()
        where = self._target_of(record) if record else None
        if record and where is None:
            details = ("its online values, in an online store recorded before sqlfeat named stores, stay there: "
                       "delete them with that store's tools",)  # fmt: skip
        elif where is not None and where == target:
            details = (f"apply deletes its online values from {where.describe()}",)
            plan.teardowns.append(Teardown(name, where, ""))
        elif where is not None:
            details = (f"its online values stay in {where.describe()}, which is not the configured online store: "
                       "recorded as pending deletion, done by an apply whose online_store points there",)  # fmt: skip
        plan.changes.append(Change(kind, name, "remove", details))

    def _plan_pending_teardowns(self, plan: RegistryPlan, target: OnlineTarget | None) -> None:
        for teardown in self.pending_teardowns():
            if teardown.target == target:
                plan.teardowns.append(teardown)
            else:
                plan.notices.append(
                    f"the online values of deleted feature view {teardown.view} are still in "
                    f"{teardown.target.describe()}: an apply whose online_store points there deletes them"
                )

    def _change(self, kind: str, name: str, old: dict, new: dict) -> Change:
        if kind == "feature_services":
            from sqlfeat.definitions.feature_service import service_changes

            return Change(kind, name, "change", service_changes(old, new))
        if kind == "on_demand_feature_views":
            from sqlfeat.definitions.on_demand import on_demand_changes

            return Change(kind, name, "change", on_demand_changes(old, new))
        if kind != "feature_views":
            keys = sorted(k for k in new.keys() | old.keys() if old.get(k) != new.get(k))
            return Change(kind, name, "change", tuple(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys))
        details: list[str] = []
        breaking = False
        old_fields, new_fields = _fields(old), _fields(new)
        for field_name in new_fields.keys() - old_fields.keys():
            details.append(f"adds field {field_name} ({new_fields[field_name]})")
        for field_name in sorted(old_fields.keys() - new_fields.keys()):
            details.append(f"removes field {field_name} ({old_fields[field_name]})")
            breaking = True
        for field_name in sorted(old_fields.keys() & new_fields.keys()):
            if old_fields[field_name] != new_fields[field_name]:
                details.append(f"retypes field {field_name}: {old_fields[field_name]} -> {new_fields[field_name]}")
                breaking = True
        old_aggregations = {a["name"]: a for a in old.get("aggregations", [])}
        for aggregation in new.get("aggregations", []):
            before = old_aggregations.get(aggregation["name"])
            if before and {**before, "dtype": None} != {**aggregation, "dtype": None}:
                details.append(
                    f"redefines aggregation {aggregation['name']}: {before['function']}({before['column']}) over "
                    f"{before['window_seconds']}s -> {aggregation['function']}({aggregation['column']}) over "
                    f"{aggregation['window_seconds']}s"
                )
                breaking = True
        if old["entities"] != new["entities"]:
            details.append(f"entities: {old['entities']} -> {new['entities']}")
            breaking = True
        if fingerprint(old["source"]) != fingerprint(new["source"]):
            details.append("source changed")
            breaking = True
        pushed = [(spec.get("stream_source") or {}).get("name") for spec in (old, new)]
        if pushed[0] != pushed[1]:
            details.append(f"push source: {pushed[0]} -> {pushed[1]}")
        if old.get("ttl_seconds") != new.get("ttl_seconds"):
            details.append(f"ttl: {old.get('ttl_seconds')}s -> {new.get('ttl_seconds')}s (enforced at read time)")
        freshness = ("freshness_warn_after_seconds", "freshness_error_after_seconds")
        for key in ("online", "description", "tags", "owner", *freshness):
            if old.get(key) != new.get(key):
                details.append(f"{key}: {old.get(key)!r} -> {new.get(key)!r}")
        online = new.get("online", True)
        invalidates = breaking and online
        backfill = online and not breaking and bool(new_fields.keys() - old_fields.keys())
        if invalidates:
            watermark = self.data["materializations"].get(name, {}).get("watermark")
            state = f"materialized up to {watermark}" if watermark else "not materialized yet"
            details.append(f"online data must be re-materialized ({state}); apply resets its watermark")
        elif backfill and name in self.data["materializations"]:
            details.append("the new fields are not online yet: apply resets the watermark, so the next "
                           "materialize-incremental backfills the full history")
        return Change(kind, name, "change", tuple(details), invalidates, backfill)

    # -- writing ----------------------------------------------------------------------------
    def apply(self, plan: RegistryPlan) -> None:
        """Write ``plan`` under the lock; refuse if another apply changed the definitions since
        the plan was made. Materialization records written meanwhile are kept."""
        with self.transaction():
            if plan.based_on and self.fingerprints() != plan.based_on:
                raise RegistryError(
                    f"registry {self.path} changed while this apply was validating (another `sqlfeat apply` "
                    "ran): nothing was written; rerun `sqlfeat apply`"
                )
            self._write_plan(plan)

    def _write_plan(self, plan: RegistryPlan) -> None:
        now = _now()
        for kind in KINDS:
            old = self.data[kind]
            records = {}
            for name, spec in plan.specs[kind].items():
                previous = old.get(name)
                fp = fingerprint(spec)
                if previous and previous["fingerprint"] == fp:
                    records[name] = previous
                else:
                    created = previous["created"] if previous else now
                    records[name] = {"spec": spec, "fingerprint": fp, "created": created, "updated": now}
            self.data[kind] = records
        for name in plan.views_to_backfill:
            self.data["materializations"].pop(name, None)
        for name in list(self.data["materializations"]):
            if name not in self.data["feature_views"]:
                self._schedule_teardown(name, now)
                del self.data["materializations"][name]
        self.data["last_updated"] = now

    def save(self) -> None:
        """Replace the file atomically (callers hold the lock: see ``transaction``)."""
        from sqlfeat.files import write_text_atomic

        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.path, json.dumps(self.data, indent=2, sort_keys=True, default=str) + "\n")
