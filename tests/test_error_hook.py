"""One error hook: a view's ``error_event()`` ends plain, resumable and channel streams alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from django.http import HttpRequest
from django.test import AsyncClient
from django.urls import path
from pytest_django.fixtures import Settings

from django_streaming import ChannelView, Event, SSEView, StreamItem
from django_streaming.channels.log import ChannelLog
from tests.support.sse_parser import parse


class Hooked:
    def error_event(self, error: Exception) -> Event:
        return Event(event="failed", data={"kind": type(error).__name__})


class PlainFailing(Hooked, SSEView):
    async def stream(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> AsyncIterator[StreamItem]:
        yield "before"
        raise RuntimeError("secret detail")


class ResumableFailing(PlainFailing):
    resumable = True


class ChannelFailing(Hooked, ChannelView):
    channels = ["hooked"]

    def subscription(self, log: ChannelLog, channels: list[str]) -> AsyncIterator[bytes]:
        async def failing() -> AsyncIterator[bytes]:
            yield b"data: before\n\n"
            raise RuntimeError("secret detail")

        return failing()


urlpatterns = [
    path("plain/", PlainFailing.as_view()),
    path("resumable/", ResumableFailing.as_view()),
    path("channel/", ChannelFailing.as_view()),
]


@pytest.mark.parametrize(
    ("url", "types"),
    [
        ("/plain/", ["message", "failed"]),
        ("/resumable/", ["message", "failed", "end"]),
        ("/channel/", ["message", "failed"]),
    ],
)
async def test_an_override_of_error_event_ends_every_kind_of_stream(
    settings: Settings, url: str, types: list[str]
) -> None:
    settings.ROOT_URLCONF = __name__
    response = await AsyncClient().get(url)
    body = b"".join([chunk async for chunk in response.streaming_content])  # type: ignore[attr-defined]
    events = parse(body).events
    assert [event.type for event in events] == types
    assert events[1].data == '{"kind":"RuntimeError"}'
