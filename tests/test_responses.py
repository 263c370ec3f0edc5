from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from typing import Any

import pytest
from django.test import AsyncClient, Client, override_settings

from django_streaming import SSEResponse
from django_streaming.streams import HEARTBEAT
from tests.support.sse_parser import parse


async def numbers() -> AsyncIterator[int]:
    for number in range(3):
        yield number


async def body_of(response: Any) -> bytes:
    return b"".join([chunk async for chunk in response])


def test_headers() -> None:
    response = SSEResponse(numbers(), headers={"X-Custom": "1"})
    assert response["Content-Type"] == "text/event-stream; charset=utf-8"
    assert response["Cache-Control"] == "no-cache"
    assert response["X-Accel-Buffering"] == "no"
    assert response["X-Custom"] == "1"
    assert "Connection" not in response
    assert response.is_async


def test_headers_can_be_overridden() -> None:
    response = SSEResponse(numbers(), headers={"Cache-Control": "no-store"}, status=201)
    assert response["Cache-Control"] == "no-store"
    assert response.status_code == 201


@pytest.mark.parametrize("heartbeat", [0, -1, "5", True])
def test_bad_heartbeat(heartbeat: Any) -> None:
    with pytest.raises(ValueError, match="heartbeat must be a positive number of seconds"):
        SSEResponse(numbers(), heartbeat=heartbeat)


@pytest.mark.parametrize("retry", [-1, 1.5, "5"])
def test_bad_retry(retry: Any) -> None:
    with pytest.raises(ValueError, match="retry must be a non-negative int of milliseconds"):
        SSEResponse(numbers(), retry=retry)


async def test_async_iteration() -> None:
    result = parse(await body_of(SSEResponse(numbers())))
    assert [event.data for event in result.events] == ["0", "1", "2"]


def test_sync_iteration_of_an_async_generator_streams_it() -> None:
    # What a WSGI server does; Django alone would collect the whole stream first.
    response = SSEResponse(numbers())
    chunks = iter(response)
    assert next(chunks) == b": stream open\n\n"
    assert b"".join(chunks) == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"


async def test_sync_generator_under_asgi() -> None:
    def words() -> Iterator[str]:
        yield "one"
        yield "two"

    result = parse(await body_of(SSEResponse(words())))
    assert [event.data for event in result.events] == ["one", "two"]


async def serve_until_cancelled(response: SSEResponse, started: asyncio.Event) -> None:
    """As Django's ASGI handler serves a response whose client went away."""
    chunks = aiter(response)
    try:
        async with aclosing(chunks):
            while True:
                await anext(chunks)
                started.set()
    except (StopAsyncIteration, asyncio.CancelledError):
        pass  # Django's handler ends quietly too


@pytest.mark.parametrize("ending", ["client gone", "finished"])
async def test_a_served_response_is_freed_without_the_garbage_collector(ending: str) -> None:
    # A reference cycle would keep the response, its stream and all they hold until a full
    # collection, which pauses the event loop for as long as it takes to walk every object.
    started = asyncio.Event()

    async def ticks() -> AsyncIterator[str]:
        yield "tick"
        if ending == "client gone":
            await asyncio.Event().wait()

    gc.collect()
    gc.disable()
    try:
        response = SSEResponse(ticks())
        freed = weakref.ref(response)
        serving = asyncio.create_task(serve_until_cancelled(response, started))
        del response
        await started.wait()
        if ending == "client gone":
            serving.cancel()
        await serving
        del serving
        assert freed() is None
    finally:
        gc.enable()


@override_settings(DJANGO_STREAMING={"RETRY": 3000})
async def test_retry_from_the_setting() -> None:
    assert (await body_of(SSEResponse(numbers()))).startswith(b"retry: 3000\n\n")


@override_settings(DJANGO_STREAMING={"HEARTBEAT_INTERVAL": 0.01})
async def test_heartbeat_from_the_setting() -> None:
    async def silent() -> AsyncIterator[str]:
        await asyncio.sleep(10)
        yield "never"

    chunks = aiter(SSEResponse(silent()))
    await anext(chunks)
    assert await anext(chunks) == HEARTBEAT
    await chunks.aclose()


async def test_a_middleware_wrapping_the_stream_is_served() -> None:
    response = SSEResponse(numbers())
    original = response.streaming_content

    async def shout() -> AsyncIterator[bytes]:
        async for chunk in original:  # type: ignore[union-attr]
            yield chunk.upper()

    response.streaming_content = shout()
    assert b"DATA: 0" in await body_of(response)


async def test_async_client() -> None:
    response = await AsyncClient().get("/function/")
    assert response.status_code == 200
    body = b"".join([chunk async for chunk in response.streaming_content])  # type: ignore[attr-defined]
    assert [event.data for event in parse(body).events] == ["0", "1", "2"]


def test_sync_client() -> None:
    response = Client().get("/function/")
    assert [event.data for event in parse(b"".join(response)).events] == ["0", "1", "2"]
