"""The fan-out floor: a bare ASGI app holding one Redis pub/sub subscription for the process
and writing each message, framed once, to every stream of its channel in one loop over their
``send`` (the tightest an ASGI app can: no task, queue or wake-up per stream, and one message
shared by all of them; a client that stops reading would stall everyone, which only a floor
may allow)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio

Scope = dict[str, Any]
Send = Callable[[dict[str, Any]], Awaitable[None]]

PREFIX = "raw-bench:"
_streams: dict[str, list[Send]] = {}
_reader: asyncio.Task[None] | None = None
_subscribed = asyncio.Event()


async def _read(client: redis.asyncio.Redis) -> None:
    pubsub = client.pubsub()
    await pubsub.psubscribe(PREFIX + "*")
    _subscribed.set()
    async for message in pubsub.listen():
        if message["type"] == "pmessage":
            channel = message["channel"].decode().removeprefix(PREFIX)
            body = {
                "type": "http.response.body",
                "body": b"data: " + message["data"] + b"\n\n",
                "more_body": True,
            }
            for send in _streams.get(channel, ()):
                await send(body)


async def app(scope: Scope, receive: Any, send: Send) -> None:
    global _reader
    assert scope["type"] == "http"
    if _reader is None:
        _reader = asyncio.get_running_loop().create_task(_read(redis.asyncio.Redis()))
    await _subscribed.wait()
    channel = scope["path"].rpartition("/")[2]
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b": ready\n\n", "more_body": True})
    streams = _streams.setdefault(channel, [])
    streams.append(send)
    try:
        while (await receive())["type"] != "http.disconnect":
            pass
    finally:
        # A new list: the reader may be in its loop over the old one.
        _streams[channel] = [other for other in _streams[channel] if other is not send]
