"""sse-starlette on Starlette, with its ping (heartbeat) at the same 15 s as ours."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from benchmarks.apps.raw_asgi import idle, stream_parameters


async def stream(request: Request) -> EventSourceResponse:
    count, delay = stream_parameters(request.scope["query_string"])

    async def tokens() -> AsyncIterator[str]:
        for number in range(count):
            if delay:
                await asyncio.sleep(delay)
            yield f"token {number}"
        if idle(request.scope["query_string"]):
            await asyncio.Event().wait()

    return EventSourceResponse(tokens(), ping=15)


app = Starlette(routes=[Route("/stream", stream)])
