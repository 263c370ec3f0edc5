"""``django_streaming.asgi``: Django's ASGI handler, leaving no reference cycle behind a client
that went away, whichever of our views it was streaming from."""

from __future__ import annotations

import asyncio
import gc
import json
import re
import sys
import weakref
from collections.abc import AsyncIterator, Mapping
from typing import Any

import django
import httpx
import pytest
from django.core.handlers.asgi import ASGIHandler as DjangoASGIHandler
from django.http import HttpRequest
from django.urls import path
from pytest_django.fixtures import Settings as SettingsWrapper

from django_streaming import ChatMessage, ChatStreamView, SSEView, StreamItem
from django_streaming.asgi import ASGIHandler, get_asgi_application
from tests.support.servers import uvicorn_server

requests: list[weakref.ref[HttpRequest]] = []
finished: list[asyncio.Event] = []


async def first_then_a_while(request: HttpRequest) -> AsyncIterator[str]:
    requests.append(weakref.ref(request))
    try:
        yield "first"
        # The client leaves meanwhile: this is cancelled, or, resumable, runs on to the end.
        await asyncio.sleep(0.05)
    finally:
        finished[-1].set()


class Stream(SSEView):
    def stream(self, request: HttpRequest, *args: Any, **kwargs: Any) -> AsyncIterator[StreamItem]:
        return first_then_a_while(request)


class Resumable(Stream):
    resumable = True


class Chat(ChatStreamView):
    def generate(self, messages: list[ChatMessage]) -> AsyncIterator[str]:
        return first_then_a_while(self.request)


urlpatterns = [
    path("stream", Stream.as_view()),
    path("resumable", Resumable.as_view()),
    path("chat", Chat.as_view()),
]


def scope(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST" if path == "/chat" else "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }


async def serve_until_the_client_leaves(handler: Any, path: str) -> bytes:
    """Serve ``path`` as a server would, the client leaving after the first text."""
    left = asyncio.Event()
    body = json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode()
    received: list[bytes] = []
    messages = iter([{"type": "http.request", "body": body, "more_body": False}])

    async def receive() -> dict[str, Any]:
        for message in messages:
            return message
        await left.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            received.append(message["body"])
            if b"first" in message["body"]:
                left.set()

    await asyncio.wait_for(handler(scope(path), receive, send), timeout=10)
    return b"".join(received)


HANDLER_IS_OURS = django.VERSION < (6, 1)


def test_the_application_is_ours_its_disconnect_watch_where_django_leaves_the_cycle() -> None:
    assert isinstance(get_asgi_application(), ASGIHandler)
    ours = ASGIHandler.listen_for_disconnect is not DjangoASGIHandler.listen_for_disconnect
    assert ours is HANDLER_IS_OURS


@pytest.mark.skipif(
    not HANDLER_IS_OURS,
    reason="Django 6.1's handler (a task group) leaves cycles of its own, and it is Django's",
)
@pytest.mark.skipif(
    sys.version_info < (3, 11),
    reason="on Python 3.10, asgiref's Local leaves cycles (exceptions through contextlib) that "
    "hold the thread's frames, the one closing the response among them",
)
@pytest.mark.parametrize("path", ["/stream", "/resumable", "/chat"])
async def test_a_client_that_leaves_leaves_no_reference_cycle(
    settings: SettingsWrapper, path: str
) -> None:
    settings.ROOT_URLCONF = __name__
    # Django's AuthenticationMiddleware leaves a cycle of its own (request.user's closure
    # holds the request); without middleware, what stays is the handler's and the views' doing.
    settings.MIDDLEWARE = []
    finished.append(asyncio.Event())
    handler = get_asgi_application()
    gc.collect()
    gc.disable()  # what stays without it is what a full collection would have to find
    try:
        assert b"first" in await serve_until_the_client_leaves(handler, path)
        await asyncio.wait_for(finished[-1].wait(), timeout=10)
        for _ in range(100):  # a resumable generation's task ends a few steps after it
            if requests[-1]() is None:
                break
            await asyncio.sleep(0)
        assert requests[-1]() is None
    finally:
        gc.enable()


async def test_any_other_message_after_the_body_is_an_error() -> None:
    messages = iter([{"type": "http.request"}])

    async def receive() -> dict[str, Any]:
        return next(messages)

    with pytest.raises(AssertionError, match="Invalid ASGI message after request body"):
        await ASGIHandler().listen_for_disconnect(receive)


@pytest.mark.parametrize("kind", ["websocket", "lifespan"])
async def test_a_connection_that_is_not_http_is_refused_by_name(kind: str) -> None:
    async def nothing() -> dict[str, Any]:
        return {}

    async def ignore(message: Mapping[str, Any]) -> None:
        raise AssertionError("nothing may be sent")

    with pytest.raises(ValueError, match=f"not {kind}"):
        await get_asgi_application()({"type": kind}, nothing, ignore)


def get_static(debug: bool, settings: SettingsWrapper) -> httpx.Response:
    """The widget's script, from ``get_asgi_application()`` under uvicorn, built with ``DEBUG``."""
    settings.DEBUG = debug
    application = get_asgi_application()
    settings.DEBUG = False  # serving does not depend on it: the choice was made above
    with uvicorn_server(app=application) as server:
        return httpx.get(f"{server.url}/static/django_streaming/chat.js", timeout=10)


def test_with_debug_on_it_serves_static_files_as_runserver_does(settings: SettingsWrapper) -> None:
    response = get_static(True, settings)
    assert response.status_code == 200
    assert re.fullmatch(r"(text|application)/javascript(;.*)?", response.headers["content-type"])
    assert "export" in response.text


def test_with_debug_off_it_serves_no_static_files(settings: SettingsWrapper) -> None:
    assert get_static(False, settings).status_code == 404


def test_with_debug_on_but_no_staticfiles_app_it_serves_none(settings: SettingsWrapper) -> None:
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if "staticfiles" not in app]
    assert get_static(True, settings).status_code == 404
