"""Channel views for the tests: ``?channel=a&channel=b`` picks the channels; ``secret-*``
channels are refused. ``cursor_page``: a page that puts the cursor of its channels in."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from django_streaming import ChannelView, adisconnect, apresence
from django_streaming.channels.log import ChannelLog


class TestChannels(ChannelView):
    heartbeat = 0.5

    def get_channels(self, request: HttpRequest, *args: Any, **kwargs: Any) -> list[str]:
        return request.GET.getlist("channel")

    async def can_read(self, request: HttpRequest, channel: str) -> bool:
        return not channel.startswith("secret-")


class NewsChannel(ChannelView):
    channels = ["news"]


class OrderChannel(ChannelView):
    def get_channels(self, request: HttpRequest, *args: Any, **kwargs: Any) -> list[str]:
        return [f"order-{kwargs['pk']}"]


class NotANameChannel(ChannelView):
    def get_channels(self, request: HttpRequest, *args: Any, **kwargs: Any) -> list[str]:
        return [42]  # type: ignore[list-item]  # what a view might wrongly return


class EndingChannels(TestChannels):
    """Ends each stream after ``?events=N`` events, as a proxy that drops idle connections
    would: the client reconnects with its cursor."""

    async def subscription(self, log: ChannelLog, channels: list[str]) -> AsyncIterator[bytes]:
        left = int(self.request.GET.get("events", "2"))
        async for chunk in super().subscription(log, channels):
            yield chunk
            left -= chunk.count(b"\ndata:") + chunk.startswith(b"data:")
            if left <= 0:
                return


class MultiplexChannels(ChannelView):
    """``/channels/mux/<token>/``: the client picks among ``<token>-a`` to ``<token>-d`` and
    ``<token>-secret`` (refused by ``can_read()``), at most three at once."""

    multiplex = True
    max_channels = 3
    heartbeat = 0.5

    def get_channels(self, request: HttpRequest, *args: Any, **kwargs: Any) -> list[str]:
        return [f"{kwargs['token']}-{name}" for name in ["a", "b", "c", "d", "secret"]]

    async def can_read(self, request: HttpRequest, channel: str) -> bool:
        return not channel.endswith("-secret")


def cursor_page(request: HttpRequest) -> HttpResponse:
    """A page rendered with ``{% channel_cursor %}`` of the channels of ``?channel=``."""
    return render(
        request, "testapp/channel_cursor.html", {"channels": request.GET.getlist("channel")}
    )


#: Where ``PresenceChannels`` finds who may no longer read what: a file
#: ``<REVOKED>/<channel>/<user>`` (a folder shared by the test and its worker processes).
REVOKED = os.environ.get("TEST_REVOKED_DIR", "")


class PresenceChannels(TestChannels):
    """``/channels/presence/?channel=...`` with ``presence = True``: the user is who the
    ``X-Test-User`` header names (none: anonymous), listed as ``X-Test-Label`` when given;
    ``can_read()`` refuses what the folder ``REVOKED`` says."""

    presence = True

    def user_id(self, request: HttpRequest) -> str | None:
        return request.headers.get("X-Test-User")

    def presence_label(self, request: HttpRequest, user_id: str | None) -> Any:
        if "X-Test-Label" in request.headers:
            return request.headers["X-Test-Label"] or None
        return super().presence_label(request, user_id)

    async def can_read(self, request: HttpRequest, channel: str) -> bool:
        user = request.headers.get("X-Test-User", "")
        revoked = REVOKED and (Path(REVOKED) / channel / user).exists()
        return not revoked and await super().can_read(request, channel)


async def presence_of(request: HttpRequest, channel: str) -> JsonResponse:
    """``apresence(channel)`` as JSON, from this worker."""
    found = await apresence(channel)
    return JsonResponse({"members": found.members, "anonymous": found.anonymous})


@csrf_exempt
async def disconnect_view(request: HttpRequest) -> HttpResponse:
    """``adisconnect()`` from this worker: ``?channel=&user=``."""
    await adisconnect(channel=request.GET.get("channel"), user=request.GET.get("user"))
    return HttpResponse(status=204)
