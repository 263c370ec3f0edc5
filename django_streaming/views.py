"""``SSEView``: subclass, write ``stream()`` as a generator, and every item becomes an event."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any, ClassVar

from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.views import View

from .conf import FROM_SETTINGS, FromSettings
from .responses import SSEResponse, StreamItem

__all__ = ["SSEView", "error_response"]

#: Longer ids are refused: they only come from a client that is broken or hostile.
LAST_EVENT_ID_MAX_LENGTH = 256


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
        # Our own setup, dispatch and handlers do no I/O; anyone else's may.
        methods = [cls.setup, cls.dispatch] + [
            getattr(cls, name) for name in cls.http_method_names if name != "options"
        ]
        if not all(_is_ours(method) for method in methods):
            return view

        async def on_event_loop(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            return view(request, *args, **kwargs)

        return functools.update_wrapper(on_event_loop, view)

    def stream(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> AsyncIterator[StreamItem] | Iterator[StreamItem]:
        """Yield the events to send. Override this."""
        raise NotImplementedError(f"{type(self).__name__} must define stream().")

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        last_event_id = _last_event_id(request)
        if last_event_id is not None:
            problem = _last_event_id_problem(last_event_id)
            if problem:
                return error_response(400, "invalid_last_event_id", problem)
        self.last_event_id = last_event_id
        return self.response_class(
            self.stream(request, *args, **kwargs),
            heartbeat=self.heartbeat,
            retry=self.retry,
            headers=self.headers,
        )


def _is_ours(method: Callable[..., Any]) -> bool:
    return method.__module__ == "django.views.generic.base" or method.__module__.startswith(
        "django_streaming."
    )


def error_response(status: int, code: str, message: str) -> JsonResponse:
    """The JSON error every 4xx of this package answers with."""
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
