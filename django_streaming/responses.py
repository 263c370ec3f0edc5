"""``SSEResponse``: a ``StreamingHttpResponse`` that streams server-sent events under any server."""

from __future__ import annotations

import logging
import zlib
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Iterable,
    Mapping,
)
from contextlib import aclosing
from typing import TypeAlias, cast

import django
from django.conf import settings
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse

from . import metrics
from .bridges import ClosableAsyncIterator, SyncIterator, iterate_in_thread
from .checks import is_non_negative_int, is_positive_number
from .conf import FROM_SETTINGS, FromSettings, get_config
from .sse import Event, JSONData
from .streams import EventStream
from .threads import release_connections

__all__ = ["SSEResponse", "StreamItem", "error_event", "error_response"]

logger = logging.getLogger("django_streaming")

#: What a stream may yield: event data (text or JSON), an ``Event``, or bytes already encoded.
StreamItem: TypeAlias = Event | bytes | JSONData

GENERIC_ERROR_MESSAGE = "The stream failed on the server."

# GZipMiddleware before Django 6.1 holds an async stream's events back: 5.2 compresses each
# chunk as a gzip member of its own (browsers stop reading after the first), 6.0 compresses one
# stream without flushing it. 6.1 flushes after each chunk.
_GZIP_MIDDLEWARE_HOLDS_EVENTS = django.VERSION < (6, 1)


class SSEResponse(StreamingHttpResponse):
    """Stream the items of ``content`` as server-sent events.

    ``content`` is a sync or async iterable of ``str`` (one event's data), ``dict``/``list``/
    numbers (JSON data), ``Event`` or ``bytes`` (sent as they are). It streams chunk by chunk
    under ASGI and WSGI servers alike; a sync iterable runs in a thread of its own.

    ``heartbeat`` is the seconds of silence after which a comment keeps the connection alive
    (``None``: never); ``retry`` the milliseconds a browser waits before reconnecting. Both
    default to the ``DJANGO_STREAMING`` setting. ``on_error`` turns an exception raised by
    ``content`` into the event that ends the stream (``error_event()`` by default).
    ``request``, when given, names the stream's view in the metrics and the log line, and its
    ``traceparent`` is the parent of the stream's span (``SSEView`` passes its own).
    """

    def __init__(
        self,
        content: Iterable[StreamItem] | AsyncIterable[StreamItem] = (),
        *,
        heartbeat: float | FromSettings | None = FROM_SETTINGS,
        retry: int | FromSettings | None = FROM_SETTINGS,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        on_error: Callable[[Exception], Event] | None = None,
        request: HttpRequest | None = None,
    ) -> None:
        config = get_config()
        self._on_error = error_event if on_error is None else on_error
        if heartbeat is FROM_SETTINGS:
            heartbeat = config["HEARTBEAT_INTERVAL"]
        if retry is FROM_SETTINGS:
            retry = config["RETRY"]
        if heartbeat is not None and not is_positive_number(heartbeat):
            raise ValueError(
                f"heartbeat must be a positive number of seconds or None, not {heartbeat!r}."
            )
        if retry is not None and not is_non_negative_int(retry):
            raise ValueError(
                f"retry must be a non-negative int of milliseconds or None, not {retry!r}."
            )
        source = content if isinstance(content, AsyncIterable) else iterate_in_thread(content)
        self._stream = EventStream(
            source,
            heartbeat=heartbeat,
            retry=retry,
            on_error=self.error_event,
            send_timeout=config["SEND_TIMEOUT"],
            shutdown_retry=config["SHUTDOWN_RETRY"],
            watch=metrics.StreamWatch(request) if metrics.watching() else None,
        )
        self._sync_iterator: SyncIterator[bytes] | None = None
        super().__init__(
            self._stream,
            content_type="text/event-stream; charset=utf-8",
            status=status,
            headers=headers,
        )
        self.headers.setdefault("Cache-Control", "no-cache")
        # nginx buffers proxied responses unless told not to.
        self.headers.setdefault("X-Accel-Buffering", "no")

    def error_event(self, error: Exception) -> bytes:
        """Log ``error`` and return the event that ends the stream in its place.

        The event is ``event: error`` with JSON ``{"message": ...}``; the message names the
        exception only when ``DEBUG`` is on. (``on_error``, when given, makes the event.)
        """
        return self._on_error(error).encode()

    def _body(self) -> ClosableAsyncIterator[bytes]:
        replaced = getattr(self, "_iterator", None) is not self._stream
        if not replaced:
            return self._stream
        if _GZIP_MIDDLEWARE_HOLDS_EVENTS and self.get("Content-Encoding") == "gzip":
            return _gzip(self._stream)
        # A middleware wrapped the stream: serve what it made of it. (It stays async: the
        # setter keeps an async iterator async.)
        return _closing(cast(AsyncIterator[bytes], self.streaming_content), self._stream)

    def servable_stream(self) -> EventStream | None:
        """The stream, when what this response serves is that stream as it is (no middleware
        wrapped it): an ASGI handler may then let it send each chunk itself
        (``EventStream.serve()``) rather than iterate it."""
        return self._stream if getattr(self, "_iterator", None) is self._stream else None

    def __aiter__(self) -> ClosableAsyncIterator[bytes]:  # type: ignore[override]
        return self._body()

    def __iter__(self) -> SyncIterator[bytes]:
        # Under WSGI: stream chunk by chunk rather than Django's collect-everything fallback,
        # and give back the request's database connections now rather than when it ends.
        release_connections()
        self._sync_iterator = SyncIterator(self._body())
        return self._sync_iterator

    def close(self) -> None:
        # A WSGI server calls this when the client is gone: stop the generator first.
        if self._sync_iterator is not None:
            self._sync_iterator.close()
        # A view's error hook holds the view and its request, which the stream's reference
        # to this response would otherwise keep until a full collection.
        self._on_error = error_event
        super().close()


def error_event(error: Exception) -> Event:
    """Log ``error`` and return the event that tells the client the stream failed: the
    exception is named only when ``DEBUG`` is on."""
    logger.error("Error while streaming a response", exc_info=error)
    message = f"{type(error).__name__}: {error}" if settings.DEBUG else GENERIC_ERROR_MESSAGE
    return Event(event="error", data={"message": message})


def error_response(status: int, code: str, message: str) -> JsonResponse:
    """The JSON error every 4xx of this package answers with: ``{"error": {"code", "message"}}``.

    Use it in your own views (an ``SSEView.get()`` that refuses early, say) so that clients see
    one error shape::

        return error_response(404, "not_found", "No such conversation.")
    """
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


async def _closing(
    wrapped: AsyncIterator[bytes], stream: EventStream
) -> AsyncGenerator[bytes, None]:
    """Serve ``wrapped`` and close ``stream`` whatever happens, which a wrapper may not do."""
    try:
        async for chunk in wrapped:
            yield chunk
    finally:
        await stream.aclose()


async def _gzip(chunks: EventStream) -> AsyncGenerator[bytes, None]:
    """One gzip stream, flushed after every chunk so that no event waits in the compressor."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    async with aclosing(chunks):
        async for chunk in chunks:
            yield compressor.compress(chunk) + compressor.flush(zlib.Z_SYNC_FLUSH)
    yield compressor.flush()
