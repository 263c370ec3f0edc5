"""Graceful shutdown: streams end when the server is told to stop, instead of holding it up.

A server stopping gracefully (uvicorn on SIGTERM or SIGINT, say) waits for open responses to
finish, and a stream may never finish. So the first stream a process serves chains a handler in
front of the server's own for those signals: it stops resumable generations running here (they
end ``interrupted`` in the store) and ends every open stream with a ``retry:`` hint, so that
``EventSource`` reconnects within a second, to a worker that is still running. Then the
server's handler runs as before. Nothing is installed when the signal is not handled by the
server (the process would die at once anyway) or off the main thread (Python forbids it).
"""

from __future__ import annotations

import asyncio
import signal
import threading
import weakref
from collections.abc import Callable
from types import FrameType
from typing import Any, Protocol

__all__ = ["GENERATION_GRACE", "generations", "register", "shut_down", "watch_signals"]

#: Seconds that resumable generations get to store their end before the streams close.
GENERATION_GRACE = 1.0
SIGNALS = (signal.SIGTERM, signal.SIGINT)


class _Stoppable(Protocol):
    @property
    def loop(self) -> asyncio.AbstractEventLoop | None: ...

    def hint_reconnect(self) -> None: ...

    def shut_down(self) -> None: ...


class _Generation(Protocol):
    task: asyncio.Task[None] | None

    def cancel(self, reason: Any) -> None: ...


_streams: weakref.WeakSet[_Stoppable] = weakref.WeakSet()
#: The resumable generations running in this process.
generations: set[_Generation] = set()
_watching = False
# The loops' shut-down tasks, held until done: a loop keeps only weak references to tasks.
_pending: set[asyncio.Task[None]] = set()


def register(stream: _Stoppable) -> None:
    """Note an open stream; ``shut_down()`` ends it. Installs the signal handlers once."""
    _streams.add(stream)
    if not _watching:
        watch_signals()


def watch_signals() -> None:
    global _watching
    _watching = True
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in SIGNALS:
        previous = signal.getsignal(signum)
        if callable(previous) and previous is not signal.default_int_handler:
            signal.signal(signum, _chained(previous))


def _chained(previous: Callable[[int, FrameType | None], Any]) -> Callable[..., Any]:
    def handler(signum: int, frame: FrameType | None) -> Any:
        shut_down()
        return previous(signum, frame)

    return handler


def shut_down() -> None:
    """End every open stream of this process, on the loop that serves it, after giving the
    resumable generations running here ``GENERATION_GRACE`` seconds to store their end."""
    per_loop: dict[asyncio.AbstractEventLoop, tuple[list[_Stoppable], list[_Generation]]] = {}
    for stream in list(_streams):
        assert stream.loop is not None  # a stream registers once it runs on its loop
        per_loop.setdefault(stream.loop, ([], []))[0].append(stream)
    for generation in list(generations):
        assert generation.task is not None  # so does a generation, once it has its task
        per_loop.setdefault(generation.task.get_loop(), ([], []))[1].append(generation)
    for loop, (streams, on_loop) in per_loop.items():
        if not loop.is_closed():
            loop.call_soon_threadsafe(_shut_down_on_loop, loop, streams, on_loop)


def _shut_down_on_loop(
    loop: asyncio.AbstractEventLoop, streams: list[_Stoppable], on_loop: list[_Generation]
) -> None:
    for stream in streams:
        stream.hint_reconnect()
    for generation in on_loop:
        generation.cancel("interrupted")
    tasks = [generation.task for generation in on_loop if generation.task is not None]

    async def end_streams() -> None:
        if tasks:
            await asyncio.wait(tasks, timeout=GENERATION_GRACE)
        for stream in streams:
            stream.shut_down()

    _pending.add(task := loop.create_task(end_streams()))
    task.add_done_callback(_pending.discard)
