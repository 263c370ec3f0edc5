"""The engine between a user's generator and the server: framing, heartbeats, errors, clean-up.

``event_stream()`` runs the user's iterator in one task of its own (the *pump*) and yields the
encoded bytes to whoever serves the response. Keeping the two apart is what lets a heartbeat go
out while the generator is stuck in an ``await``, without a timer or a task per event:

* the pump appends encoded events to a small buffer and wakes the writer through one future;
* one timer per stream, re-armed at most once per heartbeat interval, adds a comment when nothing
  was written for that long;
* when the writer is cancelled (the client went away) or closed, it cancels the pump, which
  throws ``CancelledError`` into the generator at its current ``await`` so its ``finally`` runs,
  and waits for it before returning, so no task outlives the response.

Events that are ready together are written together, and the buffer is bounded, so a fast
generator cannot outrun a slow client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterable, Callable
from typing import Any

from .sse import encode

__all__ = ["HEARTBEAT", "OPENING", "event_stream"]

#: A comment: it keeps proxies and clients from timing out and dispatches nothing.
HEARTBEAT = b": heartbeat\n\n"
#: Sent first, so the client and any proxy see the stream open before the first event is ready.
OPENING = b": stream open\n\n"
# Past this many buffered bytes the pump waits for the writer to catch up.
HIGH_WATER_MARK = 64 * 1024


class _Relay:
    """What the pump, the heartbeat timer and the writer share."""

    __slots__ = ("chunks", "drained", "finished", "loop", "size", "waiter", "written_at")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.chunks: list[bytes] = []
        self.size = 0
        self.finished = False
        self.waiter: asyncio.Future[None] | None = None  # the writer, waiting for a chunk
        self.drained: asyncio.Future[None] | None = None  # the pump, waiting for room
        self.written_at = loop.time()

    def push(self, chunk: bytes) -> None:
        self.chunks.append(chunk)
        self.size += len(chunk)
        self.wake_writer()

    def wake_writer(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def take(self) -> bytes:
        chunk = self.chunks[0] if len(self.chunks) == 1 else b"".join(self.chunks)
        self.chunks.clear()
        self.size = 0
        drained = self.drained
        if drained is not None and not drained.done():
            drained.set_result(None)
        self.written_at = self.loop.time()
        return chunk


async def event_stream(
    source: AsyncIterable[Any],
    *,
    heartbeat: float | None,
    retry: int | None = None,
    on_error: Callable[[Exception], bytes],
) -> AsyncGenerator[bytes, None]:
    """Yield the bytes of an event stream for ``source``'s items.

    ``on_error`` turns an exception raised by ``source`` (or by encoding one of its items) into
    the bytes of a final event; the stream then ends normally.
    """
    loop = asyncio.get_running_loop()
    relay = _Relay(loop)
    yield f"retry: {retry}\n\n".encode() if retry is not None else OPENING
    relay.written_at = loop.time()
    pump = loop.create_task(_pump(source, relay, on_error))
    timer = _HeartbeatTimer(relay, heartbeat) if heartbeat is not None else None
    try:
        while True:
            if relay.chunks:
                yield relay.take()
            elif relay.finished:
                return
            else:
                relay.waiter = loop.create_future()
                await relay.waiter
    finally:
        if timer is not None:
            timer.cancel()
        if not pump.done():
            # The client left: stop the generator at its current await and wait for its
            # finally, so that no task outlives the response.
            pump.cancel()
            await asyncio.wait((pump,))


async def _pump(
    source: AsyncIterable[Any], relay: _Relay, on_error: Callable[[Exception], bytes]
) -> None:
    iterator = aiter(source)
    try:
        try:
            async for item in iterator:
                relay.push(encode(item))
                if relay.size >= HIGH_WATER_MARK:
                    relay.drained = relay.loop.create_future()
                    await relay.drained
        finally:
            # Runs the generator's finally when we stop early (a bad item, a cancel).
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()
    except Exception as error:
        relay.push(on_error(error))
    finally:
        relay.finished = True
        relay.wake_writer()


class _HeartbeatTimer:
    """One timer per stream: it fires when the stream may have been idle for ``interval``."""

    __slots__ = ("handle", "interval", "relay")

    def __init__(self, relay: _Relay, interval: float) -> None:
        self.relay = relay
        self.interval = interval
        self.handle = relay.loop.call_at(relay.written_at + interval, self.fire)

    def fire(self) -> None:
        relay = self.relay
        now = relay.loop.time()
        due = relay.written_at + self.interval
        if now >= due:
            waiter = relay.waiter
            # A writer that is not waiting is busy sending: the connection is not idle.
            if waiter is not None and not waiter.done():
                relay.push(HEARTBEAT)
            due = now + self.interval
        self.handle = relay.loop.call_at(due, self.fire)

    def cancel(self) -> None:
        self.handle.cancel()
