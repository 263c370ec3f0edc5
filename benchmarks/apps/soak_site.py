"""The server side of `benchmarks/soak.py`: an endless, resumable stream that records when each
generator started and when its ``finally`` ran, and a stats view to read that back."""

from __future__ import annotations

import asyncio
import ctypes
import gc
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import psutil
from django.http import HttpRequest, JsonResponse
from django.urls import path

from benchmarks.apps.base_settings import *  # noqa: F403 - these modules are the settings
from django_streaming import Event, SSEView, StreamItem

ROOT_URLCONF = __name__

started = 0
finished = 0
finally_at: dict[str, float] = {}
gc_pauses: list[float] = []  # seconds, the collector's own pauses of the event loop
_gc_started = 0.0
_forced = False


def _time_gc(phase: str, info: dict[str, Any]) -> None:
    global _gc_started
    if _forced:
        return  # the stats view's own collection, not a pause the streams saw
    if phase == "start":
        _gc_started = time.perf_counter()
    else:
        gc_pauses.append(time.perf_counter() - _gc_started)


gc.callbacks.append(_time_gc)


class Ticks(SSEView):
    """An event every ``pace`` seconds, ids counting up; a reconnect resumes after its
    Last-Event-ID."""

    async def stream(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> AsyncIterator[StreamItem]:
        global started, finished
        started += 1
        key = request.GET.get("key", "")
        resume_after = self.last_event_id or ""
        number = int(resume_after) + 1 if resume_after.isdigit() else 0
        pace = float(request.GET.get("pace", "0.05"))
        try:
            while True:
                yield Event(id=str(number), data=f"tick {number}")
                number += 1
                await asyncio.sleep(pace)
        finally:
            finished += 1
            finally_at[key] = time.monotonic()


async def stats(request: HttpRequest) -> JsonResponse:
    global _forced
    if "collect" in request.GET:
        _forced = True
        # What is really kept, apart from what the allocators cache: collect, then hand free
        # pages back to the system.
        gc.collect()
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        _forced = False
    return JsonResponse(
        {
            "started": started,
            "finished": finished,
            "tasks": len(asyncio.all_tasks()) - 1,
            "rss": psutil.Process(os.getpid()).memory_info().rss,
            "finally_at": finally_at if "finally" in request.GET else {},
            "tracked_objects": len(gc.get_objects()),
            "gc_pause_ms_max": round(max(gc_pauses, default=0) * 1000, 1),
            "gc_pauses_over_50ms": sum(pause > 0.05 for pause in gc_pauses),
        }
    )


urlpatterns = [path("ticks", Ticks.as_view()), path("stats", stats)]

if os.environ.get("DJANGO_SETTINGS_MODULE") == __name__:
    from django.core.asgi import get_asgi_application

    app = get_asgi_application()
