"""The hostile-bodies benchmark's app: a resumable chat (bodies parsed in a thread, as the library
does), the same chat parsing on the event loop (as it did before), and a view that answers on
the loop (``/stall``), which reports the loop's longest stall since it was last asked."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import path

from benchmarks.apps.base_settings import *  # noqa: F403 - these modules are the settings
from django_streaming import ChatMessage, ChatPart, ChatStreamView
from django_streaming.chat.messages import ChatRequestError
from django_streaming.responses import error_response

ROOT_URLCONF = __name__
# Bodies of about 10 MB, as the default MAX_BODY_BYTES allows.
DATA_UPLOAD_MAX_MEMORY_SIZE = None


class Chat(ChatStreamView):
    resumable = True

    async def generate(self, messages: list[ChatMessage]) -> AsyncIterator[ChatPart]:
        yield "ok"


class ChatParsingOnTheLoop(Chat):
    """As before: the body parsed (and its files decoded) on the event loop."""

    async def read_chat(self, request: HttpRequest) -> HttpResponseBase | None:
        try:
            self.chat = self.parse_request(request)
        except ChatRequestError as error:
            return error_response(error.status, error.code, error.message)
        self.owner = await self.stream_owner(request)
        return None


# The event loop's longest stall since the last read: a task that sleeps 1 ms at a time
# notes by how much each sleep overran.
worst = {"stall": 0.0}
_watch: list[asyncio.Task[None]] = []


async def _watch_the_loop() -> None:
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await asyncio.sleep(0.001)
        worst["stall"] = max(worst["stall"], loop.time() - started - 0.001)


async def stall(request: HttpRequest) -> HttpResponse:
    """The worst stall in ms since the last call (the first call starts the watch)."""
    if not _watch:
        _watch.append(asyncio.get_running_loop().create_task(_watch_the_loop()))
    seen, worst["stall"] = worst["stall"], 0.0
    return HttpResponse(f"{seen * 1000:.1f}")


urlpatterns = [
    path("chat/", Chat.as_view()),
    path("chat-on-the-loop/", ChatParsingOnTheLoop.as_view()),
    path("stall", stall),
]

if os.environ.get("DJANGO_SETTINGS_MODULE") == __name__:
    from django.core.asgi import get_asgi_application

    app = get_asgi_application()
