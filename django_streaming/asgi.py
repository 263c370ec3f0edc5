"""``get_asgi_application()``: Django's ASGI application, made for many open streams.

Two things change from Django's own handler:

* **No thread per request.** Django gives each request a thread of its own (a
  ``ThreadSensitiveContext``) that lasts until its response ends, so each open stream holds an
  OS thread, and each sync middleware method costs a hop to it and back (a dozen hops per
  request with ``startproject``'s middleware). Here the middleware chain and the view run as a
  WSGI server runs them, in one hop to the bounded pool of ``threads.py``, which the streams'
  own sync work shares; an async view (or async-only middleware) runs on the event loop
  through ``async_to_sync``, as under WSGI, holding a thread of the pool while it runs. Once
  the response is returned no thread is held, and the request's database connections are
  closed (or given back to Django's psycopg pool) as ``request_finished`` would.
* **No hop at all for a stream that needs none.** A GET of an ``SSEView`` that runs only
  Django's code and ours until it streams, through middleware that does no I/O of its own
  (``startproject``'s, which reads the session and the user only when something touches them)
  runs on the event loop: no thread, no wait for one when the pool is busy. Any other request
  (another view, middleware of the site's own, a receiver of ``request_started``, a host the
  site does not serve, settings that make the middleware query) goes to the pool as above.
* **No reference cycle per client that leaves.** Django 5.2 and 6.0's
  ``ASGIHandler.handle()`` watches for the client's disconnect in a task that raises
  ``RequestAborted``, then re-raises that error to ignore it. The error's traceback holds
  ``handle()``'s frame, which holds the task, which holds the error: the request, the response
  and all they refer to wait for a full garbage collection, which with a thousand open
  streams stops the event loop for 200-300 ms every few seconds (`make soak`). Here the
  watch ends without an error, and it is the one task a request adds to the server's: the
  server's task makes the response and sends it, and a stream sent with ``serve()`` is told
  that its client left (``EventStream.client_left()``) rather than cancelled. Only what must
  be cancelled when the client leaves gets a task of its own: a hop to the pool, or a
  response sent any other way. (Django makes two tasks per request; 6.1 rewrote ``handle()``
  around a task group; this one serves every version alike.)

Per request, ``request_started`` goes in the same hop as the middleware and the view, or on
the loop with them (Django sends it in a hop of its own), and an ``SSEResponse`` is closed on
the event loop when only Django's own receivers listen to ``request_finished`` (a hop to a
thread costs more than the close); per chunk, the response is sent without Django's generator
and tuple per chunk.

And one thing is added, for development: with ``DEBUG`` on, it serves the static files too, as
``manage.py runserver`` does.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from functools import cached_property
from typing import IO, Any, TypeVar

import django
from asgiref.sync import sync_to_async
from django.apps import apps
from django.conf import settings
from django.core import signals
from django.core.exceptions import DisallowedHost, RequestAborted
from django.core.handlers.asgi import ASGIHandler as DjangoASGIHandler
from django.core.handlers.asgi import get_script_prefix
from django.http import FileResponse, HttpRequest
from django.http.response import HttpResponseBase
from django.urls import Resolver404, ResolverMatch, get_resolver, set_script_prefix, set_urlconf
from django.utils.log import log_response

from .on_loop import LAZY_MIDDLEWARE, lazy_settings, receivers
from .responses import SSEResponse
from .threads import pool_context

__all__ = ["ASGIHandler", "get_asgi_application"]

_T = TypeVar("_T")


class ASGIHandler(DjangoASGIHandler):
    """Django's ASGI handler, with the middleware and view in one hop to a shared pool of
    threads (or none), and one task per request besides the server's, which watches for a
    disconnect and ends without an error."""

    def __init__(self) -> None:
        # Not Django's __init__: it builds the async chain, one hop per sync middleware method.
        self.load_middleware(is_async=False)
        self._lazy_middleware = all(path in LAZY_MIDDLEWARE for path in settings.MIDDLEWARE)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        # In place of Django's ThreadSensitiveContext, whose thread would last as long as the
        # response: the request's sync work goes to the pool.
        with pool_context():
            await self.handle(scope, receive, send)

    async def read_body(self, receive: Any) -> IO[bytes]:
        """Django's, less its spooled temporary file for a body that comes in one message and
        fits in memory (that of every GET)."""
        first = await receive()
        if first["type"] == "http.request" and not first.get("more_body", False):
            body = first.get("body", b"")
            if len(body) <= settings.FILE_UPLOAD_MAX_MEMORY_SIZE:
                return io.BytesIO(body)
        replayed = False

        async def receive_from_the_first() -> Any:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return first

        body_file: IO[bytes] = await super().read_body(receive_from_the_first)
        return body_file

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        # The whole sync chain in one hop, as under WSGI; or with no hop, when it does no I/O.
        if self._runs_on_loop(request):
            return await self._get_response_on_loop(request)
        return await sync_to_async(self.get_response)(request)

    def _runs_on_loop(self, request: HttpRequest) -> bool:
        """Whether ``request`` can run on the event loop, middleware, view and all: a GET of a
        view that runs only Django's code and ours until it streams (``SSEView``'s
        ``does_no_io``), through middleware that does no I/O of its own (``LAZY_MIDDLEWARE``,
        under the settings it needs) to a host the site serves (a request for another makes
        Django log an error, which may mean an e-mail)."""
        if request.method != "GET" or not self._lazy_middleware or not lazy_settings():
            return False
        try:
            request.get_host()
            match = get_resolver().resolve(request.path_info)
        except (DisallowedHost, Resolver404):
            return False
        # Resolved once (resolve_request()): none of that middleware sets request.urlconf.
        request.resolver_match = match
        return bool(getattr(match.func, "does_no_io", False))

    async def _get_response_on_loop(self, request: HttpRequest) -> HttpResponseBase:
        """Django's ``get_response_async()``, with the sync chain called in place."""
        set_urlconf(settings.ROOT_URLCONF)
        response: HttpResponseBase = self._middleware_chain(request)  # type: ignore[attr-defined]
        response._resource_closers.append(request.close)  # type: ignore[attr-defined]
        if response.status_code >= 400:  # logged in a thread, as Django's does
            await sync_to_async(log_response)(
                "%s: %s",
                response.reason_phrase,
                request.path,
                response=response,  # type: ignore[arg-type]
                request=request,
            )
        return response

    def resolve_request(self, request: HttpRequest) -> ResolverMatch:
        match = request.resolver_match  # set by _runs_on_loop(), or not yet
        return super().resolve_request(request) if match is None else match

    def make_view_atomic(self, view: Any) -> Any:
        # An SSEView that does no I/O before it streams runs in this thread as it is, instead
        # of through async_to_sync (a trip to the event loop and back).
        return super().make_view_atomic(getattr(view, "sync_view", view))

    async def send_response(self, response: HttpResponseBase, send: Any) -> None:
        if not response.streaming:
            await super().send_response(response, send)
            return
        # Django's, less a generator and a tuple per chunk: an event is far below chunk_size.
        headers = [
            (
                header.encode("ascii") if isinstance(header, str) else bytes(header),
                value.encode("latin1") if isinstance(value, str) else bytes(value),
            )
            for header, value in response.items()
        ]
        for cookie in response.cookies.values():
            headers.append((b"Set-Cookie", cookie.output(header="").encode("ascii").strip()))
        await send(
            {"type": "http.response.start", "status": response.status_code, "headers": headers}
        )
        servable = response.servable_stream() if isinstance(response, SSEResponse) else None
        if servable is not None:
            # Each chunk sent where it is made, not woken for here (streams.py).
            if await servable.serve(send, self.chunk_size):
                await send({"type": "http.response.body"})
            return
        chunk_size = self.chunk_size
        stream: AsyncIterator[bytes] = aiter(response)  # type: ignore[arg-type]
        async with aclosing(stream) as content:  # type: ignore[type-var]
            async for part in content:
                if len(part) <= chunk_size:
                    await send({"type": "http.response.body", "body": part, "more_body": True})
                    continue
                for chunk, _ in self.chunk_bytes(part):
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body"})

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Django's, with ``request_started``, the request and its response in one hop to
        the pool, as under WSGI, where Django makes two (and a task per signal); and with one
        task besides the server's, which watches for the client's disconnect, where Django
        makes two."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        watch = asyncio.create_task(self.listen_for_disconnect(receive))
        try:
            response = await self._respond(scope, body_file, watch)
            if response is not None and not watch.done():
                await self._send_until_left(response, send, watch)
        finally:
            if not watch.done():
                watch.cancel()
                await asyncio.wait((watch,))
            body_file.close()
        if response is None:
            await signals.request_finished.asend(sender=self.__class__)
        elif _closes_without_io(response, self.__class__):
            response.close()
        else:
            await sync_to_async(response.close)()
        error = None if watch.cancelled() else watch.exception()
        if isinstance(error, AssertionError):  # (as Django's handle() raises it)
            raise error

    async def _send_until_left(
        self, response: HttpResponseBase, send: Any, watch: asyncio.Task[None]
    ) -> None:
        """Send ``response``, and stop when the client leaves (``watch`` ends): a served
        stream is told so (no task of its own); anything else is sent in a task, cancelled."""
        stream = response.servable_stream() if isinstance(response, SSEResponse) else None
        if stream is not None:
            watch.add_done_callback(stream.client_left)
            await self.send_response(response, send)
            return
        await _unless_left(watch, self.send_response(response, send))

    async def _respond(
        self, scope: dict[str, Any], body_file: IO[bytes], watch: asyncio.Task[None]
    ) -> HttpResponseBase | None:
        """``request_started``, the request and its response: on the event loop when they do
        no I/O (``_runs_on_loop()``), else in one hop to the pool; None when the client left
        (``watch`` ended) while the pool made it, which then goes on unwaited, as Django's."""
        request = None
        if scope["method"] == "GET" and self._lazy_middleware:
            listening = receivers(signals.request_started, self.__class__)
            if listening is not None:
                # Made before request_started is sent, to know where it goes: Django's
                # receivers do nothing in a thread that holds no database connection.
                request, response = self.create_request(scope, body_file)
                if request is None:
                    return response
                if self._runs_on_loop(request):
                    if listening == "ours":  # apps.py's: it notes the process's first request
                        signals.request_started.send(sender=self.__class__, scope=scope)
                    response = await self._get_response_on_loop(request)
                    response._handler_class = self.__class__  # type: ignore[attr-defined]
                    return response
        return await _unless_left(watch, self._respond_in_pool(scope, body_file, request))

    @cached_property
    def _respond_in_pool(self) -> Callable[..., Awaitable[HttpResponseBase]]:
        # Made once, not per request (some 10 µs each).
        return sync_to_async(self._respond_in_thread)

    def _respond_in_thread(
        self, scope: dict[str, Any], body_file: IO[bytes], request: HttpRequest | None = None
    ) -> HttpResponseBase:
        """``request_started``, then the response to ``request``, made here unless the loop
        made it already (to learn it goes to the pool)."""
        signals.request_started.send(sender=self.__class__, scope=scope)
        if request is None:
            request, response = self.create_request(scope, body_file)
            if request is None:
                return response  # type: ignore[return-value]
        response = self.get_response(request)
        response._handler_class = self.__class__  # type: ignore[attr-defined]
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size
        return response

    async def listen_for_disconnect(self, receive: Any) -> None:
        message = await receive()
        if message["type"] != "http.disconnect":
            # As Django's: handle() lets this one through.
            raise AssertionError(f"Invalid ASGI message after request body: {message['type']}")


async def _unless_left(watch: asyncio.Task[None], work: Awaitable[_T]) -> _T | None:
    """``work``'s result, run in a task of its own that is cancelled if the client leaves
    (``watch`` ends) first; None when it was cancelled (a stream may cancel the task that
    iterates it: ``SEND_TIMEOUT``). Its error, raised."""
    task = asyncio.ensure_future(work)
    await asyncio.wait((watch, task), return_when=asyncio.FIRST_COMPLETED)
    if not task.done():
        task.cancel()
        # Waited for, not awaited: awaiting it would raise its CancelledError here, whose
        # traceback holds this frame, which holds the task, which keeps the error (a cycle
        # per request, from Python 3.12 on).
        await asyncio.wait((task,))
    return None if task.cancelled() else task.result()


def _closes_without_io(response: HttpResponseBase, sender: type) -> bool:
    """Whether ``response`` can be closed on the event loop rather than in a hop to a thread,
    which costs more than the close itself: an ``SSEResponse`` (its own ``close()``) whose only
    closer is its request's (uploaded files), with no receiver of ``request_finished`` but
    Django's own (``on_loop.receivers()``)."""
    if not isinstance(response, SSEResponse) or type(response).close is not SSEResponse.close:
        return False
    closers = response._resource_closers  # type: ignore[attr-defined]
    if not all(isinstance(getattr(close, "__self__", None), HttpRequest) for close in closers):
        return False
    return receivers(signals.request_finished, sender) is not None


def get_asgi_application() -> DjangoASGIHandler:
    """Use in place of ``django.core.asgi.get_asgi_application()`` in your ``asgi.py``.

    When ``settings.DEBUG`` is on and ``django.contrib.staticfiles`` is installed, the
    application also serves the static files under ``STATIC_URL`` (the chat widget's CSS and
    JS among them) through Django's ``ASGIStaticFilesHandler``, as ``manage.py runserver``
    does, so ``uvicorn mysite.asgi:application`` works in development as it is. With ``DEBUG``
    off it serves none: in production, ``collectstatic`` and your web server or WhiteNoise
    serve them. ``DEBUG`` is read once, here.
    """
    django.setup(set_prefix=False)
    handler = ASGIHandler()
    if settings.DEBUG and apps.is_installed("django.contrib.staticfiles"):
        from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

        # Static requests take Django's own handler (a thread each): development only.
        return ASGIStaticFilesHandler(handler)
    return handler
