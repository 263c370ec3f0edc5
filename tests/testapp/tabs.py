"""Streams shared by the tabs of a browser (``streams.js``): channel views that count the
streams they hold open, and the page the browser tests open in many tabs."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from django_streaming import ChannelView
from django_streaming.channels.log import ChannelLog

#: By token: the streams open now (counted from their first chunk, sent once the subscription
#: listens), the most open at once, and the Last-Event-ID each one came with.
OPEN: Counter[str] = Counter()
PEAK: Counter[str] = Counter()
RESUMED: defaultdict[str, list[str | None]] = defaultdict(list)


class CountedChannels(ChannelView):
    heartbeat = 0.5

    async def subscription(self, log: ChannelLog, channels: list[str]) -> AsyncIterator[bytes]:
        token = self.kwargs["token"]
        counted = False
        try:
            async for chunk in super().subscription(log, channels):
                if not counted:
                    counted = True
                    OPEN[token] += 1
                    PEAK[token] = max(PEAK[token], OPEN[token])
                    RESUMED[token].append(self.last_event_id)
                yield chunk
        finally:
            if counted:
                OPEN[token] -= 1


class TabsMultiplex(CountedChannels):
    """``/tabs/<token>/mux/?channel=<token>-a&channel=<token>-b``"""

    multiplex = True

    def get_channels(self, request: HttpRequest, *args: Any, **kwargs: Any) -> list[str]:
        return [f"{kwargs['token']}-a", f"{kwargs['token']}-b"]


class TabsFeed(CountedChannels):
    """``/tabs/<token>/feed/<name>/``: the channel ``<token>-<name>`` alone."""

    def get_channels(self, request: HttpRequest, *args: Any, **kwargs: Any) -> list[str]:
        return [f"{kwargs['token']}-{kwargs['name']}"]


def tabs_page(request: HttpRequest, token: str) -> HttpResponse:
    """Two subscriptions through ``streams.js``: to one multiplexing view (``?mode=mux``) or
    to two plain ones; ``?locks`` takes ``SharedWorker`` away first (the Web Locks path);
    ``?held`` holds back the tab's own Web Lock until ``window.grantLock()``."""
    context = {
        "token": token,
        "mode": request.GET.get("mode", "mux"),
        "locks": "locks" in request.GET,
        "held": "held" in request.GET,
    }
    return render(request, "testapp/tabs.html", context)
