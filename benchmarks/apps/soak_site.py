"""The server side of `benchmarks/soak.py`: an endless, resumable stream that records when each
generator started and when its ``finally`` ran, and a stats view to read that back."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import psutil
from django.http import HttpRequest, JsonResponse
from django.urls import path

from django_streaming import Event, SSEView, StreamItem

SECRET_KEY = "soak"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = __name__
INSTALLED_APPS = ["django_streaming"]
MIDDLEWARE: list[str] = []
DATABASES: dict[str, Any] = {}
DJANGO_STREAMING = {"HEARTBEAT_INTERVAL": 15.0}

started = 0
finished = 0
finally_at: dict[str, float] = {}


class Ticks(SSEView):
    """One event every 50 ms, ids counting up; a reconnect resumes after Last-Event-ID."""

    async def stream(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> AsyncIterator[StreamItem]:
        global started, finished
        started += 1
        key = request.GET.get("key", "")
        resume_after = self.last_event_id or ""
        number = int(resume_after) + 1 if resume_after.isdigit() else 0
        try:
            while True:
                yield Event(id=str(number), data=f"tick {number}")
                number += 1
                await asyncio.sleep(0.05)
        finally:
            finished += 1
            finally_at[key] = time.monotonic()


async def stats(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "started": started,
            "finished": finished,
            "tasks": len(asyncio.all_tasks()) - 1,
            "rss": psutil.Process(os.getpid()).memory_info().rss,
            "finally_at": finally_at if "finally" in request.GET else {},
        }
    )


urlpatterns = [path("ticks", Ticks.as_view()), path("stats", stats)]

if os.environ.get("DJANGO_SETTINGS_MODULE") == __name__:
    from django.core.asgi import get_asgi_application

    app = get_asgi_application()
