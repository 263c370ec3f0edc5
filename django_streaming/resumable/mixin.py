"""``ResumableMixin``: what makes ``SSEView`` and ``ChatStreamView`` resumable: their URLs,
the owner of each stream, and the async handlers that start, resume and stop them."""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseNotAllowed
from django.urls import URLPattern, path

from django_streaming import metrics
from django_streaming.bridges import iterate_in_thread
from django_streaming.conf import FROM_SETTINGS, FromSettings, get_config
from django_streaming.responses import SSEResponse, StreamItem, error_response
from django_streaming.sse import Event
from django_streaming.stores import (
    EndStatus,
    StoreUnavailable,
    StreamStore,
    TooManyStreams,
    get_store,
)

from .generation import Generation
from .ids import is_stream_id, new_stream_id, parse_event_id
from .tail import tail

if TYPE_CHECKING:
    from django.views import View

    _Base = View
else:
    _Base = object

__all__ = ["ResumableMixin", "store_errors"]

# The session key under which a visitor's random owner token is kept.
OWNER_SESSION_KEY = "_django_streaming_owner"
#: The owner of streams started without a session or a user.
ANONYMOUS_OWNER = "anonymous"
# Set in request.META when stream_owner() gave the request's session its first owner token.
NEW_OWNER_META = "django_streaming.new_owner"
#: Seconds a client refused for having too many streams is told to wait (``Retry-After``).
TOO_MANY_STREAMS_RETRY_AFTER = 5

Action = Literal["start", "resume", "stop"]
#: The method each URL of ``urls()`` other than the stream itself answers.
ACTION_METHODS: dict[str, str] = {"resume": "get", "stop": "post"}
AsyncHandler = Callable[..., Awaitable[HttpResponseBase]]


class ResumableMixin(_Base):
    """With ``resumable = True`` (ASGI only) the view's generator runs as a task of its own
    that writes each event, numbered in its id, to the stream store, and each response tails
    the store. Its handlers are ``async def``: ``aget()`` (and ``apost()`` for a chat) starts
    or resumes a stream, ``astop()`` stops one, whichever worker runs it."""

    #: Run the generator apart from the response, resumable and stoppable through the store.
    resumable: ClassVar[bool] = False
    #: Whether every request goes to the ``a<method>()`` handlers (they read the store, say):
    #: ASGI only.
    handlers_are_async: ClassVar[bool] = False
    #: Seconds a resumable generation may run; the ``MAX_DURATION`` setting by default.
    max_duration: ClassVar[float | FromSettings] = FROM_SETTINGS
    #: What this URL does; set by ``urls()``.
    action: Action = "start"

    if TYPE_CHECKING:
        last_event_id: str | None

        def stream(
            self, request: HttpRequest, *args: Any, **kwargs: Any
        ) -> AsyncIterable[StreamItem] | Iterator[StreamItem]: ...
        def stream_response(self, source: Any) -> SSEResponse: ...
        def read_last_event_id(self, request: HttpRequest) -> HttpResponseBase | None: ...
        def error_event(self, error: Exception) -> Event: ...

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

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        handler = self.async_handler(request)
        if handler is not None:
            # as_view() awaits it
            return store_errors(handler(request, *args, **kwargs), metrics.view_label(request))
        if self.action != "start":
            return HttpResponseNotAllowed([ACTION_METHODS[self.action].upper()])
        return super().dispatch(request, *args, **kwargs)

    def async_handler(self, request: HttpRequest) -> AsyncHandler | None:
        """The ``async def`` handler of ``request``, or None for ``View``'s own (sync) ones:
        ``astop()`` (and ``aresume()``) for their URLs; ``aget()``, ``apost()`` for the stream
        of a view that is resumable or whose handlers are async."""
        method = (request.method or "").lower()
        if self.action != "start":
            if method != ACTION_METHODS[self.action]:
                return None
            action_handler: AsyncHandler = getattr(self, f"a{self.action}")
            return action_handler
        if not (self.resumable or self.handlers_are_async):
            return None
        method = "get" if method == "head" else method
        if method not in self.http_method_names:
            return None
        handler: AsyncHandler | None = getattr(self, f"a{method}", None)
        return handler

    async def aget(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """Start a stream, or resume the one ``Last-Event-ID`` names."""
        refused = self.read_last_event_id(request)
        if refused is not None:
            return refused
        store = get_store()
        owner = await self.stream_owner(request)
        if self.last_event_id is None:
            stream_id = new_stream_id()
            await self.create_stream(store, stream_id, owner)
            self.start_generation(store, stream_id, self.stream(request, *args, **kwargs))
            return self.tail_response(store, stream_id, after=0)
        parsed = parse_event_id(self.last_event_id)
        if parsed is None or not await _owns(store, parsed[0], owner):
            return not_found()
        stream_id, after = parsed
        entries, ended = await store.read(stream_id, after, timeout=0)
        if ended and not entries:
            # Nothing more will come: 204 tells EventSource to stop reconnecting.
            return HttpResponse(status=204)
        metrics.resumed(metrics.view_label(request))
        return self.tail_response(store, stream_id, after=after)

    async def astop(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """Stop the stream the URL names, on whichever worker generates it (a 204)."""
        store = get_store()
        owner = await self.stream_owner(request)
        stream_id = await self.find_stream(store, owner, kwargs)
        if isinstance(stream_id, str):
            await store.request_stop(stream_id)
            metrics.stopped(metrics.view_label(request))
        return stream_id if isinstance(stream_id, HttpResponseBase) else HttpResponse(status=204)

    async def stream_owner(self, request: HttpRequest) -> str:
        """Who may resume and stop the resumable streams started by ``request`` (and whose
        chat it is): the user when logged in, else the session (a random token kept in it).
        Override for other schemes (an API key, say)."""
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
            request.META[NEW_OWNER_META] = True
        return f"session:{token}"

    def counted_as(self, request: HttpRequest, owner: str) -> str:
        """Who a new stream of ``owner``'s counts against for ``MAX_ACTIVE_PER_OWNER``: the
        owner, unless the request brought no session of its own (a client that drops its
        cookies is a new owner each time): then its address (``client_address()``)."""
        if owner == ANONYMOUS_OWNER or request.META.get(NEW_OWNER_META):
            return f"address:{self.client_address(request)}"
        return owner

    def client_address(self, request: HttpRequest) -> str:
        """The client's address: ``REMOTE_ADDR``, or the last address of the header a trusted
        proxy sets (``DJANGO_STREAMING["CLIENT_ADDRESS_HEADER"]``). An IPv6 address counts as
        its /64 network, which one client commonly holds whole."""
        header = get_config()["CLIENT_ADDRESS_HEADER"]
        value = request.META.get(header) if header else None
        address = (value or "").rsplit(",", 1)[-1].strip() or request.META.get("REMOTE_ADDR", "")
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return address[:64]
        if ip.version == 6:
            return str(ipaddress.ip_network(f"{ip}/64", strict=False))
        return str(ip)

    def stream_ending(self, status: EndStatus) -> Iterable[StreamItem]:
        """What a resumable stream sends after its last event, given how it ended."""
        return [Event(event="end", data={"status": status})]

    async def find_stream(
        self, store: StreamStore, owner: str, kwargs: dict[str, Any]
    ) -> str | HttpResponseBase | None:
        """The stream a stop or resume URL names, None if none is active, or a 404 when it
        is not ``owner``'s."""
        stream_id = kwargs.get("stream_id", "")
        if not await _owns(store, stream_id, owner):
            return not_found()
        return str(stream_id)

    async def create_stream(
        self, store: StreamStore, stream_id: str, owner: str, key: str | None = None
    ) -> str | None:
        """Register a new stream of ``owner``'s in ``store`` (see ``StreamStore.create()``),
        within the ``MAX_ACTIVE_PER_OWNER`` setting: beyond it, ``TooManyStreams`` (a 429).
        A request without a session of its own counts against its address (``counted_as()``).
        The store lists it as running for this view until it ends (the admin's live answers).
        """
        return await store.create(
            stream_id,
            owner=owner,
            key=key,
            max_active=get_config()["MAX_ACTIVE_PER_OWNER"],
            max_duration=self.get_max_duration(),
            counted_as=self.counted_as(self.request, owner),
            view=metrics.view_label(self.request),
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
            on_error=self.error_event,
            view=metrics.view_label(self.request),
        )
        generation.start()
        return generation

    def tail_response(self, store: StreamStore, stream_id: str, *, after: int) -> SSEResponse:
        return self.stream_response(tail(store, stream_id, after=after, ending=self.stream_ending))


async def _owns(store: StreamStore, stream_id: str, owner: str) -> bool:
    # An id of another shape is not one we made: no store may see it (in Redis, "<id>:events"
    # would name another key of the stream, and answer WRONGTYPE).
    if not is_stream_id(stream_id):
        return False
    info = await store.info(stream_id)
    return info is not None and secrets.compare_digest(info.owner, owner)


async def store_errors(
    response: Awaitable[HttpResponseBase], view: str = metrics.UNKNOWN_VIEW
) -> HttpResponseBase:
    """``response``, or the error the store's trouble means: a 503 when it cannot be reached,
    a 429 when the owner has too many streams (counted for ``view``)."""
    try:
        return await response
    except StoreUnavailable:
        return error_response(
            503, "store_unavailable", "Streams are unavailable for a moment; try again shortly."
        )
    except TooManyStreams:
        metrics.refused(view)
        refused = error_response(
            429,
            "too_many_streams",
            "You have as many answers in progress as allowed; wait for one to finish.",
        )
        refused["Retry-After"] = str(TOO_MANY_STREAMS_RETRY_AFTER)
        return refused


def not_found() -> HttpResponseBase:
    return error_response(404, "not_found", "There is no such stream.")
