"""Redis: ``online_store: {type: redis, connection_string: "host:port", key_ttl_seconds: 86400}``.

One hash per project, view and entity: key ``<project>:<view>:<entity key>``, fields ``:ts``,
``:cts`` and one per feature (a null feature is an absent field). Writes go through a Lua script,
one call per chunk of entities, streamed on one connection: Redis runs each call
atomically, and the script replaces an entity's hash only when the row is at least as new as the
stored one, so a hash never mixes two rows and an older row never overwrites a newer one. Reads of
more than one key go through a read-only script too: one command, one round trip, for all views.

``connection_string`` is Feast's ``host:port[,db=N][,password=...][,ssl=true]``, or a
``redis://`` / ``rediss://`` URL. Redis Cluster is not supported (a script call touches many keys).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import NonNegativeInt

from sqlfeat.errors import ConfigError
from sqlfeat.online.base import (
    TS_FIELD,
    OnlineRows,
    OnlineStore,
    OnlineView,
    WriteResult,
    batch_keys,
    batch_times,
)
from sqlfeat.online.codec import feature_array, text_column
from sqlfeat.online.redis_read import READ_SCRIPT, SCRIPT_CHUNK, decode_replies, read_calls
from sqlfeat.options import StoreOptions

if TYPE_CHECKING:
    import pyarrow as pa

# KEYS: the chunk's hash keys. ARGV: n, the n feature names, the key TTL in seconds (0: none),
# then per key: event time, created time ('' when none), a mask of n '1'/'0' (value present),
# and the n values ('' for null). Times are microseconds, compared as Lua numbers (exact to 2^53).
WRITE_SCRIPT = """
local n = tonumber(ARGV[1])
local ttl = tonumber(ARGV[n + 2])
local call, byte, huge = redis.call, string.byte, math.huge
local names = {}
for j = 1, n do names[j] = ARGV[1 + j] end
local pos, written = n + 3, 0
for i = 1, #KEYS do
  local key = KEYS[i]
  local ts, cts, mask = ARGV[pos], ARGV[pos + 1], ARGV[pos + 2]
  local old = call('HMGET', key, ':ts', ':cts')
  local newer = true
  if old[1] then
    local new_ts, old_ts = tonumber(ts), tonumber(old[1])
    if new_ts < old_ts then
      newer = false
    elseif new_ts == old_ts then
      local new_cts = (cts == '') and -huge or tonumber(cts)
      local old_cts = old[2] and tonumber(old[2]) or -huge
      newer = new_cts >= old_cts
    end
  end
  if newer then
    local set, s, unset, u = {':ts', ts}, 2, {}, 0
    if cts ~= '' then
      set[3] = ':cts'; set[4] = cts; s = 4
    else
      u = 1; unset[1] = ':cts'
    end
    for j = 1, n do
      if byte(mask, j) == 49 then
        set[s + 1] = names[j]; set[s + 2] = ARGV[pos + 2 + j]; s = s + 2
      else
        u = u + 1; unset[u] = names[j]
      end
    end
    call('HSET', key, unpack(set))
    if u > 0 then call('HDEL', key, unpack(unset)) end
    if ttl > 0 then call('EXPIRE', key, ttl) end
    written = written + 1
  end
  pos = pos + n + 3
end
return written
"""

RETRIES = 3


def _connection_kwargs(text: str) -> dict[str, Any]:
    head, *options = [part.strip() for part in text.split(",") if part.strip()] or [""]
    host, sep, port = head.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(
            "online_store.connection_string must look like 'host:port' "
            "(optionally ',db=0,password=...,ssl=true') or 'redis://host:port/0'"
        )
    kwargs: dict[str, Any] = {"host": host or "127.0.0.1", "port": int(port)}
    for option in options:
        name, _, value = option.partition("=")
        if name == "db":
            if not value.isdigit():
                raise ConfigError(f"online_store.connection_string option db must be a number, got {value!r}")
            kwargs["db"] = int(value)
        elif name == "password":
            kwargs["password"] = value
        elif name == "username":
            kwargs["username"] = value
        elif name == "ssl":
            kwargs["ssl"] = value.lower() in ("true", "1", "yes")
        else:
            raise ConfigError(f"online_store.connection_string option {name!r} is not supported; use db, password, username or ssl")
    return kwargs


class RedisOnlineStore(OnlineStore):
    TYPE = "redis"

    def __init__(self, connection_string: str = "127.0.0.1:6379", key_ttl_seconds: int | None = None) -> None:
        self.connection_string = connection_string
        self.key_ttl_seconds = int(key_ttl_seconds or 0)
        if not connection_string.startswith(("redis://", "rediss://", "unix://")):
            self._kwargs = _connection_kwargs(connection_string)
        self._client = None
        self._script = self._reader = None

    def describe(self) -> str:
        """Host, port and database only: never the user or the password."""
        if self.connection_string.startswith("unix://"):
            parts = urlsplit(self.connection_string)
            db = dict(parse_qsl(parts.query)).get("db", "0")
            return f"redis online store at unix socket {parts.path} db {db}"
        if self.connection_string.startswith(("redis://", "rediss://")):
            parts = urlsplit(self.connection_string)
            try:
                host, port = parts.hostname or "localhost", parts.port or 6379
            except ValueError:
                raise ConfigError("online_store.connection_string has an invalid port") from None
            db = parts.path.strip("/") or dict(parse_qsl(parts.query)).get("db", "0")
            return f"redis online store at {host}:{port} db {db}"
        kwargs = self._kwargs
        return f"redis online store at {kwargs['host']}:{kwargs['port']} db {kwargs.get('db', 0)}"

    @property
    def client(self):
        if self._client is None:
            import redis
            from redis.backoff import ExponentialBackoff
            from redis.retry import Retry

            self._errors = (redis.exceptions.RedisError, OSError)
            # redis-py's default (10 retries, up to ~4 s on a dead server) is too slow to fail for
            # serving; resending a write is safe because writes are idempotent (newer-or-equal).
            retry = Retry(ExponentialBackoff(cap=0.5, base=0.05), RETRIES)
            options = {"socket_connect_timeout": 5, "socket_timeout": 30, "retry": retry}
            if self.connection_string.startswith(("redis://", "rediss://", "unix://")):
                self._client = redis.Redis.from_url(self.connection_string, **options)
            else:
                self._client = redis.Redis(**self._kwargs, **options)
            self._script = self._client.register_script(WRITE_SCRIPT)
            self._reader = self._client.register_script(READ_SCRIPT)
        return self._client

    def write_batch(self, view: OnlineView, batch: pa.RecordBatch) -> WriteResult:
        import pyarrow.compute as pc

        rows = batch.num_rows
        if rows == 0:
            return WriteResult(0)
        prefix = view.prefix
        keys = [prefix + k for k in batch_keys(view, batch)]
        event, created = batch_times(batch)
        created = [("" if c is None else c) for c in created] if None in created else created
        columns, masks = [], []
        for feature in view.features:
            array = feature_array(view, batch, feature)
            values = text_column(array, view.dtype(feature))
            if array.null_count:
                values = ["" if v is None else v for v in values]
            columns.append(values)
            masks.append(pc.if_else(array.is_valid(), "1", "0"))
        mask = pc.binary_join_element_wise(*masks, "").to_pylist() if masks else [""] * rows
        width = 3 + len(view.features)
        flat = list(chain.from_iterable(zip(event, created, mask, *columns)))
        head = [len(view.features), *view.features, self.key_ttl_seconds]
        commands = (
            ("EVALSHA", self._script.sha, min(start + SCRIPT_CHUNK, rows) - start, *keys[start : start + SCRIPT_CHUNK],
             *head, *flat[start * width : (start + SCRIPT_CHUNK) * width])
            for start in range(0, rows, SCRIPT_CHUNK)
        )  # fmt: skip
        try:
            self._send_all(commands)
        except self._errors as err:
            raise self.unreachable(err, f"writing feature view {view.name!r}") from None
        return WriteResult(rows)  # nothing rejected: Redis holds keys and values up to 512 MB

    def _send_all(self, commands) -> None:
        """Send every command, then read every reply, on one connection.

        Unlike a redis-py pipeline, which packs all commands before sending any, each command is
        sent as soon as it is packed, so Redis runs the scripts while Python packs the next ones.
        """
        client = self.client
        client.script_load(WRITE_SCRIPT)  # a restarted server has forgotten it
        try:
            from hiredis import pack_command
        except ImportError:
            pack_command = None
        connection = client.connection_pool.get_connection()
        sent = 0
        try:
            for command in commands:
                packed = [pack_command(command)] if pack_command else connection.pack_command(*command)
                connection.send_packed_command(packed, check_health=sent == 0)
                sent += 1
            for _ in range(sent):
                reply = connection.read_response()
                if isinstance(reply, Exception):
                    raise reply
        except BaseException:
            connection.disconnect()  # unread replies would corrupt the next command
            raise
        finally:
            client.connection_pool.release(connection)

    def read(self, view: OnlineView, features: Sequence[str], entity_keys: Sequence[str]) -> OnlineRows:
        return self.read_many([(view, features, entity_keys)])[0]

    def read_many(self, requests: Sequence[tuple[OnlineView, Sequence[str], Sequence[str]]]) -> list[OnlineRows]:
        """One round trip for every view: a single HMGET for one key, else the read script
        (one script call per ``SCRIPT_CHUNK`` keys, all in one pipeline)."""
        client = self.client
        fields = [[TS_FIELD, *features] for _, features, _ in requests]
        try:
            if len(requests) == 1 and len(requests[0][2]) == 1:
                view, _, keys = requests[0]
                replies = [client.hmget(view.prefix + keys[0], fields[0])]
            else:
                replies = self._read_script(requests, fields)
        except self._errors as err:
            names = ", ".join(repr(view.name) for view, _, _ in requests)
            raise self.unreachable(err, f"reading feature view {names}") from None
        return decode_replies(requests, replies)

    def _read_script(self, requests, fields: list[list[str]]) -> list:
        """Replies of the read script, in request order; one script call per ``SCRIPT_CHUNK`` keys."""
        calls = read_calls(requests, fields)
        if len(calls) == 1:
            return self._reader(keys=calls[0][0], args=calls[0][1])
        pipe = self.client.pipeline(transaction=False)
        for keys, args in calls:
            self._reader(keys=keys, args=args, client=pipe)
        return [reply for replies in pipe.execute() for reply in replies]

    async def read_many_async(self, requests: Sequence[tuple[OnlineView, Sequence[str], Sequence[str]]]) -> list[OnlineRows]:
        """``read_many`` through ``redis.asyncio`` (``redis_async.py``): the same commands, awaited."""
        from sqlfeat.online.redis_async import read_many_async

        return await read_many_async(self, requests)

    def teardown(self, view: OnlineView) -> None:
        client = self.client
        try:
            batch: list[bytes] = []
            for key in client.scan_iter(match=f"{view.prefix}*", count=1_000):
                batch.append(key)
                if len(batch) >= 1_000:
                    client.unlink(*batch)
                    batch = []
            if batch:
                client.unlink(*batch)
        except self._errors as err:
            raise self.unreachable(err, f"deleting feature view {view.name!r}") from None

    def close(self) -> None:
        if getattr(self, "_async", None) is not None:
            from sqlfeat.online.redis_async import close_client

            close_client(self)
        if self._client is not None:
            self._client.close()
            self._client = None


class RedisOptions(StoreOptions):
    """``online_store: {type: redis, connection_string: "host:port[,db=N][,password=...]",
    key_ttl_seconds: 86400}``; Feast's ``redis_type`` is accepted for ``redis`` only."""

    connection_string: str = "127.0.0.1:6379"
    key_ttl_seconds: NonNegativeInt | None = None
    redis_type: Literal["redis"] = "redis"
    FEAST_KEYS = frozenset({"sentinel_master", "full_scan_for_deletion"})


OPTIONS = RedisOptions


def build(options: dict[str, Any], project: str, repo_path: Path) -> RedisOnlineStore:
    """The store, not connected yet (no driver needed)."""
    return RedisOnlineStore(str(options.get("connection_string", "127.0.0.1:6379")), options.get("key_ttl_seconds"))


def connect(options: dict[str, Any], project: str, repo_path: Path) -> RedisOnlineStore:
    import redis  # noqa: F401 - fail now, with the install hint, when the driver is missing

    return build(options, project, repo_path)
