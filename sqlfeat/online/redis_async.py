"""Redis reads through ``redis.asyncio``, for ``get_online_features_async``: the same commands as
``RedisOnlineStore.read_many`` (one HMGET for one key, else the read script), awaited, so serving
never blocks the event loop. One async client per event loop (a client's connections belong to the
loop that opened them); it connects with the sync store's options. ``RedisOnlineStore.close``
closes it when its loop is still open; a client whose loop has already closed (``asyncio.run``
returned) cannot be closed any more and is dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from sqlfeat.online.base import TS_FIELD, OnlineRows, OnlineView
from sqlfeat.online.redis_read import READ_SCRIPT, decode_replies, read_calls


def _client(store: Any) -> Any:
    """The async client of ``store`` for the running loop (made on first use in that loop)."""
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff

    loop = asyncio.get_running_loop()
    cached = getattr(store, "_async", None)
    if cached is not None and cached[0] is loop:
        return cached[1], cached[2]
    close_client(store)  # another loop's
    retry = Retry(ExponentialBackoff(cap=0.5, base=0.05), 3)
    options = {"socket_connect_timeout": 5, "socket_timeout": 30, "retry": retry}
    if store.connection_string.startswith(("redis://", "rediss://", "unix://")):
        client = aioredis.Redis.from_url(store.connection_string, **options)
    else:
        client = aioredis.Redis(**store._kwargs, **options)
    reader = client.register_script(READ_SCRIPT)
    store._async = (loop, client, reader)
    return client, reader


async def read_many_async(store: Any, requests: Sequence[tuple[OnlineView, Sequence[str], Sequence[str]]]) -> list[OnlineRows]:
    import redis

    client, reader = _client(store)
    fields = [[TS_FIELD, *features] for _, features, _ in requests]
    try:
        if len(requests) == 1 and len(requests[0][2]) == 1:
            view, _, keys = requests[0]
            replies = [await client.hmget(view.prefix + keys[0], fields[0])]
        else:
            calls = read_calls(requests, fields)
            if len(calls) == 1:
                replies = await reader(keys=calls[0][0], args=calls[0][1])
            else:
                pipe = client.pipeline(transaction=False)
                for keys, args in calls:
                    await reader(keys=keys, args=args, client=pipe)
                replies = [reply for chunk in await pipe.execute() for reply in chunk]
    except (redis.exceptions.RedisError, OSError) as err:
        names = ", ".join(repr(view.name) for view, _, _ in requests)
        raise store.unreachable(err, f"reading feature view {names}") from None
    return decode_replies(requests, replies)


def close_client(store: Any) -> None:
    """Close ``store``'s async client: awaited now when its loop is idle, scheduled when the loop
    is running (``close()`` called from async code), dropped when the loop is closed."""
    cached = getattr(store, "_async", None)
    store._async = None
    if cached is None:
        return
    loop, client, _ = cached
    if loop.is_closed():
        return
    closing = getattr(client, "aclose", None) or client.close  # aclose: redis-py 5.0.1 on
    if loop.is_running():
        loop.create_task(closing())
    else:
        loop.run_until_complete(closing())
