"""The admin's page of live answers: the answers running now on every worker (as the stream
store lists them), each with Stop, and the channels with subscribers on the worker that
serves the page.

Registered for ``LiveAnswer`` (a model without a table) wherever ``django.contrib.admin`` is
installed. Staff need ``django_streaming.view_live_answers`` to see the page (others get a
403) and ``django_streaming.stop_live_answers`` to stop an answer; ``admin.site.unregister(
LiveAnswer)`` takes it away.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseBase,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _

from . import metrics
from .channels.subscription import subscribers
from .models import LiveAnswer
from .resumable.ids import is_stream_id
from .stores import RunningStream, StoreUnavailable, StreamInfo, StreamStore, get_store, worker_id

__all__ = ["MAX_LISTED", "STOP_PERMISSION", "VIEW_PERMISSION", "LiveAnswerAdmin"]

logger = logging.getLogger("django_streaming")

VIEW_PERMISSION = "django_streaming.view_live_answers"
STOP_PERMISSION = "django_streaming.stop_live_answers"
#: The most answers the page lists (the oldest first).
MAX_LISTED = 1000

T = TypeVar("T")


def on_store(call: Callable[[StreamStore], Awaitable[T]]) -> T:
    """``call(store)`` from a sync view, on an event loop of its own whose connections are
    closed after: never the server's loop, whose connections its streams use (and under
    WSGI there is none)."""
    store = get_store()

    async def run() -> T:
        try:
            return await call(store)
        finally:
            await store.aclose()

    return asyncio.run(run())


@dataclass(frozen=True)
class Row:
    """One running answer as the page shows it."""

    stream: RunningStream
    owner: str
    started: datetime


def owner_labels(owners: set[str]) -> dict[str, str]:
    """How the page names each owner: ``user:<pk>`` as the user's name, a session by the
    start of its token (enough to tell two apart), anything else as it is."""
    labels = {owner: owner for owner in owners}
    model = get_user_model()
    users: dict[str, Any] = {}
    for owner in owners:
        kind, _, value = owner.partition(":")
        if kind == "session":
            labels[owner] = f"session {value[:6]}…"
        elif kind == "user":
            try:
                users[owner] = model._meta.pk.to_python(value)
            except ValidationError:  # not a pk: a stream_owner() of the project's own
                continue
    found = model._default_manager.in_bulk(users.values())
    for owner, pk in users.items():
        if pk in found:
            labels[owner] = f"{found[pk].get_username()} ({owner})"
    return labels


@admin.register(LiveAnswer)
class LiveAnswerAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The page of live answers (``changelist_view``) and its Stop (``stop_view``)."""

    template = "admin/django_streaming/live_answers.html"

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(VIEW_PERMISSION)

    def has_stop_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(VIEW_PERMISSION) and request.user.has_perm(STOP_PERMISSION)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        wrap = self.admin_site.admin_view
        return [
            path("", wrap(self.changelist_view), name=f"{name}_changelist"),
            path("stop/", wrap(self.stop_view), name=f"{name}_stop"),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        running: list[RunningStream] = []
        problem = None
        try:
            running = on_store(lambda store: store.running(MAX_LISTED))
        except NotImplementedError:
            problem = _("This store does not list its running answers.")
        except StoreUnavailable:
            problem = _("The store cannot be reached: the running answers are unknown.")
        labels = owner_labels({stream.owner for stream in running})
        rows = [
            Row(stream, labels[stream.owner], datetime.fromtimestamp(stream.started, timezone.utc))
            for stream in running
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Live answers"),
            "rows": rows,
            "problem": problem,
            "listed_all": len(running) < MAX_LISTED,
            "can_stop": self.has_stop_permission(request),
            "worker": worker_id(),
            "store": type(get_store()).__name__,
            "channels": sorted(subscribers().items()),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.template, context)

    def stop_view(self, request: HttpRequest) -> HttpResponseBase:
        """Ask the answer named by the POST's ``stream`` to stop, on whichever worker runs it;
        then back to the page, with a message."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_stop_permission(request):
            raise PermissionDenied
        stream_id = request.POST.get("stream", "")
        if not is_stream_id(stream_id):  # only ids the store made reach it
            return HttpResponseBadRequest(_("That is not the id of an answer."))
        try:
            info = on_store(lambda store: _stop(store, stream_id))
        except StoreUnavailable:
            messages.error(request, _("The store cannot be reached: nothing was stopped."))
        else:
            if info is not None and info.status == "active":
                metrics.stopped(metrics.view_label(request))  # a stop, as a client's are
                logger.info(
                    "Answer %s stopped from the admin by %s",
                    stream_id,
                    request.user.get_username(),
                )
                messages.success(
                    request, _("Asked answer %(stream)s to stop.") % {"stream": stream_id}
                )
            else:
                messages.warning(
                    request, _("Answer %(stream)s is not running.") % {"stream": stream_id}
                )
        url = reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist",
            current_app=self.admin_site.name,
        )
        return HttpResponseRedirect(url)


async def _stop(store: StreamStore, stream_id: str) -> StreamInfo | None:
    """Request a stop of ``stream_id`` if it is active; what the store knew of it."""
    info = await store.info(stream_id)
    if info is not None and info.status == "active":
        await store.request_stop(stream_id)
    return info
