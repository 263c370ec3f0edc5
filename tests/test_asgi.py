"""``django_streaming.asgi``: Django's ASGI handler, leaving no reference cycle behind a client
that went away."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator
from typing import Any

import pytest
from django.http import HttpRequest
from django.urls import path
from pytest_django.fixtures import Settings as SettingsWrapper

from django_streaming import SSEView, StreamItem
from django_streaming.asgi import ASGIHandler, get_asgi_application

requests: list[weakref.ref[HttpRequest]] = []


class Forever(SSEView):
    async def stream(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> AsyncIterator[StreamItem]:
        requests.append(weakref.ref(request))
        yield "first"
        await asyncio.Event().wait()


urlpatterns = [path("forever", Forever.as_view())]

SCOPE = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/forever",
    "raw_path": b"/forever",
    "query_string": b"",
    "headers": [(b"host", b"testserver")],
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 80),
}


async def serve_until_the_client_leaves(handler: Any) -> list[bytes]:
    """Serve /forever as a server would, the client leaving after the first event."""
    left = asyncio.Event()
    body: list[bytes] = []
    requests = iter([{"type": "http.request", "body": b"", "more_body": False}])

    async def receive() -> dict[str, Any]:
        for message in requests:
            return message
        await left.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            body.append(message["body"])
            if b"data: first" in message["body"]:
                left.set()

    await asyncio.wait_for(handler(SCOPE, receive, send), timeout=10)
    return body


def test_the_application_is_ours() -> None:
    assert isinstance(get_asgi_application(), ASGIHandler)


async def test_a_client_that_leaves_leaves_no_reference_cycle(settings: SettingsWrapper) -> None:
    settings.ROOT_URLCONF = __name__
    # Django's AuthenticationMiddleware leaves a cycle of its own (request.user's closure
    # holds the request); without middleware, what stays is the handler's doing.
    settings.MIDDLEWARE = []
    gc.collect()
    gc.disable()  # what stays without it is what a full collection would have to find
    try:
        body = await serve_until_the_client_leaves(get_asgi_application())
        assert b"data: first\n\n" in b"".join(body)
        assert requests[-1]() is None
    finally:
        gc.enable()


async def test_any_other_message_after_the_body_is_an_error() -> None:
    messages = iter([{"type": "http.request"}])

    async def receive() -> dict[str, Any]:
        return next(messages)

    with pytest.raises(AssertionError, match="Invalid ASGI message after request body"):
        await ASGIHandler().listen_for_disconnect(receive)
