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
from typing import TYPE_CHECKING, Any, Literal

from pydantic import PositiveInt

from sqlfeat.errors import ConfigError, OnlineStoreError
from sqlfeat.online.base import (
    CREATED_FIELD,
    KEY_FIELD,
    TS_FIELD,
    OnlineRows,
    OnlineStore,
    OnlineView,
    WriteResult,
)
from sqlfeat.online.codec import decode_values, text_decoder
from sqlfeat.online.dynamodb_items import RECORD_FIELDS, batch_items, within_limits
from sqlfeat.online.dynamodb_limits import (
    KEY_BYTES,
    READ_KEYS,
    WRITE_ITEMS,
    put_request_bound,
    utf8_bytes,
    write_requests,
)
from sqlfeat.options import StoreOptions
from sqlfeat.redact import redact

if TYPE_CHECKING:
    import pyarrow as pa


MAX_ATTEMPTS = 8
_NAMES = {"#k": KEY_FIELD, "#ts": TS_FIELD, "#cts": CREATED_FIELD}
_NEWER_WITH_CREATED = "attribute_not_exists(#k) OR #ts < :ts OR (#ts = :ts AND (attribute_not_exists(#cts) OR #cts <= :cts))"
_NEWER_WITHOUT_CREATED = "attribute_not_exists(#k) OR #ts < :ts OR (#ts = :ts AND attribute_not_exists(#cts))"


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _backoff(attempt: int) -> None:
    time.sleep(min(0.05 * 2**attempt, 2.0))


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
        where = f" at {redact(self.endpoint_url)}" if self.endpoint_url else ""
        return f"dynamodb online store (table {self.table_name!r} in {self.region}{where})"

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
            self._write_all([{"PutRequest": {"Item": item}} for item in chunk], action)

    def _write_all(self, requests: list[dict], action: str) -> None:
        """``requests`` (puts or deletes, one request's worth) as ``BatchWriteItem``, resending
        ``UnprocessedItems`` with backoff."""
        pending = {self.table_name: requests}
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
        items, bound = batch_items(view, batch)
        # Checked before sending: one item DynamoDB refuses would fail its whole BatchWriteItem.
        items, rejected, bound = within_limits(view, batch, items, bound)
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
        self._batch_write(newer, action, put_request_bound(bound, len(view.features) + len(RECORD_FIELDS)))
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
                    self._write_all([{"DeleteRequest": {"Key": {KEY_FIELD: {"S": key}}}} for key in chunk], action)
                if "LastEvaluatedKey" not in reply:
                    break
                request["ExclusiveStartKey"] = reply["LastEvaluatedKey"]
        except self._errors:
            pass  # no table: nothing to delete

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


class DynamoDBOptions(StoreOptions):
    """``online_store: {type: dynamodb, region, table_name, endpoint_url?, write_mode?, max_workers?,
    consistent_reads?}``."""

    region: str | None = None
    table_name: str = "sqlfeat_online"
    endpoint_url: str | None = None
    write_mode: Literal["conditional", "batch"] = "conditional"
    max_workers: PositiveInt = 8
    consistent_reads: bool = False
    FEAST_KEYS = frozenset({
        "batch_size", "table_name_template", "tags", "session_based_auth", "max_pool_connections",
        "keepalive_timeout", "connect_timeout", "read_timeout", "total_max_retry_attempts", "retry_mode",
    })  # fmt: skip


OPTIONS = DynamoDBOptions


def connect(options: dict[str, Any], project: str, repo_path: Path) -> DynamoDBOnlineStore:
    import boto3  # noqa: F401 - fail now, with the install hint, when the driver is missing

    return build(options, project, repo_path)


def build(options: dict[str, Any], project: str, repo_path: Path) -> DynamoDBOnlineStore:
    """The store, not connected yet (no driver needed)."""
    if not options.get("region"):
        raise ConfigError("online_store.region is required for dynamodb, e.g. `region: us-east-1`")
    return DynamoDBOnlineStore(
        str(options["region"]), str(options.get("table_name", "sqlfeat_online")), options.get("endpoint_url"),
        str(options.get("write_mode", "conditional")), int(options.get("max_workers", 8)),
        bool(options.get("consistent_reads", False)),
    )  # fmt: skip
