"""``django_streaming.asgi``: Django's ASGI handler, leaving no reference cycle behind a client
that went away, whichever of our views it was streaming from."""

from __future__ import annotations

import asyncio
import gc
import io
import json
import re
import sys
import threading
import weakref
import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from django.core import signals
from django.core.handlers.asgi import ASGIHandler as DjangoASGIHandler
from django.core.handlers.asgi import ASGIRequest
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.urls import path
from pytest_django.fixtures import Settings as SettingsWrapper

from django_streaming import ChatMessage, ChatStreamView, SSEResponse, SSEView, StreamItem
from django_streaming.asgi import ASGIHandler, _closes_without_io, get_asgi_application
from tests.support.asgi import http_scope, pool_at_rest, staying
from tests.support.asgi import serve_to_the_end as serve_scope_to_the_end
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


async def first_then_forever(request: HttpRequest) -> AsyncIterator[str]:
    try:
        yield "first"
        await asyncio.Event().wait()
    finally:
        finished[-1].set()


class Forever(SSEView):
    def stream(self, request: HttpRequest, *args: Any, **kwargs: Any) -> AsyncIterator[StreamItem]:
        return first_then_forever(request)


async def first_and_done(request: HttpRequest) -> AsyncIterator[str]:
    requests.append(weakref.ref(request))
    yield "first"


responses: list[weakref.ref[SSEResponse]] = []


class Short(SSEView):
    def stream(self, request: HttpRequest, *args: Any, **kwargs: Any) -> AsyncIterator[StreamItem]:
        return first_and_done(request)

    def stream_response(self, source: Any) -> SSEResponse:
        response = super().stream_response(source)
        responses.append(weakref.ref(response))
        return response


class Chat(ChatStreamView):
    def generate(self, messages: list[ChatMessage]) -> AsyncIterator[str]:
        return first_then_a_while(self.request)


urlpatterns = [
    path("stream", Stream.as_view()),
    path("resumable", Resumable.as_view()),
    path("short", Short.as_view()),
    path("chat", Chat.as_view()),
    path("forever", Forever.as_view()),
]


def scope(path: str, headers: Iterable[tuple[bytes, bytes]] = ()) -> dict[str, Any]:
    return http_scope(path, method="POST" if path == "/chat" else "GET", headers=headers)


async def serve_until_the_client_leaves(
    handler: Any,
    path: str,
    headers: Iterable[tuple[bytes, bytes]] = (),
    leaves_after: Callable[[bytes], bool] = lambda body: b"first" in body,
) -> list[dict[str, Any]]:
    """Serve ``path`` as a server would, the client leaving after the body that
    ``leaves_after`` (the first text, by default)."""
    left = asyncio.Event()
    body = json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode()
    sent: list[dict[str, Any]] = []
    messages = iter([{"type": "http.request", "body": body, "more_body": False}])

    async def receive() -> dict[str, Any]:
        for message in messages:
            return message
        await left.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if leaves_after(message.get("body", b"")):
            left.set()

    await asyncio.wait_for(handler(scope(path, headers), receive, send), timeout=10)
    return sent


def where_the_cycles_are_ours(test: Callable[..., Any]) -> Callable[..., Any]:
    """Skip ``test`` where what a request leaves behind is not this package's doing."""
    asgiref_s = pytest.mark.skipif(
        sys.version_info < (3, 11),
        reason="on Python 3.10, asgiref's Local leaves cycles (exceptions through contextlib) "
        "that hold the thread's frames, the one closing the response among them",
    )
    skipped: Callable[..., Any] = asgiref_s(test)
    return skipped


@contextmanager
def without_the_collector() -> Iterator[None]:
    """What stays inside is what a full collection would have to find."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_the_application_is_ours_its_disconnect_watch_too() -> None:
    """On every Django version: Django 6.1's ``handle()`` would hop to a thread for
    ``request_started`` and for the response's close, however little they do."""
    assert isinstance(get_asgi_application(), ASGIHandler)
    assert ASGIHandler.handle is not DjangoASGIHandler.handle
    assert ASGIHandler.listen_for_disconnect is not DjangoASGIHandler.listen_for_disconnect


@where_the_cycles_are_ours
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
    with without_the_collector():
        sent = await serve_until_the_client_leaves(handler, path)
        assert b"first" in b"".join(message.get("body", b"") for message in sent)
        await asyncio.wait_for(finished[-1].wait(), timeout=10)
        pool_at_rest()
        for _ in range(100):  # a resumable generation's task ends a few steps after it
            if requests[-1]() is None:
                break
            await asyncio.sleep(0)
        assert requests[-1]() is None


async def test_a_stream_whose_client_left_is_stopped_and_sent_no_closing_message(
    settings: SettingsWrapper,
) -> None:
    settings.ROOT_URLCONF = __name__
    finished.append(asyncio.Event())
    sent = await serve_until_the_client_leaves(get_asgi_application(), "/stream")
    assert finished[-1].is_set()  # its generator was stopped (or it ended) before the return
    assert sent[0]["type"] == "http.response.start"
    assert all(message["more_body"] for message in sent[1:])


GZIP = ["django.middleware.gzip.GZipMiddleware"]


def gunzipped_has_first() -> Callable[[bytes], bool]:
    """Whether the compressed bodies sent so far hold the first event. (One gzip stream on
    every Django version: ``SSEResponse`` compresses it itself before 6.1, and 6.1's
    ``GZipMiddleware`` sends its header alone, before it iterates the stream.)"""
    inflate = zlib.decompressobj(wbits=31)
    text = bytearray()

    def has_first(body: bytes) -> bool:
        text.extend(inflate.decompress(body))
        return b"first" in text

    return has_first


async def test_a_wrapped_stream_whose_client_left_is_cancelled_as_it_is_iterated(
    settings: SettingsWrapper,
) -> None:
    """Compressed, a stream is iterated by a task of its own, which a disconnect cancels."""
    settings.ROOT_URLCONF = __name__
    settings.MIDDLEWARE = GZIP
    finished.append(asyncio.Event())
    sent = await serve_until_the_client_leaves(
        get_asgi_application(),
        "/forever",
        headers=[(b"accept-encoding", b"gzip")],
        leaves_after=gunzipped_has_first(),
    )
    assert (b"Content-Encoding", b"gzip") in sent[0]["headers"]
    assert finished[-1].is_set()


async def test_a_wrapped_stream_whose_client_reads_nothing_ends_after_the_send_timeout(
    settings: SettingsWrapper,
) -> None:
    """Its stream cancels the task that iterates it, stuck in a send: the handler returns."""
    settings.ROOT_URLCONF = __name__
    settings.MIDDLEWARE = GZIP
    settings.DJANGO_STREAMING = {**settings.DJANGO_STREAMING, "SEND_TIMEOUT": 0.1}
    finished.append(asyncio.Event())
    stuck = asyncio.Event()
    has_first = gunzipped_has_first()

    async def send(message: Mapping[str, Any]) -> None:
        if has_first(message.get("body", b"")):  # the client's window is full from then on
            stuck.set()
            await asyncio.Event().wait()

    gzipped = http_scope("/forever", headers=[(b"accept-encoding", b"gzip")])
    receive = staying([{"type": "http.request", "body": b"", "more_body": False}])
    await asyncio.wait_for(get_asgi_application()(gzipped, receive, send), timeout=10)
    assert stuck.is_set()
    assert finished[-1].is_set()


@where_the_cycles_are_ours
async def test_a_stream_that_ends_leaves_no_reference_cycle(settings: SettingsWrapper) -> None:
    # The client stays: the disconnect watch is what is cancelled, and the response is the
    # result of the task that wrote it.
    settings.ROOT_URLCONF = __name__
    settings.MIDDLEWARE = []  # (AuthenticationMiddleware's cycle is Django's: see above)
    handler = get_asgi_application()
    with without_the_collector():
        sent = await serve_to_the_end(handler, "/short")
        assert b"data: first" in b"".join(message.get("body", b"") for message in sent)
        pool_at_rest()
        assert requests[-1]() is None
        assert responses[-1]() is None


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


class Big(SSEView):
    async def stream(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> AsyncIterator[StreamItem]:
        yield "x" * (ASGIHandler.chunk_size * 2 + 10)


release = threading.Event()


def file(request: HttpRequest) -> FileResponse:
    return FileResponse(io.BytesIO(b"f" * 100_000))


def blocked(request: HttpRequest) -> HttpResponse:
    release.wait(10)
    return HttpResponse("late")


def big_plain(request: HttpRequest) -> StreamingHttpResponse:
    async def parts() -> AsyncIterator[bytes]:
        yield b"y" * (ASGIHandler.chunk_size * 2 + 10)

    return StreamingHttpResponse(parts())


def with_cookie(request: HttpRequest) -> SSEResponse:
    response = SSEResponse(["a"])
    response.set_cookie("flavour", "oat")
    return response


big_urlpatterns = [
    path("big", Big.as_view()),
    path("big-plain", big_plain),
    path("cookie", with_cookie),
    path("stream", Stream.as_view()),
    path("file", file),
    path("blocked", blocked),
]


async def serve_to_the_end(
    handler: Any, path: str, messages: list[dict[str, Any]] | None = None, method: str = "GET"
) -> list[dict[str, Any]]:
    """What ``handler`` sends for ``path``, the client staying to the end."""
    return await serve_scope_to_the_end(handler, http_scope(path, method=method), messages)


@pytest.mark.parametrize(("url", "letter"), [("/big", b"x"), ("/big-plain", b"y")])
async def test_a_part_larger_than_a_chunk_goes_out_in_chunks(
    url: str, letter: bytes, settings: SettingsWrapper
) -> None:
    """An SSE response (sent by its stream) and any other streaming one (iterated) alike."""
    settings.ROOT_URLCONF = "tests.test_asgi_urls"
    sent = await serve_to_the_end(get_asgi_application(), url)
    bodies = [message["body"] for message in sent if message.get("body")]
    assert max(len(body) for body in bodies) == ASGIHandler.chunk_size
    assert b"".join(bodies).count(letter) == ASGIHandler.chunk_size * 2 + 10
    assert sent[-1] == {"type": "http.response.body"}


async def test_a_receiver_of_request_finished_of_our_own_runs_off_the_loop(
    settings: SettingsWrapper,
) -> None:
    settings.ROOT_URLCONF = "tests.test_asgi_urls"
    threads: list[int] = []

    def note(**kwargs: Any) -> None:
        threads.append(threading.get_ident())

    signals.request_finished.connect(note)
    try:
        finished.append(asyncio.Event())
        finished[-1].set()
        sent = await serve_to_the_end(get_asgi_application(), "/stream")
    finally:
        signals.request_finished.disconnect(note)
    assert b"first" in b"".join(message.get("body", b"") for message in sent)
    assert threads
    assert threading.get_ident() not in threads


class OwnClose(SSEResponse):
    def close(self) -> None:
        super().close()


def test_only_an_sse_response_of_django_s_receivers_alone_closes_on_the_loop() -> None:
    request = HttpRequest()
    plain = SSEResponse([])
    plain._resource_closers.append(request.close)  # type: ignore[attr-defined]
    assert _closes_without_io(plain, ASGIHandler)
    assert not _closes_without_io(HttpResponse(), ASGIHandler)
    assert not _closes_without_io(OwnClose([]), ASGIHandler)
    other = SSEResponse([])
    other._resource_closers.append(lambda: None)  # type: ignore[attr-defined]
    assert not _closes_without_io(other, ASGIHandler)

    async def note(**kwargs: Any) -> None:
        pass

    signals.request_finished.connect(note)
    try:
        assert not _closes_without_io(plain, ASGIHandler)
    finally:
        signals.request_finished.disconnect(note)


async def test_a_client_gone_before_its_body_gets_nothing() -> None:
    sent = await serve_to_the_end(get_asgi_application(), "/stream", [{"type": "http.disconnect"}])
    assert sent == []


@pytest.mark.parametrize("method", ["GET", "POST"])  # made on the loop, or in the pool
async def test_a_request_django_cannot_build_gets_its_error_response(
    method: str, settings: SettingsWrapper
) -> None:
    settings.ROOT_URLCONF = "tests.test_asgi_urls"

    class Refusing(ASGIHandler):
        def create_request(self, scope: Any, body_file: Any) -> Any:
            return None, HttpResponseBadRequest()

    sent = await serve_to_the_end(Refusing(), "/stream", method=method)
    assert sent[0]["status"] == 400


async def test_another_message_after_the_body_is_an_error_of_the_handler(
    settings: SettingsWrapper,
) -> None:
    settings.ROOT_URLCONF = "tests.test_asgi_urls"
    body = {"type": "http.request", "body": b"", "more_body": False}
    with pytest.raises(AssertionError, match="Invalid ASGI message after request body"):
        await serve_to_the_end(get_asgi_application(), "/big", [body, body])


# Django warns that it reads a file's iterator in a thread under ASGI.
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators")
async def test_a_file_goes_out_in_chunks_of_the_handler_s_size(settings: SettingsWrapper) -> None:
    settings.ROOT_URLCONF = "tests.test_asgi_urls"
    sent = await serve_to_the_end(get_asgi_application(), "/file")
    bodies = [message["body"] for message in sent if message.get("body")]
    assert len(bodies[0]) == ASGIHandler.chunk_size
    assert b"".join(bodies) == b"f" * 100_000


async def test_a_client_gone_while_the_view_runs_finishes_the_request(
    settings: SettingsWrapper,
) -> None:
    settings.ROOT_URLCONF = "tests.test_asgi_urls"
    release.clear()
    ended: list[bool] = []

    def note(**kwargs: Any) -> None:
        ended.append(True)

    body = {"type": "http.request", "body": b"", "more_body": False}
    signals.request_finished.connect(note)
    try:
        sent = await serve_to_the_end(
            get_asgi_application(), "/blocked", [body, {"type": "http.disconnect"}]
        )
    finally:
        signals.request_finished.disconnect(note)
        release.set()
    assert sent == []
    assert ended


async def test_the_response_of_a_request_is_made_in_one_hop(settings: SettingsWrapper) -> None:
    settings.ROOT_URLCONF = "tests.test_asgi_urls"
    request = ASGIRequest(scope("/file"), io.BytesIO())
    response = await ASGIHandler().get_response_async(request)
    assert isinstance(response, FileResponse)


async def test_a_stream_s_cookies_go_out_with_its_headers(settings: SettingsWrapper) -> None:
    settings.ROOT_URLCONF = "tests.test_asgi_urls"
    sent = await serve_to_the_end(get_asgi_application(), "/cookie")
    assert (b"Set-Cookie", b"flavour=oat; Path=/") in sent[0]["headers"]
    assert (b"Content-Type", b"text/event-stream; charset=utf-8") in sent[0]["headers"]


@pytest.mark.parametrize(
    ("parts", "in_memory"),
    [
        ([b"a" * 10], True),  # that of every GET, and of most POSTs
        ([b"a" * 10, b"b" * 10], False),  # in two messages
        ([b"c" * 3_000_000], False),  # larger than FILE_UPLOAD_MAX_MEMORY_SIZE (2.5 MB)
    ],
)
async def test_a_body_is_read_whole(parts: list[bytes], in_memory: bool) -> None:
    messages = [
        {"type": "http.request", "body": part, "more_body": number < len(parts) - 1}
        for number, part in enumerate(parts)
    ]
    body_file = await ASGIHandler().read_body(staying(messages))
    assert body_file.read() == b"".join(parts)
    assert isinstance(body_file, io.BytesIO) is in_memory
    body_file.close()
