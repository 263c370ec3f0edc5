"""Channel views for the tests: ``?channel=a&channel=b`` picks the channels; ``secret-*``
channels are refused."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from django_streaming import ChannelView


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
