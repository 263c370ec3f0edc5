"""Crossing between sync and async code, one stream at a time.

Django buffers a sync iterator whole under ASGI and an async iterator whole under WSGI. These two
bridges let every stream run through the one async engine in ``streams.py`` under either kind of
server, chunk by chunk.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from asgiref.sync import async_to_sync

from .threads import call_and_release

__all__ = [
    "ClosableAsyncIterator",
    "SyncIterator",
    "call_async",
    "iterate_in_thread",
    "maybe_await",
]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
_DONE = object()


async def maybe_await(value: Any) -> Any:
    """``value``, awaited if it is awaitable: the result of a hook that may be sync or async
    (``can_read()``, ``start_metadata()``...)."""
    return await value if inspect.isawaitable(value) else value


async def iterate_in_thread(iterable: Iterable[T]) -> AsyncGenerator[T, None]:
    """Iterate a sync iterable without blocking the event loop.

    Each stream gets a thread of its own while it runs, as under a threaded WSGI server, so a
    generator that sleeps or waits on I/O holds up no other stream. ``close()`` runs in that
    same thread after the last ``next()``, so the generator's ``finally`` runs even when the
    client left mid-step. Each step gives back the database connections it used, as a request
    does when it ends.
    """
    iterator: Iterator[T] = iter(iterable)
    context = contextvars.copy_context()
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="django_streaming")
    step = functools.partial(context.run, call_and_release, next, iterator, _DONE)
    loop = asyncio.get_running_loop()
    try:
        while (item := await loop.run_in_executor(executor, step)) is not _DONE:
            yield item  # anything but _DONE is a T
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            executor.submit(context.run, call_and_release, close)
        executor.shutdown(wait=False)


class ClosableAsyncIterator(Protocol[T_co]):
    """An async iterator with ``aclose()``: an async generator, or an ``EventStream``."""

    def __anext__(self) -> Awaitable[T_co]: ...

    def aclose(self) -> Awaitable[object]: ...


class SyncIterator(Iterator[T]):
    """Iterate an async iterator from sync code (a WSGI server's thread), one item at a time.

    The async iterator runs on an event loop private to this stream, which runs only while the
    server waits for the next item; timers (such as the heartbeat) fire during that wait.
    ``close()``, which WSGI servers call when the client is gone, closes the async iterator on
    that loop, and cancels any task it left behind, so every ``finally`` runs before the server
    moves on.
    """

    def __init__(self, iterator: ClosableAsyncIterator[T]) -> None:
        self._iterator = iterator
        self._loop = asyncio.new_event_loop()

    def __next__(self) -> T:
        if self._loop.is_closed():
            raise StopIteration
        try:
            return self._loop.run_until_complete(self._next())
        except StopAsyncIteration:
            self.close()
            raise StopIteration from None

    async def _next(self) -> T:
        # Asked for inside the loop: an EventStream binds to the loop that runs it.
        return await self._iterator.__anext__()

    def close(self) -> None:
        loop = self._loop
        if loop.is_closed() or loop.is_running():
            # Running: close() was called from inside the iteration (Django's test client does
            # that at the end); __next__ closes once the loop is back.
            return
        try:
            loop.run_until_complete(self._iterator.aclose())
            loop.run_until_complete(_cancel_leftover_tasks())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()


async def _cancel_leftover_tasks() -> None:
    leftovers = asyncio.all_tasks() - {asyncio.current_task()}
    for task in leftovers:
        task.cancel()
    await asyncio.gather(*leftovers, return_exceptions=True)


def call_async(function: Callable[..., Awaitable[T]], *args: Any) -> T | Awaitable[T]:
    """Call the async ``function`` from a sync view method. On the thread that runs the event
    loop (``SSEView.as_view()`` runs a view there when it does no I/O of its own) this returns
    the coroutine, which ``as_view()`` awaits; on any other thread (WSGI, or a view run in a
    thread) it runs it to the end through ``async_to_sync``."""
    if asyncio._get_running_loop() is not None:  # no exception to catch: see below
        return function(*args)
    # Not from inside an except block: async_to_sync passes the exception being handled on to
    # the loop, and its traceback would hold this frame, and the request, in a cycle.
    return async_to_sync(function)(*args)
