"""A server's side of a request served in process: its scope, a client that stays, what is
sent to it; and the pool its request may use, held or at rest."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any


def http_scope(
    path: str, *, method: str = "GET", headers: Iterable[tuple[bytes, bytes]] = ()
) -> dict[str, Any]:
    """The scope of an HTTP/1.1 request for ``path`` from a loopback client, with a JSON
    content type and ``headers``."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }


def staying(messages: Iterable[dict[str, Any]]) -> Callable[[], Awaitable[dict[str, Any]]]:
    """An ASGI ``receive`` that gives ``messages``, then waits for ever: the client stays."""
    pending = iter(messages)
    never = asyncio.Event()

    async def receive() -> dict[str, Any]:
        for message in pending:
            return message
        await never.wait()
        raise AssertionError("unreachable")

    return receive


async def serve_to_the_end(
    handler: Any, scope: dict[str, Any], messages: Iterable[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """What ``handler`` sends for ``scope``, the client staying to the end: at most 10 s."""
    receive = staying(messages or [{"type": "http.request", "body": b"", "more_body": False}])
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asyncio.wait_for(handler(scope, receive, send), timeout=10)
    return sent


@contextmanager
def pool_held() -> Iterator[None]:
    """Every thread of the pool busy until the block ends. Each took one of these calls, so
    each has let go of what it ran before: a pool thread drops its last call (its arguments
    and its result) only before it takes the next one."""
    from django_streaming.threads import POOL

    free = threading.Event()
    busy = threading.Semaphore(0)

    def hold() -> None:
        busy.release()
        free.wait()

    for _ in range(POOL.size):
        POOL.submit(hold)
    try:
        for _ in range(POOL.size):
            assert busy.acquire(timeout=10)
        yield
    finally:
        free.set()


def pool_at_rest() -> None:
    """Return once every thread of the pool has let go of what it last ran. (The response of a
    call can reach the event loop a moment before the thread that made it lets go of it.)"""
    with pool_held():
        pass
