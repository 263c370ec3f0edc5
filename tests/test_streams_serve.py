"""``EventStream.serve()`` and ``push()``: each chunk sent by whoever made it (the pump, a
callback that pushed it), never by waking the serving task; a send the server makes wait
finished in a task of its own while the rest waits in order; a send that fails, or a client
that leaves, ends the stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from django_streaming.backends.memory.channel_log import MemoryChannelLog
from django_streaming.channels.signing import CursorKey
from django_streaming.channels.subscription import read_cursor, subscribe
from django_streaming.stores.channel_log import Entry
from django_streaming.streams import HIGH_WATER_MARK, OPENING, EventStream
from tests.support.sse_parser import parse
from tests.test_channel_log import deliveries_of
from tests.test_streams_push import Pushing, stream


class Server:
    """An ASGI server's ``send`` as uvicorn's behaves: it writes at once, unless the client's
    window is full (``room`` cleared), when it waits for room. ``error``: it raises that
    instead (before writing, or once there is room); ``swallow``: a cancellation while it
    waits becomes that error, as a server's own clean-up might."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.senders: list[asyncio.Task[Any] | None] = []
        self.room = asyncio.Event()
        self.room.set()
        self.error: Exception | None = None
        self.swallow: Exception | None = None
        self.cancelled = 0
        self.arrived = asyncio.Event()
        self.blocked = asyncio.Event()  # a send is waiting for room

    async def send(self, message: dict[str, Any]) -> None:
        if self.error is not None:
            raise self.error
        if not self.room.is_set():
            self.blocked.set()
            try:
                await self.room.wait()
            except asyncio.CancelledError:
                self.cancelled += 1
                if self.swallow is not None:
                    raise self.swallow from None
                raise
            if self.error is not None:
                raise self.error
        self.senders.append(asyncio.current_task())
        self.messages.append(message)
        self.arrived.set()

    async def until(self, condition: Callable[[], bool]) -> None:
        """Wait for messages until ``condition()`` holds."""
        while not condition():
            self.arrived.clear()
            await self.arrived.wait()

    @property
    def body(self) -> bytes:
        return b"".join(message["body"] for message in self.messages)


async def items(*values: Any, finished: asyncio.Event | None = None) -> AsyncIterator[Any]:
    for value in values:
        yield value
    if finished is not None:
        finished.set()


async def test_what_is_ready_in_a_turn_is_sent_by_the_loop_in_one_message() -> None:
    """No task wakes to write: the turn's flush (a callback) sends each stream's chunks."""
    server = Server()
    assert await stream(items("a", "b")).serve(server.send)  # ended by itself: True
    assert server.body == OPENING + b"data: a\n\ndata: b\n\n"
    assert len(server.messages) == 1  # the source made both before the loop's next turn
    assert server.senders == [None]  # sent from the flush, in no task


async def test_a_chunk_pushed_after_the_client_left_in_the_same_turn_is_not_sent() -> None:
    source = Pushing()
    server = Server()
    serving = asyncio.create_task(stream(source).serve(server.send))
    await source.attached.wait()
    await server.until(lambda: server.body.endswith(b": first\n\n"))
    serving.cancel()  # the client left: the handler's task is cancelled, first in the turn
    assert source.offer(b"data: late\n\n")  # taken, then closed before the flush
    with pytest.raises(asyncio.CancelledError):
        await serving
    assert b"late" not in server.body


async def forever_until_closed(closed: asyncio.Event) -> AsyncIterator[str]:
    try:
        yield "x"
        await asyncio.Event().wait()
    finally:
        closed.set()


async def test_a_client_that_leaves_ends_serve_which_sends_no_more() -> None:
    """The handler's disconnect watch calls ``client_left()``: no task is cancelled."""
    server = Server()
    closed = asyncio.Event()
    events = stream(forever_until_closed(closed))
    serving = asyncio.create_task(events.serve(server.send))
    await server.until(lambda: server.body.endswith(b"data: x\n\n"))
    events.client_left()
    assert await serving is False  # abandoned: the caller sends no closing message
    assert closed.is_set()
    events.client_left()  # (again, as a watch cancelled later would: nothing happens)
    assert server.body == OPENING + b"data: x\n\n"


async def test_a_client_gone_before_its_stream_is_served_starts_nothing() -> None:
    server = Server()
    ran: list[bool] = []

    async def source() -> AsyncIterator[str]:
        ran.append(True)
        yield "x"

    events = stream(source())
    events.client_left()  # while the handler sent the headers, say
    assert await events.serve(server.send) is False
    assert server.messages == []
    assert ran == []


async def test_a_served_client_that_reads_nothing_ends_serve_after_the_send_timeout() -> None:
    """Its send waits for room in a task, which is cancelled; the task serving it is not."""
    server = Server()
    server.room.clear()
    closed = asyncio.Event()
    events = EventStream(
        forever_until_closed(closed), heartbeat=None, on_error=lambda e: b"", send_timeout=0.05
    )
    assert await asyncio.wait_for(events.serve(server.send), 10) is False
    assert closed.is_set()
    assert server.cancelled == 1  # the send that waited
    assert server.messages == []


async def test_a_send_that_waits_is_finished_in_a_task_and_the_source_goes_on() -> None:
    server = Server()
    finished = asyncio.Event()
    events = stream(items("a", "b", "c", finished=finished))
    server.room.clear()  # the client reads nothing for now
    serving = asyncio.create_task(events.serve(server.send))
    await finished.wait()  # the source ran to its end while the opening waited
    assert server.messages == []
    server.room.set()
    await serving
    assert server.body == OPENING + b"data: a\n\ndata: b\n\ndata: c\n\n"


async def test_a_chunk_over_the_chunk_size_goes_out_in_pieces_even_when_a_piece_waits() -> None:
    server = Server()
    server.room.clear()
    serving = asyncio.create_task(stream(items("x" * 30)).serve(server.send, chunk_size=8))
    await server.blocked.wait()
    server.room.set()
    await serving
    assert server.body == OPENING + b"data: " + b"x" * 30 + b"\n\n"
    assert max(len(message["body"]) for message in server.messages) == 8


async def test_a_send_that_fails_is_raised_by_serve_and_closes_the_source() -> None:
    server = Server()
    closed = asyncio.Event()

    async def forever() -> AsyncIterator[str]:
        try:
            server.error = ConnectionResetError("gone")  # the client left after the opening
            while True:
                yield "x"
                await asyncio.sleep(0)
        finally:
            closed.set()

    with pytest.raises(ConnectionResetError):
        await stream(forever()).serve(server.send)
    assert closed.is_set()


async def test_a_send_that_fails_after_waiting_is_raised_by_serve() -> None:
    server = Server()
    server.room.clear()
    serving = asyncio.create_task(stream(items("a")).serve(server.send))
    await server.blocked.wait()
    server.error = ConnectionResetError("gone")
    server.room.set()
    with pytest.raises(ConnectionResetError):
        await serving


@pytest.mark.parametrize("swallow", [None, RuntimeError("reset while closing")])
async def test_a_client_gone_while_a_send_waits_cancels_that_send(
    swallow: Exception | None,
) -> None:
    server = Server()
    server.room.clear()
    server.swallow = swallow
    closed = asyncio.Event()

    async def forever() -> AsyncIterator[str]:
        try:
            yield "x"
            await asyncio.Event().wait()
        finally:
            closed.set()

    serving = asyncio.create_task(stream(forever()).serve(server.send))
    await server.blocked.wait()
    serving.cancel()  # as the handler does when the client disconnects
    with pytest.raises(asyncio.CancelledError):
        await serving
    assert server.cancelled == 1
    assert closed.is_set()
    assert server.messages == []


async def test_a_send_that_ends_quietly_when_cancelled_ends_the_stream() -> None:
    class Quiet(Server):
        async def send(self, message: dict[str, Any]) -> None:
            try:
                await super().send(message)
            except asyncio.CancelledError:
                return  # a server that ignores a cancellation of its send

    server = Quiet()
    server.room.clear()
    serving = asyncio.create_task(stream(items("a", "b")).serve(server.send))
    await server.blocked.wait()
    serving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await serving
    assert server.cancelled == 1  # and what waited behind it was not sent
    assert server.messages == []


async def test_an_error_event_after_the_client_left_is_not_sent() -> None:
    server = Server()
    started = asyncio.Event()

    async def fails_on_its_way_out() -> AsyncIterator[str]:
        try:
            started.set()
            await asyncio.Event().wait()
            yield "never"
        finally:
            raise RuntimeError("clean-up failed")

    serving = asyncio.create_task(stream(fails_on_its_way_out()).serve(server.send))
    await started.wait()
    serving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await serving
    assert server.body == OPENING


async def test_serving_a_stream_closed_before_it_started_sends_nothing() -> None:
    server = Server()
    events = stream(items("a"))
    await events.aclose()
    await events.serve(server.send)
    assert server.messages == []


async def test_heartbeats_are_sent_while_served() -> None:
    server = Server()
    gate = asyncio.Event()

    async def silent_then_one() -> AsyncIterator[str]:
        await gate.wait()
        yield "late"

    serving = asyncio.create_task(stream(silent_then_one(), heartbeat=0.02).serve(server.send))
    await server.until(lambda: b"heartbeat" in server.body)
    gate.set()
    await serving
    assert server.body.endswith(b"data: late\n\n")


@pytest.mark.parametrize("served", [True, False], ids=["served", "iterated"])
async def test_a_pushed_chunk_goes_out_without_the_source_waking(served: bool) -> None:
    source = Pushing()
    server = Server()
    events = stream(source)
    serving: asyncio.Task[Any]
    if served:
        serving = asyncio.create_task(events.serve(server.send))
    else:

        async def iterate() -> None:
            async for chunk in events:
                await server.send({"body": chunk})

        serving = asyncio.create_task(iterate())
    await source.attached.wait()
    await server.until(lambda: server.body.endswith(b": first\n\n"))
    assert source.offer(b"data: pushed\n\n")
    await server.until(lambda: server.body.endswith(b"data: pushed\n\n"))
    assert server.messages[-1]["body"] == b"data: pushed\n\n"  # as it was pushed
    source.refused.put_nowait(None)
    await serving
    assert source.push is None  # let go of at the end: no cycle through the source
    assert not events.push(b"data: too late\n\n")


async def test_a_push_past_the_high_water_mark_is_refused_and_comes_in_order() -> None:
    source = Pushing()
    server = Server()
    server.room.clear()
    serving = asyncio.create_task(stream(source).serve(server.send))
    await source.attached.wait()
    chunk = b"data: " + b"x" * 1000 + b"\n\n"
    count = HIGH_WATER_MARK // len(chunk) + 10
    accepted = [source.offer(chunk[:-2] + b"%d\n\n" % number) for number in range(count)]
    assert accepted[0]
    assert not accepted[-1]
    server.room.set()
    source.refused.put_nowait(None)
    await serving
    numbers = [int(event[1006:]) for event in server.body.split(b"\n\n") if event[:6] == b"data: "]
    assert numbers == list(range(count))


async def test_a_caught_up_channel_subscriber_is_written_to_by_the_publisher() -> None:
    """The listener's loop over a channel's subscribers writes each event to each of them
    (``Subscription.push_to()``): no task of the subscriber wakes for it."""
    log = MemoryChannelLog(max_len=100, ttl=60)
    servers = [Server(), Server()]
    streams = [stream(subscribe(log, ["news"], None)) for _ in servers]
    serving = [
        asyncio.create_task(s.serve(server.send))
        for s, server in zip(streams, servers, strict=True)
    ]
    for server in servers:
        await server.until(lambda server=server: b"id: " in server.body)  # type: ignore[misc]
    await log.apublish("news", b"data: 1\n\n")  # pushed in this call, sent by the flush
    for server in servers:
        await server.until(lambda server=server: b"data: 1" in server.body)  # type: ignore[misc]
    for server in servers:
        assert server.messages[-1]["body"].endswith(b"\ndata: 1\n\n")
        assert server.senders[-1] is None  # from the flush: no task woke for it
    assert servers[0].messages[-1] is servers[1].messages[-1]  # framed once, one message
    for task in serving:
        task.cancel()
    await asyncio.wait(serving)


async def test_a_channel_subscriber_whose_client_is_slow_gets_every_event_once_in_order() -> None:
    log = MemoryChannelLog(max_len=1000, ttl=60)
    server = Server()
    serving = asyncio.create_task(stream(subscribe(log, ["news"], None)).serve(server.send))
    await server.until(lambda: b"id: " in server.body)
    server.room.clear()  # its client stops reading: pushes are refused past the high water
    count = HIGH_WATER_MARK // 1000 * 3
    for number in range(count):
        await log.apublish("news", b"data: %04d%s\n\n" % (number, b"x" * 1000))
    server.room.set()
    await server.until(lambda: server.body.count(b"data: ") >= count)
    events = parse(server.body).events
    assert [int(event.data[:4]) for event in events if event.data] == list(range(count))
    ids = [event.last_event_id for event in events if event.data]
    assert len(set(ids)) == count
    assert read_cursor(CursorKey.of(["news"]), ids[-1]) is not None
    serving.cancel()
    await asyncio.wait([serving])


async def test_a_live_event_past_a_missing_number_is_caught_up_from_the_log_when_pushed() -> None:
    """A subscriber written to from the listener, as any other: an event past a number that
    never came live goes through its iterator, which reads the log first."""
    log = MemoryChannelLog(max_len=100, ttl=60)
    delivers = deliveries_of(log)
    server = Server()
    serving = asyncio.create_task(stream(subscribe(log, ["x"], None)).serve(server.send))
    await server.until(lambda: b"id: " in server.body)
    with log._lock:  # published while the feed was down: only the log has it
        log._listeners.clear()
    epoch = log.publish("x", b"data: missed\n\n").epoch
    log.publish("x", b"data: next\n\n")
    delivers[0](Entry(2, "x", b"data: next\n\n", epoch=epoch))  # 1 never came live
    await server.until(lambda: b"data: next" in server.body)
    assert [event.data for event in parse(server.body).events if event.data] == ["missed", "next"]
    serving.cancel()
    await asyncio.wait([serving])
