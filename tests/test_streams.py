from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import pytest

from django_streaming.sse import Event
from django_streaming.streams import HEARTBEAT, HIGH_WATER_MARK, OPENING, EventStream


def error_bytes(error: Exception) -> bytes:
    return f"error: {error!r}\n\n".encode()


def stream(source: Any, heartbeat: float | None = None, retry: int | None = None) -> EventStream:
    return EventStream(source, heartbeat=heartbeat, retry=retry, on_error=error_bytes)


async def collect(source: Any, **kwargs: Any) -> list[bytes]:
    return [chunk async for chunk in stream(source, **kwargs)]


async def items(*values: Any) -> AsyncIterator[Any]:
    for value in values:
        yield value


async def test_opening_comment_then_events() -> None:
    chunks = await collect(items("a", {"b": 1}, Event(event="e", data="c"), b"raw"))
    assert chunks[0] == OPENING
    assert b"".join(chunks[1:]) == b'data: a\n\ndata: {"b":1}\n\nevent: e\ndata: c\n\nraw'


async def test_retry_replaces_the_opening_comment() -> None:
    chunks = await collect(items("a"), retry=1500)
    assert chunks[0] == b"retry: 1500\n\n"


async def test_heartbeat_during_silence_only() -> None:
    gate = asyncio.Event()

    async def silent_then_one() -> AsyncIterator[str]:
        await gate.wait()
        yield "late"

    events = stream(silent_then_one(), heartbeat=0.05)
    assert await anext(events) == OPENING
    assert await anext(events) == HEARTBEAT
    assert await anext(events) == HEARTBEAT
    gate.set()
    assert await anext(events) == b"data: late\n\n"
    with pytest.raises(StopAsyncIteration):
        await anext(events)


async def test_no_heartbeat_while_events_flow() -> None:
    async def steady() -> AsyncIterator[int]:
        for number in range(30):
            await asyncio.sleep(0.01)
            yield number

    chunks = await collect(steady(), heartbeat=1.0)
    assert HEARTBEAT not in chunks


async def test_exception_becomes_the_last_event_and_the_stream_ends() -> None:
    async def failing() -> AsyncIterator[str]:
        yield "one"
        raise KeyError("boom")

    chunks = await collect(failing())
    assert b"".join(chunks[1:]) == b"data: one\n\nerror: KeyError('boom')\n\n"


async def test_bad_item_is_reported_and_the_generator_closed() -> None:
    closed = asyncio.Event()

    async def yields_none() -> AsyncIterator[Any]:
        try:
            yield None
            yield "never"
        finally:
            closed.set()

    chunks = await collect(yields_none())
    assert chunks[-1].startswith(b"error: TypeError('Stream items must be")
    assert closed.is_set()


async def test_cancelling_the_writer_cancels_the_generator_at_its_await() -> None:
    waiting = asyncio.Event()
    outcome: list[str] = []

    async def forever() -> AsyncIterator[str]:
        yield "ready"
        waiting.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise
        finally:
            outcome.append("finally")

    async def consume() -> None:
        # As Django's ASGI handler does: iterate, and close whatever happens.
        async with aclosing(stream(forever())) as events:
            async for _chunk in events:
                pass

    task = asyncio.create_task(consume())
    await waiting.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The writer waited for the generator's clean-up before it let the cancel through.
    assert outcome == ["cancelled", "finally"]
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_next_after_the_end_stops() -> None:
    events = stream(items("a"))
    assert [chunk async for chunk in events][-1] == b"data: a\n\n"
    with pytest.raises(StopAsyncIteration):
        await anext(events)


async def test_closing_the_writer_early_closes_the_generator() -> None:
    outcome: list[str] = []

    async def many() -> AsyncIterator[int]:
        try:
            for number in range(10**6):
                yield number
                await asyncio.sleep(0)
        finally:
            outcome.append("finally")

    events = stream(many())
    await anext(events)
    await anext(events)
    await events.aclose()
    assert outcome == ["finally"]
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_a_fast_generator_waits_for_a_slow_reader() -> None:
    produced = 0
    chunk = b"x" * 1024

    async def fast() -> AsyncIterator[bytes]:
        nonlocal produced
        for _ in range(1000):
            produced += 1
            yield chunk

    events = stream(fast())
    await anext(events)
    first = await anext(events)
    for _ in range(200):  # let the pump run as far as it may
        await asyncio.sleep(0)
    # One buffer's worth taken, one buffered: far less than the whole megabyte.
    assert len(first) <= HIGH_WATER_MARK + len(chunk)
    assert produced * len(chunk) <= 2 * (HIGH_WATER_MARK + len(chunk))
    rest = b"".join([part async for part in events])
    assert len(first) + len(rest) == 1000 * len(chunk)


async def test_events_ready_together_are_written_together() -> None:
    async def burst() -> AsyncIterator[str]:
        for letter in "abc":
            yield letter

    # "a" goes straight to the waiting writer; "b" and "c" arrive while it is busy with "a".
    chunks = await collect(burst())
    assert chunks == [OPENING, b"data: a\n\n", b"data: b\n\ndata: c\n\n"]


async def test_heartbeat_timer_rearms_while_events_flow() -> None:
    async def steady() -> AsyncIterator[int]:
        for number in range(60):
            await asyncio.sleep(0.005)
            yield number

    # The timer fires several times and finds something written each time.
    chunks = await collect(steady(), heartbeat=0.1)
    assert HEARTBEAT not in chunks


async def test_no_heartbeat_piles_up_behind_a_slow_reader() -> None:
    async def one_then_silent() -> AsyncIterator[str]:
        yield "first"
        await asyncio.Event().wait()

    events = stream(one_then_silent(), heartbeat=0.02)
    await anext(events)
    assert await anext(events) == b"data: first\n\n"
    await asyncio.sleep(0.1)  # the reader is busy for five intervals
    assert await anext(events) == HEARTBEAT
    await events.aclose()


class Countdown:
    """An async iterator that is not a generator: it has no aclose()."""

    def __init__(self) -> None:
        self.left = 2

    def __aiter__(self) -> Countdown:
        return self

    async def __anext__(self) -> int:
        if not self.left:
            raise StopAsyncIteration
        self.left -= 1
        return self.left


async def test_plain_async_iterator() -> None:
    assert b"".join((await collect(Countdown()))[1:]) == b"data: 1\n\ndata: 0\n\n"


async def test_closing_before_the_first_chunk() -> None:
    events = stream(items("never started"))
    await events.aclose()
    with pytest.raises(StopAsyncIteration):
        await anext(events)


async def test_shutdown_calls_skip_a_stream_that_is_over_or_not_started() -> None:
    over = stream(items("a"))
    await over.aclose()
    over.hint_reconnect()  # over: nothing to tell its client
    with pytest.raises(StopAsyncIteration):
        await anext(over)
    fresh = stream(items("a"))
    fresh.shut_down()  # nothing runs yet, so nothing to stop
    assert [chunk async for chunk in fresh] == [OPENING, b"data: a\n\n"]


async def test_a_writer_that_stops_reading_outside_any_task_still_ends_the_stream() -> None:
    """SEND_TIMEOUT cancels the writer's task; a writer that is no task (a loop callback) has
    none to cancel, and its stream still ends and its generator is still closed."""
    ended = asyncio.Event()

    async def source() -> AsyncIterator[str]:
        try:
            yield "first"
            await asyncio.Event().wait()
        finally:
            ended.set()

    events = EventStream(source(), heartbeat=None, on_error=error_bytes, send_timeout=0.05)
    loop = asyncio.get_running_loop()
    first: asyncio.Future[asyncio.Future[bytes]] = loop.create_future()
    loop.call_soon(lambda: first.set_result(events.__anext__()))
    assert await (await first) == OPENING
    await asyncio.wait_for(ended.wait(), 5)  # nobody read again: the stall ended it
