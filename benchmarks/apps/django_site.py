"""Settings, views and the ASGI app for the Django rows: plain StreamingHttpResponse and
SSEView. Both run with the same settings (no middleware), so the difference is the view alone.

With BENCH_MIDDLEWARE=startproject the site has ``startproject``'s apps and middleware (and an
SQLite database in memory, which nothing here queries); with BENCH_HANDLER=streaming it is
served by ``django_streaming.asgi`` rather than Django's own handler.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

from django.http import HttpRequest, StreamingHttpResponse
from django.urls import path

from benchmarks.apps import apply_gc_lines
from benchmarks.apps.base_settings import *  # noqa: F403 - these modules are the settings
from benchmarks.apps.raw_asgi import stream_parameters
from django_streaming import SSEView, StreamItem

ROOT_URLCONF = __name__
if os.environ.get("BENCH_MIDDLEWARE") == "startproject":
    from tests.support.startproject import MIDDLEWARE as STARTPROJECT_MIDDLEWARE
    from tests.support.startproject import MIDDLEWARE_APPS

    INSTALLED_APPS = [*MIDDLEWARE_APPS, "django_streaming"]
    MIDDLEWARE = STARTPROJECT_MIDDLEWARE
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}


async def plain_stream(request: HttpRequest) -> StreamingHttpResponse:
    count, delay = stream_parameters(request.META["QUERY_STRING"].encode())

    async def events() -> AsyncIterator[bytes]:
        for number in range(count):
            if delay:
                await asyncio.sleep(delay)
            yield f"data: token {number}\n\n".encode()

    return StreamingHttpResponse(events(), content_type="text/event-stream")


class Tokens(SSEView):
    async def stream(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> AsyncIterator[StreamItem]:
        count, delay = stream_parameters(request.META["QUERY_STRING"].encode())
        for number in range(count):
            if delay:
                await asyncio.sleep(delay)
            yield f"token {number}"


class ResumableTokens(Tokens):
    resumable = True


# The resumable rows: the same view writing through a store, in memory or in Redis.
if os.environ.get("BENCH_STORE") == "redis":
    DJANGO_STREAMING = {
        **DJANGO_STREAMING,  # noqa: F405
        "STORE": {
            "BACKEND": "django_streaming.stores.redis.RedisStore",
            "OPTIONS": {"url": os.environ["BENCH_REDIS_URL"], "prefix": "django-streaming-bench"},
        },
    }

urlpatterns = [
    path("plain", plain_stream),
    path("sseview", Tokens.as_view()),
    path("resumable", ResumableTokens.as_view()),
]

if os.environ.get("DJANGO_SETTINGS_MODULE") == __name__:
    if os.environ.get("BENCH_HANDLER") == "streaming":
        from django_streaming.asgi import get_asgi_application
    else:
        from django.core.asgi import get_asgi_application

    app = get_asgi_application()
    if os.environ.get("BENCH_GC"):
        apply_gc_lines()
