"""DynamoDB: ``online_store: {type: dynamodb, region: us-east-1, table_name: sqlfeat_online}``.

One table (created on first write, on-demand capacity) with partition key ``:key`` =
``<project>:<view>:<entity key>``; one item per project, view and entity holding ``:ts``,
``:cts`` (numbers, microseconds) and one attribute per feature (text as ``S``, ``Bytes`` as
``B``; a null feature is an absent attribute). An item is replaced whole by one put, so it never
mixes two rows. ``write_mode`` picks how an older row is kept from overwriting a newer one:

- ``conditional`` (default): one ``PutItem`` per entity with a ``ConditionExpression`` on
  (``:ts``, ``:cts``), ``max_workers`` in parallel. Strict even with concurrent writers.
- ``batch``: ``BatchGetItem`` the stored versions (100 keys a request), then ``BatchWriteItem``
  only the newer rows (25 items and 16 MB as sent a request, ``UnprocessedItems`` retried with
  backoff). About 5x fewer requests, but two materializations of one view running at once could
  race.

DynamoDB's size limits (``dynamodb_limits.py``) are checked before sending, in both modes: an
entity whose partition key is over 2,048 bytes or whose item is over 400 KB is not sent but
returned as a ``Rejection`` naming it, and the rest of the batch is written.

Reads are ``BatchGetItem`` in chunks of 100 keys, ``UnprocessedKeys`` retried with backoff; a key
too long to be stored is never asked for (DynamoDB would refuse the whole request) and reads null.
Optional keys: ``endpoint_url`` (a local stand-in), ``consistent_reads`` (default false).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlfeat.errors import ConfigError, OnlineStoreError
from sqlfeat.online.base import (
    CREATED_FIELD,
    KEY_FIELD,
    TS_FIELD,
    OnlineRows,
    OnlineStore,
    OnlineView,
    Rejection,
    WriteResult,
    batch_keys,
    batch_times,
    key_values,
)
from sqlfeat.online.codec import decode_values, feature_array, text_column, text_decoder
from sqlfeat.online.dynamodb_limits import (
    ITEM_BYTES,
    KEY_BYTES,
    NUMBER_TEXT,
    READ_KEYS,
    WRITE_ITEMS,
    item_bytes,
    largest_attribute,
    put_request_bound,
    utf8_bytes,
    write_requests,
)
from sqlfeat.types import Family

if TYPE_CHECKING:
    import pyarrow as pa

    from sqlfeat.types import FeatureType

MAX_ATTEMPTS = 8
_RECORD_FIELDS = (KEY_FIELD, TS_FIELD, CREATED_FIELD)
_KEY_FIX = "shorten the entity key (the partition key is {prefix!r} plus it: hash long keys, for example)"
_NAMES = {"#k": KEY_FIELD, "#ts": TS_FIELD, "#cts": CREATED_FIELD}
_NEWER_WITH_CREATED = "attribute_not_exists(#k) OR #ts < :ts OR (#ts = :ts AND (attribute_not_exists(#cts) OR #cts <= :cts))"
_NEWER_WITHOUT_CREATED = "attribute_not_exists(#k) OR #ts < :ts OR (#ts = :ts AND attribute_not_exists(#cts))"


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _backoff(attempt: int) -> None:
    time.sleep(min(0.05 * 2**attempt, 2.0))


def _longest(array: pa.Array, values: list, dtype: FeatureType) -> int:
    """The most bytes one value of a feature column takes (stored, in DynamoDB's count)."""
    import pyarrow.compute as pc

    if dtype.family is Family.STRING:  # UTF-8 bytes, not characters
        return pc.max(pc.binary_length(array)).as_py() or 0
    # Every other encoding is ASCII text or raw bytes: its length is its size.
    return max(map(len, filter(None, values)), default=0)


def _version(item: dict) -> tuple[int, float]:
    created = item.get(CREATED_FIELD)
    return int(item[TS_FIELD]["N"]), (int(created["N"]) if created else float("-inf"))


class DynamoDBOnlineStore(OnlineStore):
    TYPE = "dynamodb"

    def __init__(
        self, region: str, table_name: str, endpoint_url: str | None = None, write_mode: str = "conditional",
        max_workers: int = 8, consistent_reads: bool = False,
    ) -> None:  # fmt: skip
        if write_mode not in ("conditional", "batch"):
            raise ConfigError(f"online_store.write_mode {write_mode!r} must be 'conditional' or 'batch'")
        self.region, self.table_name, self.endpoint_url = region, table_name, endpoint_url
        self.write_mode, self.max_workers, self.consistent_reads = write_mode, max(1, int(max_workers)), consistent_reads
        self.requests: Counter[str] = Counter()  # API calls made, by operation
        self.items: Counter[str] = Counter()  # items sent, by operation
        self._lock = threading.Lock()
        self._client = None
        self._table_ready = False

    def describe(self) -> str:
        where = f" at {self.endpoint_url}" if self.endpoint_url else f" in {self.region}"
        return f"dynamodb online store (table {self.table_name!r}{where})"

    @property
    def client(self):
        if self._client is None:
            import boto3
            from botocore.config import Config
            from botocore.exceptions import BotoCoreError, ClientError

            self._errors = (BotoCoreError, ClientError)
            config = Config(
                retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30,
                max_pool_connections=self.max_workers + 2,
            )  # fmt: skip
            self._client = boto3.client(
                "dynamodb", region_name=self.region, endpoint_url=self.endpoint_url, config=config
            )
        return self._client

    def _call(self, operation: str, items: int, action: str, expected: tuple[str, ...] = (), **kwargs: Any) -> dict:
        """One API call, counted; a failure becomes an OnlineStoreError unless its code is ``expected``."""
        with self._lock:
            self.requests[operation] += 1
            self.items[operation] += items
        client = self.client
        try:
            return getattr(client, operation)(**kwargs)
        except self._errors as err:
            code = getattr(err, "response", {}).get("Error", {}).get("Code")
            if code in expected:
                raise
            if code == "ValidationException":
                raise self._refused(err, action) from None
            raise self.unreachable(err, action) from None

    def _refused(self, err: BaseException, action: str) -> OnlineStoreError:
        """DynamoDB refused a request as invalid: sending it again cannot help, so say so."""
        refused = OnlineStoreError(
            f"{self.describe()} refused {action} as invalid: {err}. This is not transient: a rerun "
            "sends the same request and fails the same way. sqlfeat checks DynamoDB's size limits "
            "before sending, so please report this with the feature view and its data types"
        )
        refused.transient = False
        return refused

    def _ensure_table(self) -> None:
        """Create the table (on-demand capacity) on first write when it does not exist."""
        if self._table_ready:
            return
        try:
            self._call("describe_table", 0, "describing its table", ("ResourceNotFoundException",),
                       TableName=self.table_name)  # fmt: skip
        except self._errors:
            try:
                self._call(
                    "create_table", 0, "creating its table", ("ResourceInUseException",), TableName=self.table_name,
                    BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": KEY_FIELD, "KeyType": "HASH"}],
                    AttributeDefinitions=[{"AttributeName": KEY_FIELD, "AttributeType": "S"}],
                )  # fmt: skip
            except self._errors:
                pass  # another writer created it meanwhile
            try:
                self.client.get_waiter("table_exists").wait(
                    TableName=self.table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
                )
            except self._errors as err:
                raise self.unreachable(err, "waiting for its new table") from None
        self._table_ready = True

    # -- writing ----------------------------------------------------------------------------------
    def _items(self, view: OnlineView, batch: pa.RecordBatch) -> tuple[list[dict], int]:
        """The batch's items, and an upper bound on any one's size without its key value.

        The bound counts each number at its text length, so it also bounds the JSON sent
        (``put_request_bound``); computed per column, it spares measuring small items one by one.
        """
        prefix = view.prefix
        keys = batch_keys(view, batch)
        event, created = batch_times(batch)
        attributes = []
        bound = sum(map(utf8_bytes, _RECORD_FIELDS)) + 2 * NUMBER_TEXT
        for feature in view.features:
            dtype = view.dtype(feature)
            tag = "B" if dtype.family is Family.BYTES else "S"
            array = feature_array(view, batch, feature)
            values = text_column(array, dtype)
            attributes.append((feature, tag, values))
            bound += utf8_bytes(feature) + _longest(array, values, dtype)
        items = []
        for row, key in enumerate(keys):
            item = {KEY_FIELD: {"S": prefix + key}, TS_FIELD: {"N": str(event[row])}}
            if created[row] is not None:
                item[CREATED_FIELD] = {"N": str(created[row])}
            for feature, tag, values in attributes:
                value = values[row]
                if value is not None:
                    item[feature] = {tag: value}
            items.append(item)
        return items, bound

    def _within_limits(
        self, view: OnlineView, batch: pa.RecordBatch, items: list[dict], bound: int
    ) -> tuple[list[dict], list[Rejection], int]:
        """The items DynamoDB can hold, the rejections of the others, and a bound on the kept ones' size."""
        kept: list[dict] = []
        rejected: list[Rejection] = []
        longest_key = 0
        measure = bound + KEY_BYTES > ITEM_BYTES  # else no item with a legal key can be too large
        for row, item in enumerate(items):
            key = utf8_bytes(item[KEY_FIELD]["S"])
            if key > KEY_BYTES:
                rejected.append(Rejection(
                    view.name, key_values(view, batch, row), "DynamoDB partition key", key, KEY_BYTES,
                    _KEY_FIX.format(prefix=view.prefix),
                ))  # fmt: skip
            elif measure and (size := item_bytes(item)) > ITEM_BYTES:
                name, part = largest_attribute(item, _RECORD_FIELDS)
                fix = f"shrink its values (feature {name!r} alone takes {part:,} bytes)"
                rejected.append(Rejection(
                    view.name, key_values(view, batch, row), "DynamoDB item", size, ITEM_BYTES, fix
                ))  # fmt: skip
            else:
                kept.append(item)
                longest_key = max(longest_key, key)
        return kept, rejected, bound + longest_key

    def _put_if_newer(self, item: dict) -> None:
        created = item.get(CREATED_FIELD)
        values = {":ts": item[TS_FIELD]}
        names = dict(_NAMES)
        if created:
            values[":cts"] = created
        try:
            self._call(
                "put_item", 1, "writing an item", ("ConditionalCheckFailedException",), TableName=self.table_name,
                Item=item, ConditionExpression=_NEWER_WITH_CREATED if created else _NEWER_WITHOUT_CREATED,
                ExpressionAttributeNames=names, ExpressionAttributeValues=values,
            )  # fmt: skip
        except self._errors:
            pass  # the stored row is newer: keep it

    def _stored_versions(self, keys: list[str], action: str) -> dict[str, tuple[int, float]]:
        found = self._batch_get(keys, ["#k", "#ts", "#cts"], dict(_NAMES), action)
        return {key: _version(item) for key, item in found.items()}

    def _batch_write(self, items: list[dict], action: str, bound: int | None = None) -> None:
        """Put ``items`` in requests of at most 25 items and 16 MB as sent (``bound``: see
        ``write_requests``), resending ``UnprocessedItems`` with backoff."""
        for chunk in write_requests(items, self.table_name, bound):
            pending = {self.table_name: [{"PutRequest": {"Item": item}} for item in chunk]}
            attempt = 0
            while True:
                size = len(pending[self.table_name])
                reply = self._call("batch_write_item", size, action, RequestItems=pending)
                pending = reply.get("UnprocessedItems") or {}
                if not pending:
                    break
                # Only rounds that write nothing use up attempts: a slow drain still finishes.
                attempt = 0 if len(pending[self.table_name]) < size else attempt + 1
                if attempt == MAX_ATTEMPTS:
                    raise OnlineStoreError(
                        f"{self.describe()} left {len(pending[self.table_name])} items unprocessed after "
                        f"{MAX_ATTEMPTS} attempts (throttled); raise the table's capacity and rerun"
                    )
                _backoff(attempt)

    def write_batch(self, view: OnlineView, batch: pa.RecordBatch) -> WriteResult:
        if batch.num_rows == 0:
            return WriteResult(0)
        items, bound = self._items(view, batch)
        # Checked before sending: one item DynamoDB refuses would fail its whole BatchWriteItem.
        items, rejected, bound = self._within_limits(view, batch, items, bound)
        if not items:
            return WriteResult(0, rejected)
        action = f"writing feature view {view.name!r}"
        self._ensure_table()
        if self.write_mode == "conditional":
            with ThreadPoolExecutor(self.max_workers) as pool:
                for _ in pool.map(self._put_if_newer, items):
                    pass
            return WriteResult(len(items), rejected)
        stored = self._stored_versions([item[KEY_FIELD]["S"] for item in items], action)
        newer = [item for item in items if item[KEY_FIELD]["S"] not in stored or _version(item) >= stored[item[KEY_FIELD]["S"]]]
        self._batch_write(newer, action, put_request_bound(bound, len(view.features) + len(_RECORD_FIELDS)))
        return WriteResult(len(items), rejected)

    # -- reading ----------------------------------------------------------------------------------
    def _batch_get(self, keys: list[str], projection: list[str], names: dict, action: str) -> dict[str, dict]:
        found: dict[str, dict] = {}
        # A key over DynamoDB's limit cannot be stored, and asking for it would fail the request.
        wanted = [key for key in dict.fromkeys(keys) if utf8_bytes(key) <= KEY_BYTES]
        for chunk in _chunks(wanted, READ_KEYS):
            request = {
                "Keys": [{KEY_FIELD: {"S": key}} for key in chunk], "ProjectionExpression": ", ".join(projection),
                "ExpressionAttributeNames": names, "ConsistentRead": self.consistent_reads,
            }  # fmt: skip
            pending = {self.table_name: request}
            attempt = 0
            while True:
                size = len(pending[self.table_name]["Keys"])
                try:
                    reply = self._call("batch_get_item", size, action, ("ResourceNotFoundException",),
                                       RequestItems=pending)  # fmt: skip
                except self._errors:
                    return {}  # no table: nothing materialized yet
                for item in reply.get("Responses", {}).get(self.table_name, []):
                    found[item[KEY_FIELD]["S"]] = item
                pending = reply.get("UnprocessedKeys") or {}
                if not pending:
                    break
                # A response holds at most 16 MB: the rest comes back unprocessed, and asking again
                # makes progress. Only rounds that return nothing (throttling) use up attempts.
                attempt = 0 if len(pending[self.table_name]["Keys"]) < size else attempt + 1
                if attempt == MAX_ATTEMPTS:
                    raise OnlineStoreError(
                        f"{self.describe()} left keys unprocessed after {MAX_ATTEMPTS} attempts (throttled); "
                        "raise the table's read capacity"
                    )
                _backoff(attempt)
        return found

    def read(self, view: OnlineView, features: Sequence[str], entity_keys: Sequence[str]) -> OnlineRows:
        prefix = view.prefix
        names = {"#k": KEY_FIELD, "#ts": TS_FIELD, **{f"#f{i}": f for i, f in enumerate(features)}}
        projection = ["#k", "#ts", *[f"#f{i}" for i in range(len(features))]]
        keys = [prefix + key for key in entity_keys]
        found = self._batch_get(keys, projection, names, f"reading feature view {view.name!r}")
        items = [found.get(key) for key in keys]
        columns: dict[str, list[Any]] = {}
        for feature in features:
            raw = [None if item is None or feature not in item else next(iter(item[feature].values())) for item in items]
            columns[feature] = decode_values(raw, text_decoder(view.dtype(feature)))
        return OnlineRows([None if item is None else int(item[TS_FIELD]["N"]) for item in items], columns)

    def teardown(self, view: OnlineView) -> None:
        action = f"deleting feature view {view.name!r}"
        request: dict[str, Any] = {
            "TableName": self.table_name, "ProjectionExpression": "#k", "ExpressionAttributeNames": {"#k": KEY_FIELD},
            "FilterExpression": "begins_with(#k, :prefix)", "ExpressionAttributeValues": {":prefix": {"S": view.prefix}},
        }  # fmt: skip
        try:
            while True:
                reply = self._call("scan", 0, action, ("ResourceNotFoundException",), **request)
                keys = [item[KEY_FIELD]["S"] for item in reply.get("Items", [])]
                for chunk in _chunks(keys, WRITE_ITEMS):
                    deletes = [{"DeleteRequest": {"Key": {KEY_FIELD: {"S": key}}}} for key in chunk]
                    self._call("batch_write_item", len(deletes), action, RequestItems={self.table_name: deletes})
                if "LastEvaluatedKey" not in reply:
                    break
                request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]
        except self._errors:
            pass  # no table: nothing to delete

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def connect(options: dict[str, Any], project: str, repo_path: Path) -> DynamoDBOnlineStore:
    import boto3  # noqa: F401 - fail now, with the install hint, when the driver is missing

    if not options.get("region"):
        raise ConfigError("online_store.region is required for dynamodb, e.g. `region: us-east-1`")
    return DynamoDBOnlineStore(
        str(options["region"]), str(options.get("table_name", "sqlfeat_online")), options.get("endpoint_url"),
        str(options.get("write_mode", "conditional")), int(options.get("max_workers", 8)),
        bool(options.get("consistent_reads", False)),
    )  # fmt: skip
