"""``SSEView``: subclass, write ``stream()`` as a generator, and every item becomes an event."""

from __future__ import annotations

import functools
import inspect
import secrets
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from typing import Any, ClassVar, Literal

from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIRequest
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseNotAllowed,
    JsonResponse,
)
from django.urls import URLPattern, path
from django.views import View

from .bridges import iterate_in_thread
from .conf import FROM_SETTINGS, FromSettings, get_config
from .responses import SSEResponse, StreamItem, error_event
from .resumable import Generation, new_stream_id, parse_event_id, tail
from .sse import Event
from .stores import EndStatus, StoreUnavailable, StreamStore, TooManyStreams, get_store

__all__ = ["SSEView", "error_response"]

#: Longer ids are refused: they only come from a client that is broken or hostile.
LAST_EVENT_ID_MAX_LENGTH = 256
# The session key under which a visitor's random owner token is kept.
OWNER_SESSION_KEY = "_django_streaming_owner"
#: The owner of streams started without a session or a user.
ANONYMOUS_OWNER = "anonymous"
#: Seconds a client refused for having too many streams is told to wait (``Retry-After``).
TOO_MANY_STREAMS_RETRY_AFTER = 5

Action = Literal["start", "resume", "stop"]
ViewResult = HttpResponseBase | Awaitable[HttpResponseBase]


class SSEView(View):
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

    With ``resumable = True`` (ASGI only) the generator runs as a task of its own that writes
    each event, numbered in its id, to the stream store (``DJANGO_STREAMING["STORE"]``), and
    the response tails the store: a client that disconnects does not stop the generation, and
    a reconnect with ``Last-Event-ID`` gets every event after that id, then the live ones. The
    stream ends with ``event: end`` and data ``{"status": ...}``: ``completed``, ``cancelled``
    (stopped, or past ``max_duration``), ``error`` or ``interrupted`` (its worker went away).
    Mount it with ``path("clock/", include(Clock.urls()))`` to also serve
    ``POST clock/<stream_id>/stop``, which stops the generation on whichever worker runs it.
    Only the visitor who started a stream (``stream_owner()``) may resume or stop it.
    """

    http_method_names: ClassVar[list[str]] = ["get", "options"]  # type: ignore[misc]
    heartbeat: ClassVar[float | FromSettings | None] = FROM_SETTINGS
    retry: ClassVar[int | FromSettings | None] = FROM_SETTINGS
    headers: ClassVar[Mapping[str, str]] = {}
    response_class: ClassVar[type[SSEResponse]] = SSEResponse
    #: Run the generator apart from the response, resumable and stoppable through the store.
    resumable: ClassVar[bool] = False
    #: Whether the handlers return coroutines (they read the store): ASGI only.
    handlers_are_async: ClassVar[bool] = False
    #: Seconds a resumable generation may run; the ``MAX_DURATION`` setting by default.
    max_duration: ClassVar[float | FromSettings] = FROM_SETTINGS
    #: What this URL does; set by ``urls()``.
    action: Action = "start"

    last_event_id: str | None = None

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Callable[..., Any]:
        view = super().as_view(**initkwargs)
        # Our own setup, dispatch and handlers do no I/O; anyone else's may.
        methods = [cls.setup, cls.dispatch] + [
            getattr(cls, name) for name in cls.http_method_names if name != "options"
        ]
        on_loop = all(_is_ours(method) for method in methods)
        needs_the_loop = cls.resumable or cls.handlers_are_async
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
            # A resumable handler returns a coroutine: the store is async.
            return await response if inspect.isawaitable(response) else response

        wrapper = functools.update_wrapper(async_view, view)
        if not needs_the_loop:
            # Where the request is already in a thread (django_streaming.asgi), this view
            # runs there as it is, rather than going back to the event loop.
            wrapper.sync_view = view  # type: ignore[attr-defined]
        return wrapper

    @classmethod
    def urls(
        cls,
        *,
        name: str | None = None,
        decorators: Sequence[Callable[..., Any]] = (),
        **initkwargs: Any,
    ) -> list[URLPattern]:
        """The URLs of a resumable view, for ``include()``: ``""`` (named ``name``) serves the
        stream and ``"<stream_id>/stop"`` (POST) stops it. ``decorators`` wrap each view
        (``csrf_exempt`` for an API authenticated by tokens, say)."""
        return [
            path("", cls.action_view("start", decorators, **initkwargs), name=name),
            path("<str:stream_id>/stop", cls.action_view("stop", decorators, **initkwargs)),
        ]

    @classmethod
    def action_view(
        cls, action: Action, decorators: Sequence[Callable[..., Any]] = (), **initkwargs: Any
    ) -> Any:
        """``as_view()`` for one of the URLs of ``urls()``, wrapped in ``decorators``."""
        view = cls.as_view(action=action, **initkwargs)
        for decorator in reversed(decorators):
            view = decorator(view)
        return view

    def stream(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> AsyncIterator[StreamItem] | Iterator[StreamItem]:
        """Yield the events to send. Override this."""
        raise NotImplementedError(f"{type(self).__name__} must define stream().")

    async def stream_owner(self, request: HttpRequest) -> str:
        """Who may resume and stop the resumable streams started by ``request``: the user when
        logged in, else the session (a random token kept in it). Override for other schemes
        (an API key, say)."""
        auser = getattr(request, "auser", None)
        if auser is not None:
            user = await auser()
            if user.is_authenticated:
                return f"user:{user.pk}"
        session = getattr(request, "session", None)
        if session is None:
            # No session middleware: the unguessable stream id is the only guard.
            return ANONYMOUS_OWNER
        token = await session.aget(OWNER_SESSION_KEY)
        if token is None:
            token = secrets.token_urlsafe(18)
            await session.aset(OWNER_SESSION_KEY, token)
        return f"session:{token}"

    def stream_ending(self, status: EndStatus) -> Iterable[StreamItem]:
        """What a resumable stream sends after its last event, given how it ended."""
        return [Event(event="end", data={"status": status})]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if self.action == "stop":
            if request.method != "POST":
                return HttpResponseNotAllowed(["POST"])
            return _store_errors(self._stop(request, kwargs))
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> ViewResult:
        refused = self.read_last_event_id(request)
        if refused is not None:
            return refused
        if self.resumable:
            return _store_errors(self._start_or_resume(request, args, kwargs))
        return self.stream_response(self.stream(request, *args, **kwargs))

    def read_last_event_id(self, request: HttpRequest) -> JsonResponse | None:
        """Set ``self.last_event_id`` from the request, or refuse one that no stream of ours
        could have sent (a 400)."""
        last_event_id = _last_event_id(request)
        if last_event_id is not None:
            problem = _last_event_id_problem(last_event_id)
            if problem:
                return error_response(400, "invalid_last_event_id", problem)
        self.last_event_id = last_event_id
        return None

    def head(self, request: HttpRequest, *args: Any, **kwargs: Any) -> ViewResult:
        # What View.setup() would otherwise store on each view, as ``self.head = self.get``:
        # a reference cycle that keeps the view and its request until a full collection.
        return self.get(request, *args, **kwargs)

    def stream_response(self, source: Any) -> SSEResponse:
        """The response streaming ``source``, with this view's heartbeat, retry and headers."""
        return self.response_class(
            source, heartbeat=self.heartbeat, retry=self.retry, headers=self.headers
        )

    # Resumable streams.

    async def _start_or_resume(
        self, request: HttpRequest, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> HttpResponseBase:
        store = get_store()
        owner = await self.stream_owner(request)
        if self.last_event_id is None:
            stream_id = new_stream_id()
            await self.create_stream(store, stream_id, owner)
            self.start_generation(store, stream_id, self.stream(request, *args, **kwargs))
            return self.tail_response(store, stream_id, after=0)
        parsed = parse_event_id(self.last_event_id)
        if parsed is None or not await _owns(store, parsed[0], owner):
            return _not_found()
        stream_id, after = parsed
        entries, ended = await store.read(stream_id, after, timeout=0)
        if ended and not entries:
            # Nothing more will come: 204 tells EventSource to stop reconnecting.
            return HttpResponse(status=204)
        return self.tail_response(store, stream_id, after=after)

    async def _stop(self, request: HttpRequest, kwargs: dict[str, Any]) -> HttpResponseBase:
        store = get_store()
        owner = await self.stream_owner(request)
        stream_id = await self.find_stream(store, owner, kwargs)
        if isinstance(stream_id, HttpResponseBase):
            return stream_id
        if stream_id is not None:
            await store.request_stop(stream_id)
        return HttpResponse(status=204)

    async def find_stream(
        self, store: StreamStore, owner: str, kwargs: dict[str, Any]
    ) -> str | HttpResponseBase | None:
        """The stream a stop or resume URL names, None if none is active, or a 404 when it
        is not ``owner``'s."""
        stream_id = kwargs.get("stream_id", "")
        if not await _owns(store, stream_id, owner):
            return _not_found()
        return str(stream_id)

    async def create_stream(
        self, store: StreamStore, stream_id: str, owner: str, key: str | None = None
    ) -> str | None:
        """Register a new stream of ``owner``'s in ``store`` (see ``StreamStore.create()``),
        within the ``MAX_ACTIVE_PER_OWNER`` setting: beyond it, ``TooManyStreams`` (a 429).
        Visitors without a session all share the ``anonymous`` owner, so they are not
        limited: a view that knows them better overrides ``stream_owner()``."""
        limit = get_config()["MAX_ACTIVE_PER_OWNER"]
        return await store.create(
            stream_id,
            owner=owner,
            key=key,
            max_active=None if owner == ANONYMOUS_OWNER else limit,
            max_duration=self.get_max_duration(),
        )

    def get_max_duration(self) -> float:
        """Seconds a generation of this view may run: ``max_duration`` or the setting."""
        if self.max_duration is FROM_SETTINGS:
            return get_config()["MAX_DURATION"]
        return self.max_duration

    def start_generation(
        self,
        store: StreamStore,
        stream_id: str,
        source: AsyncIterable[Any] | Iterable[Any],
        key: str | None = None,
    ) -> Generation:
        generation = Generation(
            store,
            stream_id,
            source if isinstance(source, AsyncIterable) else iterate_in_thread(source),
            key=key,
            max_duration=self.get_max_duration(),
            on_error=error_event,
        )
        generation.start()
        return generation

    def tail_response(self, store: StreamStore, stream_id: str, *, after: int) -> SSEResponse:
        return self.stream_response(tail(store, stream_id, after=after, ending=self.stream_ending))


async def _owns(store: StreamStore, stream_id: str, owner: str) -> bool:
    if not stream_id or len(stream_id) > LAST_EVENT_ID_MAX_LENGTH:
        return False
    info = await store.info(stream_id)
    return info is not None and secrets.compare_digest(info.owner, owner)


async def _store_errors(response: Awaitable[HttpResponseBase]) -> HttpResponseBase:
    try:
        return await response
    except StoreUnavailable:
        return error_response(
            503, "store_unavailable", "Streams are unavailable for a moment; try again shortly."
        )
    except TooManyStreams:
        refused = error_response(
            429,
            "too_many_streams",
            "You have as many answers in progress as allowed; wait for one to finish.",
        )
        refused["Retry-After"] = str(TOO_MANY_STREAMS_RETRY_AFTER)
        return refused


def _not_found() -> JsonResponse:
    return error_response(404, "not_found", "There is no such stream.")


def _is_ours(method: Callable[..., Any]) -> bool:
    return method.__module__ == "django.views.generic.base" or method.__module__.startswith(
        "django_streaming."
    )


def error_response(status: int, code: str, message: str) -> JsonResponse:
    """The JSON error every 4xx of this package answers with: ``{"error": {"code", "message"}}``.

    Use it in your own views (an ``SSEView.get()`` that refuses early, say) so that clients see
    one error shape::

        return error_response(404, "not_found", "No such conversation.")
    """
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def _last_event_id(request: HttpRequest) -> str | None:
    # META and the raw query string, not request.headers and request.GET: building those costs
    # more than the rest of this view, and most requests carry neither.
    header: str | None = request.META.get("HTTP_LAST_EVENT_ID")
    if header is not None or "lastEventId=" not in request.META.get("QUERY_STRING", ""):
        return header
    return request.GET.get("lastEventId")


def _last_event_id_problem(value: str) -> str | None:
    if len(value) > LAST_EVENT_ID_MAX_LENGTH:
        return f"Last-Event-ID is longer than {LAST_EVENT_ID_MAX_LENGTH} characters."
    if "\r" in value or "\n" in value or "\0" in value:
        return "Last-Event-ID must not contain CR, LF or NUL."
    return None
