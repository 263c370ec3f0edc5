"""``EventStream.push()``: a source that learns of its chunks in a callback (a channel
subscriber, told by the listener) writes them to the stream from there, without waking; what
the stream cannot take (it ended, a slow client left too much buffered) comes through the
source's iterator, in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from django_streaming.backends.memory.channel_log import MemoryChannelLog
from django_streaming.channels.signing import CursorKey
from django_streaming.channels.subscription import read_cursor, subscribe
from django_streaming.stores.channel_log import Entry
from django_streaming.streams import HIGH_WATER_MARK, OPENING, EventStream
from tests.support.sse_parser import parse
from tests.test_channel_log import cut_the_feed, deliveries_of


def stream(source: Any, heartbeat: float | None = None) -> EventStream:
    return EventStream(source, heartbeat=heartbeat, on_error=lambda e: b"error: %r\n\n" % e)


async def until_idle(events: EventStream, wanted: bytes) -> bytes:
    """Read ``events`` until a chunk ends with ``wanted``; what was read."""
    read = b""
    while not read.endswith(wanted):
        read += await anext(events)
    return read


class Pushing:
    """A source that learns of its chunks in a callback (as a channel subscriber does):
    ``push_to()`` gets the stream's ``push``; it yields only what was refused."""

    def __init__(self) -> None:
        self.push: Any = None
        self.refused: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.attached = asyncio.Event()

    def push_to(self, push: Any) -> None:
        self.push = push
        self.attached.set()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._run()

    async def _run(self) -> AsyncIterator[bytes]:
        yield b": first\n\n"
        while (chunk := await self.refused.get()) is not None:
            yield chunk

    def offer(self, chunk: bytes) -> bool:
        if self.push(chunk):
            return True
        self.refused.put_nowait(chunk)
        return False


async def test_a_pushed_chunk_reaches_the_waiting_writer_without_the_source_waking() -> None:
    source = Pushing()
    events = stream(source)
    assert await until_idle(events, b": first\n\n") == OPENING + b": first\n\n"
    waiting = anext(events)  # the writer waits for the next chunk
    assert source.offer(b"data: pushed\n\n")
    assert waiting.done()  # in this call: no task ran meanwhile
    assert await waiting == b"data: pushed\n\n"
    source.refused.put_nowait(None)
    assert [chunk async for chunk in events] == []
    assert source.push is None  # let go of at the end: no cycle through the source
    assert not events.push(b"data: too late\n\n")


async def test_a_push_past_the_high_water_mark_is_refused_and_comes_in_order() -> None:
    source = Pushing()
    events = stream(source)
    await until_idle(events, b": first\n\n")  # then the writer reads nothing for a while
    chunk = b"data: " + b"x" * 1000 + b"\n\n"
    count = HIGH_WATER_MARK // len(chunk) + 10
    accepted = [source.offer(chunk[:-2] + b"%d\n\n" % number) for number in range(count)]
    assert accepted[0]
    assert not accepted[-1]
    source.refused.put_nowait(None)
    body = b"".join([chunk async for chunk in events])
    numbers = [int(event[1006:]) for event in body.split(b"\n\n") if event[:6] == b"data: "]
    assert numbers == list(range(count))


async def test_a_caught_up_channel_subscriber_is_written_to_by_the_publisher() -> None:
    """The listener's loop over a channel's subscribers writes each event to each of them
    (``Subscription.push_to()``): no task of the subscriber wakes for it."""
    log = MemoryChannelLog(max_len=100, ttl=60)
    streams = [stream(subscribe(log, ["news"], None)) for _ in range(2)]
    for events in streams:
        await until_idle(events, b"\n\n")  # the opening
        await until_idle(events, b"\n\n")  # its id
    waiting = [anext(events) for events in streams]
    await log.apublish("news", b"data: 1\n\n")  # delivered in this call, in this task
    assert all(future.done() for future in waiting)
    first, second = [future.result() for future in waiting]
    assert first.endswith(b"\ndata: 1\n\n")
    assert first is second  # framed once for both
    for events in streams:
        await events.aclose()


async def test_a_channel_subscriber_whose_client_is_slow_gets_every_event_once_in_order() -> None:
    log = MemoryChannelLog(max_len=1000, ttl=60)
    events = stream(subscribe(log, ["news"], None))
    await until_idle(events, b"\n\n")
    await until_idle(events, b"\n\n")
    count = HIGH_WATER_MARK // 1000 * 3  # its client reads nothing meanwhile: pushes refused
    for number in range(count):
        await log.apublish("news", b"data: %04d%s\n\n" % (number, b"x" * 1000))
    body = b""
    while body.count(b"data: ") < count:
        body += await anext(events)
    parsed = [event for event in parse(body).events if event.data]
    assert [int(event.data[:4]) for event in parsed] == list(range(count))
    ids = [event.last_event_id for event in parsed]
    assert len(set(ids)) == count
    assert read_cursor(CursorKey.of(["news"]), ids[-1]) is not None
    await events.aclose()


async def test_a_live_event_past_a_missing_number_is_caught_up_from_the_log_when_pushed() -> None:
    """A subscriber written to from the listener, as any other: an event past a number that
    never came live goes through its iterator, which reads the log first."""
    log = MemoryChannelLog(max_len=100, ttl=60)
    delivers = deliveries_of(log)
    events = stream(subscribe(log, ["x"], None))
    await until_idle(events, b"\n\n")
    await until_idle(events, b"\n\n")
    cut_the_feed(log)
    epoch = log.publish("x", b"data: missed\n\n").epoch
    log.publish("x", b"data: next\n\n")
    delivers[0](Entry(2, "x", b"data: next\n\n", epoch=epoch))  # 1 never came live
    body = await until_idle(events, b"data: next\n\n")
    assert [event.data for event in parse(body).events if event.data] == ["missed", "next"]
    await events.aclose()
