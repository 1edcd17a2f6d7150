"""``FeatureStore``'s direct writes and async serving (Feast's names): ``push``,
``write_to_online_store``, ``write_to_offline_store`` and ``get_online_features_async``. A base
class of ``FeatureStore`` (``store.py``), kept apart so each file holds one concern; the work is in
``push_frames.py`` (checking the rows), ``online/push.py`` and ``offline_write.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlfeat.definitions import FeatureService, PushMode
from sqlfeat.errors import UsageError

if TYPE_CHECKING:
    from sqlfeat.online.response import OnlineResponse
    from sqlfeat.push_frames import PushedRows


class PushSurface:
    """Direct writes; expects ``FeatureStore``'s attributes (``project``, ``repo_path``,
    ``offline_store``, ``online_store``, ``_applied()``, ``_serving_plan()``)."""

    def _pushed(self, view_name: str, df: Any, what: str) -> PushedRows:
        from sqlfeat.push_frames import pushed_rows

        registry = self._applied()
        view = self.get_feature_view(view_name)
        return pushed_rows(view, registry.feature_views(), registry.entities(), df, what)

    def write_to_online_store(self, feature_view_name: str, df: Any, allow_registry_cache: bool = True) -> None:
        """Write ``df``'s rows (join keys, event timestamp, every feature) to the online store:
        per entity, the newest row, and only over an older stored one. Does not move the
        materialization watermark; the offline source is not touched."""
        from sqlfeat.online.push import write_online

        pushed = self._pushed(feature_view_name, df, f"write_to_online_store({feature_view_name!r})")
        write_online(self, self.online_store, self.project, pushed)

    def write_to_offline_store(
        self, feature_view_name: str, df: Any, allow_registry_cache: bool = True, reorder_columns: bool = True
    ) -> None:
        """Append ``df``'s rows to the view's batch source (a new parquet file in a FileSource's
        folder, or an INSERT into its table). Columns are written by name, so their order never
        matters (``reorder_columns`` is accepted for Feast's signature)."""
        from sqlfeat.offline_write import append_offline

        what = f"write_to_offline_store({feature_view_name!r})"
        append_offline(self.offline_store, self.repo_path, self._pushed(feature_view_name, df, what), what)

    def push(
        self, push_source_name: str, df: Any, allow_registry_cache: bool = True, to: PushMode = PushMode.ONLINE
    ) -> None:
        """Write ``df`` to every feature view whose source is push source ``push_source_name``:
        online, offline (appended to the batch source) or both. Every view's rows are checked
        before anything is written; offline is written first, so a row online is also offline."""
        from sqlfeat.offline_write import append_offline
        from sqlfeat.online.push import check_online, views_of_push_source, write_online

        if not isinstance(to, PushMode):
            raise UsageError(f"push(to=...) takes PushMode.ONLINE, OFFLINE or ONLINE_AND_OFFLINE, got {to!r}")
        registry = self._applied()
        views = views_of_push_source(registry.feature_views(), push_source_name, registry.data_sources())
        what = f"push({push_source_name!r})"
        online = to in (PushMode.ONLINE, PushMode.ONLINE_AND_OFFLINE)
        offline = to in (PushMode.OFFLINE, PushMode.ONLINE_AND_OFFLINE)
        checked = [self._pushed(view.name, df, what) for view in views]  # every view checked first
        # Online: the views served online (as Feast); none of them is an error.
        served = [pushed for pushed in checked if pushed.request.view.online] if online else []
        for pushed in served or (checked[:1] if online else []):
            check_online(pushed.request.view)
        if offline:
            appended = set()  # views sharing one batch source: its rows are appended once
            for pushed in checked:
                source = pushed.request.view.source.name
                if source not in appended:
                    appended.add(source)
                    append_offline(self.offline_store, self.repo_path, pushed, what)
        for pushed in served:
            write_online(self, self.online_store, self.project, pushed)

    async def get_online_features_async(
        self, features: Sequence[str] | FeatureService, entity_rows: Any, full_feature_names: bool = False
    ) -> OnlineResponse:
        """``get_online_features`` without blocking the event loop: the same plan and response;
        Redis reads through ``redis.asyncio``, other stores in a worker thread."""
        from sqlfeat.online import serving

        plan = self._serving_plan(features, full_feature_names)
        return await serving.get_online_features_async(self.online_store, plan, entity_rows)
