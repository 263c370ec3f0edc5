"""Views in the shape of a real site's, for the PostgreSQL tests: each reads the database as it
starts and writes it when it ends (auth's ``Group`` stands in for a site's models)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

from django.contrib.auth.models import Group
from django.db import connections
from django.http import HttpRequest, JsonResponse

from django_streaming import ChatMessage, ChatResult, ChatStreamView, SSEView, StreamItem


class QueryThenWait(SSEView):
    """One query, one event, then silence (heartbeats) until the client leaves."""

    heartbeat = 0.5

    async def stream(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> AsyncIterator[StreamItem]:
        yield {"groups": await Group.objects.acount()}
        await asyncio.Event().wait()


class QueryStreamWrite(SSEView):
    """Queries, streams ``n`` events ``delay`` seconds apart, then records itself."""

    async def stream(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> AsyncIterator[StreamItem]:
        name = request.GET["name"]
        await Group.objects.filter(name=name).aexists()
        for number in range(int(request.GET.get("n", 3))):
            await asyncio.sleep(float(request.GET.get("delay", 0.05)))
            yield str(number)
        await Group.objects.acreate(name=name)


class RecordingChat(ChatStreamView):
    """A resumable chat that reads at its start and saves the answer in ``on_finish()``, as the
    example project's does. The question is how many seconds to take."""

    resumable = True

    async def generate(self, messages: list[ChatMessage]) -> AsyncIterator[str]:
        await Group.objects.filter(name=self.chat.chat_id or "").aexists()
        yield "first "
        await asyncio.sleep(float(messages[-1].text))
        yield "last"

    async def on_finish(self, result: ChatResult) -> None:
        await Group.objects.acreate(name=f"{result.chat_id}:{result.status}")


def process_state(request: HttpRequest) -> JsonResponse:
    """What this process holds: its threads, and its psycopg pool's figures when pooled."""
    wrapper: Any = connections["default"]
    pool = getattr(wrapper, "pool", None)
    return JsonResponse(
        {
            "threads": threading.active_count(),
            "pool": pool.get_stats() if pool is not None else None,
        }
    )
