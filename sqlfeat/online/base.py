"""What every online store does (``OnlineStore``) and shares: the key layout and value encodings.

Layout, the same for every store (docs/online-stores.md): one record per project, per view, per
entity, holding every feature of that view's newest row plus its event time (``:ts``, microseconds
since the epoch, UTC) and created time (``:cts``). Records are addressed by

    <project>:<view>:<entity key>

where the entity key is the join-key values in the view's join-key order, joined by ``,`` (a
``,`` or ``\\`` inside a string value of a composite key is escaped with ``\\``): ``42``,
``42,DE``. ``:`` cannot occur in project or view names, so addresses never collide. A view
without entities (a global statistic) has one record, whose entity key is empty
(``ENTITYLESS_KEY``): Feast's dummy entity, join key ``__dummy_id`` valued ``""``, written the
way this layout writes keys (values only). Every entity row reads it.

Value encodings are in ``codec.py``.

A store with size limits (DynamoDB) refuses an entity it cannot hold and writes the rest:
``write_batch`` returns a ``WriteResult`` naming each ``Rejection`` (view, join-key values, the
limit, the size, the fix), which materialization counts per view and reports.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, ClassVar

from sqlfeat.compiler.plan import CREATED_TS, EVENT_TS
from sqlfeat.errors import DefinitionError, OnlineStoreError

if TYPE_CHECKING:
    import pyarrow as pa

    from sqlfeat.compiler.plan import ViewRequest
    from sqlfeat.types import FeatureType

# Record fields sqlfeat adds beside the features; ':' cannot start a feature name.
KEY_FIELD = ":key"
TS_FIELD = ":ts"
CREATED_FIELD = ":cts"
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# The entity key of a view without entities: its one record (Feast's ``__dummy_id`` = "").
ENTITYLESS_KEY = ""


@dataclass(frozen=True)
class OnlineView:
    """One feature view as an online store sees it: where its records live and what they hold."""

    project: str
    name: str
    join_keys: tuple[str, ...]
    key_dtypes: tuple[FeatureType | None, ...]
    features: tuple[str, ...]
    dtypes: tuple[FeatureType, ...]
    ttl: timedelta | None = None

    @classmethod
    def from_request(cls, project: str, request: ViewRequest) -> OnlineView:
        """The layout of a plan entry built with every feature of the view (short names)."""
        return cls(
            project, request.name, request.join_keys, request.key_dtypes,
            tuple(f.name for f in request.features), tuple(f.dtype for f in request.features), request.view.ttl,
        )  # fmt: skip

    @property
    def prefix(self) -> str:
        return f"{self.project}:{self.name}:"

    def dtype(self, feature: str) -> FeatureType:
        return self.dtypes[self.features.index(feature)]


@dataclass
class OnlineRows:
    """A store's answer for a list of entity keys, in that order: each key's event time
    (microseconds; ``None`` when the store has no record) and each requested feature's values."""

    event_ts: list[int | None]
    columns: dict[str, list[Any]]


@dataclass(frozen=True)
class Rejection:
    """One entity a store refused to write because its record breaks a limit of the store.

    A limit is deterministic: rerunning the write refuses it again, so the caller must report
    it, never retry it. ``key`` holds the entity's join-key values, in join-key order.
    """

    view: str
    key: dict[str, Any]
    limit: str  # what is too large, e.g. "DynamoDB partition key"
    size: int  # bytes, as the store counts them
    maximum: int  # bytes allowed
    fix: str  # what the user can change, e.g. "shorten the entity key"

    @property
    def reason(self) -> str:
        return f"{self.limit} over {self.maximum:,} bytes"

    def describe(self) -> str:
        """``user_id='kkk…' (3,000 chars): DynamoDB partition key is 3,020 bytes, over ...``."""
        keys = ", ".join(f"{name}={short_repr(value)}" for name, value in self.key.items())
        keys = keys or "its one record (the view has no entities)"
        return f"{keys}: {self.limit} is {self.size:,} bytes, over the {self.maximum:,}-byte limit; {self.fix}"


@dataclass
class WriteResult:
    """What ``OnlineStore.write_batch`` did with one batch: ``rows`` entities handed to the store
    (written, or kept out by a newer stored row), and the ``rejected`` ones it could not hold."""

    rows: int
    rejected: list[Rejection] = field(default_factory=list)


class OnlineStore(ABC):
    """A live connection to one online store; subclasses live in ``sqlfeat/online/<type>.py``."""

    TYPE: ClassVar[str] = ""
    # Reachable from other machines (a server, a service): a warehouse's executors can write it.
    SHARED: ClassVar[bool] = True

    @abstractmethod
    def write_batch(self, view: OnlineView, batch: pa.RecordBatch) -> WriteResult:
        """Write one batch of the latest-values query (one row per entity).

        Each entity's record is replaced whole and atomically, and only when the row is at least
        as new, by (event time, created time), as what the store holds. An entity whose record
        breaks one of the store's limits is not sent: it is returned as a ``Rejection`` and every
        other entity of the batch is still written.
        """

    @abstractmethod
    def read(self, view: OnlineView, features: Sequence[str], entity_keys: Sequence[str]) -> OnlineRows:
        """Read ``features`` of ``view`` for encoded entity keys in one batched round trip."""

    def read_many(self, requests: Sequence[tuple[OnlineView, Sequence[str], Sequence[str]]]) -> list[OnlineRows]:
        """Several ``read`` calls (view, features, keys); stores that can, answer in one round trip."""
        return [self.read(view, features, keys) for view, features, keys in requests]

    async def read_many_async(
        self, requests: Sequence[tuple[OnlineView, Sequence[str], Sequence[str]]]
    ) -> list[OnlineRows]:
        """``read_many`` without blocking the event loop: in a worker thread, unless the store
        has an async client (Redis)."""
        import asyncio

        return await asyncio.to_thread(self.read_many, requests)

    @abstractmethod
    def teardown(self, view: OnlineView) -> None:
        """Delete every record of ``view``; never raises for a view that has none."""

    @abstractmethod
    def describe(self) -> str:
        """Where this store is, for messages: ``redis at 127.0.0.1:6379``."""

    def close(self) -> None:  # optional hook
        pass

    def unreachable(self, err: BaseException, action: str) -> OnlineStoreError:
        return OnlineStoreError(
            f"{self.describe()} failed {action}: {err}. Check that it is running and that "
            "online_store in feature_store.yaml points at it"
        )


# -- entity keys ----------------------------------------------------------------------------------
def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,")


def key_text(value: Any) -> str:
    """One join-key value as key text; must agree with :func:`encode_key_column`."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, datetime):
        return str(to_micros(value))  # naive: UTC, as everywhere in sqlfeat
    return str(int(value))


def key_values(view: OnlineView, batch: pa.RecordBatch, row: int) -> dict[str, Any]:
    """The join-key values of one row of a batch, to name an entity in a message."""
    return {key: batch.column(key)[row].as_py() for key in view.join_keys}


def short_repr(value: Any, limit: int = 40) -> str:
    """``repr(value)``, cut to about ``limit`` characters: an oversized key must not flood a message."""
    text = repr(value)
    if len(text) <= limit:
        return text
    if isinstance(value, (str, bytes)):
        return f"{text[:limit]}… ({len(value):,} {'bytes' if isinstance(value, bytes) else 'chars'})"
    return f"{text[:limit]}…"


def entity_key(values: Sequence[Any]) -> str:
    """The entity part of a record's address from its join-key values (already type-checked);
    no values (a view without entities): ``ENTITYLESS_KEY``."""
    if not values:
        return ENTITYLESS_KEY
    if len(values) == 1:
        return key_text(values[0])
    return ",".join(_escape(v) if isinstance(v, str) else key_text(v) for v in values)


def encode_key_column(array: pa.Array, key: str, view: str, composite: bool) -> pa.Array:
    """A join-key column as key text, vectorized (bytes keys: per value, they are rare)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    if pa.types.is_integer(kind):
        return pc.cast(array, pa.string())
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = pc.cast(array, pa.string())
        if composite:
            text = pc.replace_substring(pc.replace_substring(text, "\\", "\\\\"), ",", "\\,")
        return text
    if pa.types.is_timestamp(kind):
        return pc.cast(micros(array), pa.string())
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return pa.array([None if v is None else v.hex() for v in array.to_pylist()], pa.string())
    raise DefinitionError(
        f"join key {key!r} of feature view {view!r} is {kind} in the source: online keys must be "
        "integers, strings, bytes or timestamps; cast the column in the source"
    )


def batch_keys(view: OnlineView, batch: pa.RecordBatch) -> list[str]:
    """Every row's entity key (without the project/view prefix)."""
    import pyarrow.compute as pc

    if not view.join_keys:  # a view without entities: every row is its one record
        return [ENTITYLESS_KEY] * batch.num_rows
    composite = len(view.join_keys) > 1
    parts = [encode_key_column(batch.column(k), k, view.name, composite) for k in view.join_keys]
    joined = parts[0] if not composite else pc.binary_join_element_wise(*parts, ",")
    return joined.to_pylist()


# -- timestamps -----------------------------------------------------------------------------------
def micros(array: pa.Array) -> pa.Array:
    import pyarrow as pa

    return array.cast(pa.timestamp("us", tz="UTC"), safe=False).cast(pa.int64())


def batch_times(batch: pa.RecordBatch) -> tuple[list[int], list[int | None]]:
    """Event and created times of every row as microseconds (created: ``None`` when absent)."""
    names = batch.schema.names
    event = micros(batch.column(names.index(EVENT_TS))).to_pylist()
    if CREATED_TS not in names:
        return event, [None] * len(event)
    return event, micros(batch.column(names.index(CREATED_TS))).to_pylist()


def from_micros(value: int | str | bytes) -> datetime:
    return EPOCH + timedelta(microseconds=int(value))


def to_micros(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return (value - EPOCH) // timedelta(microseconds=1)
