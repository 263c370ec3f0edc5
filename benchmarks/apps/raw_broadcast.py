"""The fan-out floor: a bare ASGI app holding one Redis pub/sub subscription for the process
and handing each message's bytes, framed once, to every stream of its channel."""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio

Scope = dict[str, Any]

PREFIX = "raw-bench:"
_streams: dict[str, set[asyncio.Queue[bytes | None]]] = {}
_reader: asyncio.Task[None] | None = None
_subscribed = asyncio.Event()


async def _read(client: redis.asyncio.Redis) -> None:
    pubsub = client.pubsub()
    await pubsub.psubscribe(PREFIX + "*")
    _subscribed.set()
    async for message in pubsub.listen():
        if message["type"] == "pmessage":
            channel = message["channel"].decode().removeprefix(PREFIX)
            framed = b"data: " + message["data"] + b"\n\n"
            for queue in _streams.get(channel, ()):
                queue.put_nowait(framed)


async def app(scope: Scope, receive: Any, send: Any) -> None:
    global _reader
    assert scope["type"] == "http"
    if _reader is None:
        _reader = asyncio.get_running_loop().create_task(_read(redis.asyncio.Redis()))
    await _subscribed.wait()
    channel = scope["path"].rpartition("/")[2]
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()
    _streams.setdefault(channel, set()).add(queue)
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b": ready\n\n", "more_body": True})
    watch = asyncio.ensure_future(_watch_disconnect(receive, queue))
    try:
        while (body := await queue.get()) is not None:
            await send({"type": "http.response.body", "body": body, "more_body": True})
    finally:
        _streams[channel].discard(queue)
        watch.cancel()


async def _watch_disconnect(receive: Any, queue: asyncio.Queue[bytes | None]) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    queue.put_nowait(None)
