"""``PushSource`` (Feast's name): a source rows are pushed to (``store.push``) rather than read
from. It wraps a ``batch_source``: the source offline retrieval and materialization read, and
where ``push(..., to=PushMode.OFFLINE)`` appends. A feature view whose ``source`` is a push
source keeps the push source as ``stream_source`` and reads its ``batch_source`` (as in Feast).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

from sqlfeat.definitions import sources
from sqlfeat.definitions.sources import DataSource, source_from_spec
from sqlfeat.errors import DefinitionError


class PushMode(Enum):
    """Where ``store.push`` writes: the online store, the offline (batch) source, or both."""

    ONLINE = 1
    OFFLINE = 2
    ONLINE_AND_OFFLINE = 3


@dataclass(frozen=True, kw_only=True)
class PushSource(DataSource):
    """``PushSource(name="driver_stats_push", batch_source=driver_stats_source)``.

    Its timestamp columns and ``field_mapping`` are its batch source's: a pushed DataFrame has the
    columns the batch source has (or their ``field_mapping`` names)."""

    kind: ClassVar[str] = "push"

    batch_source: DataSource | None = None

    def __post_init__(self, event_timestamp_column: str | None) -> None:
        batch = self.batch_source
        if isinstance(batch, dict):  # from the registry: the batch source's own spec
            batch = source_from_spec(batch)
            object.__setattr__(self, "batch_source", batch)
        if not self.name:
            raise DefinitionError("PushSource needs name='<push source name>'")
        if not isinstance(batch, DataSource) or isinstance(batch, PushSource):
            raise DefinitionError(
                f"PushSource {self.name!r} needs batch_source=<a FileSource or table source the pushed rows are "
                f"appended to and read from>, got {batch!r}"
            )
        for name in ("timestamp_field", "created_timestamp_column", "field_mapping"):
            object.__setattr__(self, name, getattr(batch, name))
        super().__post_init__(None)

    def __hash__(self) -> int:
        return hash((self.kind, self.name))

    def to_spec(self) -> dict[str, Any]:
        assert self.batch_source is not None
        return {
            "kind": self.kind, "name": self.name, "batch_source": self.batch_source.to_spec(),
            "description": self.description, "tags": self.tags, "owner": self.owner,
        }  # fmt: skip


sources._SOURCE_KINDS[PushSource.kind] = PushSource  # source_from_spec builds it from its spec
