"""A server's side of a request served in process: its scope, and a client that stays."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterable
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


def pool_at_rest() -> None:
    """Return once every thread of the pool has let go of what it last ran: a pool thread
    drops its last call (and so its arguments and result) before it takes the next one, so
    each taking one of these shows it did. (The response of a call can reach the event loop
    a moment before the thread that made it lets go of it.)"""
    from django_streaming.threads import POOL

    everyone = threading.Barrier(POOL.size + 1)
    for _ in range(POOL.size):
        POOL.submit(everyone.wait, 10)
    everyone.wait(10)
