"""``SSEView``: subclass, write ``stream()`` as a generator, and every item becomes an event."""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any, ClassVar
from urllib.parse import unquote_plus

from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.views import View

from .bridges import maybe_await
from .conf import FROM_SETTINGS, FromSettings
from .responses import SSEResponse, StreamItem, error_event, error_response
from .resumable.mixin import ResumableMixin
from .sse import Event

__all__ = ["SSEView", "error_response"]

#: Longer ids are refused: they only come from a client that is broken or hostile.
LAST_EVENT_ID_MAX_LENGTH = 256

ViewResult = HttpResponseBase | Awaitable[HttpResponseBase]


class SSEView(ResumableMixin, View):
    """A class-based view that streams what ``stream()`` yields as server-sent events.

    .. code-block:: python

        class Clock(SSEView):
            async def stream(self, request, *args, **kwargs):
                while True:
                    yield {"now": time.time()}
                    await asyncio.sleep(1)

    ``stream()`` may be an async or a sync generator. ``self.last_event_id`` holds the id the
    client last received (the ``Last-Event-ID`` header a reconnecting ``EventSource`` sends, or
    a ``lastEventId`` query parameter), or ``None``.

    Until the stream starts, this is a sync view like any other, so Django's auth mixins
    (``LoginRequiredMixin``, ``PermissionRequiredMixin``, ...) work unchanged. Under ASGI it
    runs on the event loop when ``setup()``, ``dispatch()`` and the handlers are Django's or
    ours (they do no I/O); when a mixin or subclass overrides one, it may do sync I/O (loading
    the user, say), so Django runs it in a thread: one hop per request, never one per event.
    Under ``django_streaming.asgi``, a GET of such a view whose ``stream()`` is a generator
    makes no hop at all when its middleware does no I/O either (``startproject``'s).

    With ``resumable = True`` (ASGI only) the generator runs as a task of its own that writes
    each event, numbered in its id, to the stream store (``DJANGO_STREAMING["STORE"]``), and
    the response tails the store: a client that disconnects does not stop the generation, and
    a reconnect with ``Last-Event-ID`` gets every event after that id, then the live ones. The
    stream ends with ``event: end`` and data ``{"status": ...}``: ``completed``, ``cancelled``
    (stopped, or past ``max_duration``), ``error`` or ``interrupted`` (its worker went away).
    Mount it with ``path("clock/", include(Clock.urls()))`` to also serve
    ``POST clock/<stream_id>/stop``, which stops the generation on whichever worker runs it.
    Only the visitor who started a stream (``stream_owner()``) may resume or stop it. Its
    handlers are ``async def`` (``aget()``, ``astop()``: see ``ResumableMixin``).

    Override ``error_event()`` to change what an exception in the stream becomes, in plain,
    resumable and channel streams alike.
    """

    http_method_names: ClassVar[list[str]] = ["get", "options"]  # type: ignore[misc]
    heartbeat: ClassVar[float | FromSettings | None] = FROM_SETTINGS
    retry: ClassVar[int | FromSettings | None] = FROM_SETTINGS
    headers: ClassVar[Mapping[str, str]] = {}
    response_class: ClassVar[type[SSEResponse]] = SSEResponse

    last_event_id: str | None = None

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Callable[..., Any]:
        view = super().as_view(**initkwargs)
        needs_the_loop = cls.resumable or cls.handlers_are_async
        # Our own setup, dispatch and handlers do no I/O; anyone else's may (async handlers
        # are awaited on the loop, whoever wrote them).
        methods = [cls.setup, cls.dispatch]
        if not needs_the_loop:
            methods += [getattr(cls, name) for name in cls.http_method_names if name != "options"]
        on_loop = all(_is_ours(method) for method in methods)
        if not needs_the_loop and not on_loop:
            return view

        async def async_view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            if needs_the_loop and not isinstance(request, ASGIRequest):
                raise ImproperlyConfigured(
                    f"{cls.__name__} needs an ASGI server (uvicorn, daphne, hypercorn, granian): "
                    + (
                        "its generation outlives the request."
                        if cls.resumable
                        else "each of its streams waits on the event loop."
                    )
                )
            response = (
                view(request, *args, **kwargs)
                if on_loop
                else (await sync_to_async(view)(request, *args, **kwargs))
            )
            # dispatch() returns the coroutine of an async handler (ResumableMixin), or a
            # response of its own (a mixin's redirect, a 405).
            return await maybe_await(response)

        wrapper = functools.update_wrapper(async_view, view)
        if not needs_the_loop:
            # Where the request is already in a thread (django_streaming.asgi), this view
            # runs there as it is, rather than going back to the event loop.
            wrapper.sync_view = view  # type: ignore[attr-defined]
            # And where it runs only Django's code and ours before it streams, and the
            # middleware too does no I/O, django_streaming.asgi runs the request on the loop.
            wrapper.does_no_io = on_loop and _starts_streams_without_io(cls)  # type: ignore[attr-defined]
        return wrapper

    def stream(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> AsyncIterator[StreamItem] | Iterator[StreamItem]:
        """Yield the events to send. Override this."""
        raise NotImplementedError(f"{type(self).__name__} must define stream().")

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        refused = self.read_last_event_id(request)
        if refused is not None:
            return refused
        return self.stream_response(self.stream(request, *args, **kwargs))

    def read_last_event_id(self, request: HttpRequest) -> JsonResponse | None:
        """Set ``self.last_event_id`` from the request, or refuse one that no stream of ours
        could have sent (a 400)."""
        last_event_id = _last_event_id(request)
        if last_event_id is not None:
            problem = last_event_id_problem(last_event_id)
            if problem:
                return error_response(400, "invalid_last_event_id", problem)
        self.last_event_id = last_event_id
        return None

    def head(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # What View.setup() would otherwise store on each view, as ``self.head = self.get``:
        # a reference cycle that keeps the view and its request until a full collection.
        return self.get(request, *args, **kwargs)

    def stream_response(self, source: Any) -> SSEResponse:
        """The response streaming ``source``, with this view's heartbeat, retry and headers."""
        return self.response_class(
            source,
            heartbeat=self.heartbeat,
            retry=self.retry,
            headers=self.headers,
            on_error=self.error_event,
            request=getattr(self, "request", None),
        )

    def error_event(self, error: Exception) -> Event:
        """The event that ends a stream in place of ``error``: plain, resumable and channel
        streams alike. By default ``event: error`` with JSON ``{"message": ...}``, naming the
        exception only when ``DEBUG`` is on (the error is logged)."""
        return error_event(error)


def _starts_streams_without_io(cls: type[SSEView]) -> bool:
    """Whether a GET of ``cls`` runs nothing but Django's code and ours until its stream starts:
    the view and its response are built by our own methods, and ``stream()`` is a generator
    function, whose body waits for the stream."""
    methods: list[Callable[..., Any]] = [cls.read_last_event_id, cls.stream_response]
    methods += [cls.__init__, cls.response_class.__init__]
    return all(_is_ours(method) for method in methods) and (
        inspect.isasyncgenfunction(cls.stream) or inspect.isgeneratorfunction(cls.stream)
    )


def _is_ours(method: Callable[..., Any]) -> bool:
    return method.__module__ == "django.views.generic.base" or method.__module__.startswith(
        "django_streaming."
    )


def _last_event_id(request: HttpRequest) -> str | None:
    # META and the raw query string, not request.headers and request.GET: building those costs
    # more than the rest of this view, and most requests carry neither. And request.GET raises
    # (TooManyFieldsSent) for a query of many fields, an error this view need not make.
    header: str | None = request.META.get("HTTP_LAST_EVENT_ID")
    query: str = request.META.get("QUERY_STRING", "")
    if header is not None or "lastEventId=" not in query:
        return header
    value = None
    for field in query.split("&"):  # as QueryDict reads it: the last one counts
        name, _, raw = field.partition("=")
        if name == "lastEventId":
            value = raw
    return None if value is None else unquote_plus(value, errors="replace")


def last_event_id_problem(value: str, name: str = "Last-Event-ID") -> str | None:
    """Why ``value`` cannot be an id a stream of ours sent (None if it can be one); ``name``
    says where it came from."""
    if len(value) > LAST_EVENT_ID_MAX_LENGTH:
        return f"{name} is longer than {LAST_EVENT_ID_MAX_LENGTH} characters."
    if "\r" in value or "\n" in value or "\0" in value:
        return f"{name} must not contain CR, LF or NUL."
    return None
