"""The floor: a bare ASGI app that writes preformatted events, with nothing on top."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs

Scope = dict[str, Any]


def stream_parameters(query_string: bytes) -> tuple[int, float]:
    query = parse_qs(query_string.decode())
    return int(query.get("n", ["100"])[0]), float(query.get("delay", ["0"])[0])


def idle(query_string: bytes) -> bool:
    """``idle=1``: after its events the stream stays open, silent, until the client leaves."""
    return b"idle=1" in query_string


async def app(scope: Scope, receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    count, delay = stream_parameters(scope["query_string"])
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")],
        }
    )
    for number in range(count):
        if delay:
            await asyncio.sleep(delay)
        body = f"data: token {number}\n\n".encode()
        await send({"type": "http.response.body", "body": body, "more_body": True})
    if idle(scope["query_string"]):
        while (await receive())["type"] != "http.disconnect":
            pass
        return
    await send({"type": "http.response.body", "body": b""})
