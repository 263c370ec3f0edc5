from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import AsyncGenerator, Iterator

import pytest

from django_streaming.bridges import SyncIterator, iterate_in_thread

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")


async def test_iterate_in_thread_runs_off_the_event_loop() -> None:
    loop_thread = threading.get_ident()
    request_id.set("abc")

    def numbers() -> Iterator[tuple[int, bool, str]]:
        for number in range(3):
            yield number, threading.get_ident() != loop_thread, request_id.get()

    assert [item async for item in iterate_in_thread(numbers())] == [
        (0, True, "abc"),
        (1, True, "abc"),
        (2, True, "abc"),
    ]


async def test_a_blocked_generator_does_not_block_the_loop() -> None:
    gate = threading.Event()

    def blocked() -> Iterator[str]:
        gate.wait(10)
        yield "released"

    items = iterate_in_thread(blocked())
    step = asyncio.ensure_future(anext(items))
    await asyncio.sleep(0)
    assert not step.done()  # the loop runs on while next() waits in its thread
    gate.set()
    assert await step == "released"
    await items.aclose()


async def test_leaving_early_closes_the_generator_in_its_thread() -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            while True:
                yield 1
        finally:
            closed.set()

    items = iterate_in_thread(endless())
    assert await anext(items) == 1
    await items.aclose()
    assert closed.wait(5)


def test_sync_iterator_drives_an_async_generator() -> None:
    async def numbers() -> AsyncGenerator[int, None]:
        for number in range(3):
            await asyncio.sleep(0)
            yield number

    assert list(SyncIterator(numbers())) == [0, 1, 2]


def test_sync_iterator_close_runs_the_generators_finally() -> None:
    outcome: list[str] = []

    async def endless() -> AsyncGenerator[int, None]:
        try:
            while True:
                yield 1
        finally:
            await asyncio.sleep(0)  # clean-up may await
            outcome.append("finally")

    iterator = SyncIterator(endless())
    assert next(iterator) == 1
    iterator.close()
    iterator.close()  # a second close is harmless
    assert outcome == ["finally"]
    with pytest.raises(StopIteration):
        next(iterator)


async def test_iterate_in_thread_takes_any_iterable() -> None:
    assert [item async for item in iterate_in_thread([1, 2])] == [1, 2]


def test_sync_iterator_close_cancels_tasks_left_behind() -> None:
    cancelled: list[bool] = []

    async def background() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def spawns() -> AsyncGenerator[int, None]:
        asyncio.ensure_future(background())  # noqa: RUF006 - left behind on purpose
        yield 1

    iterator = SyncIterator(spawns())
    assert next(iterator) == 1
    iterator.close()
    assert cancelled == [True]
