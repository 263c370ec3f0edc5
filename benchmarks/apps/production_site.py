"""The Django rows of the capacity benchmark, in production shape: ``startproject``'s
middleware, sessions in the database (PostgreSQL at BENCH_DATABASE_URL, SQLite in memory
without it), served by Django's ASGI handler or by ``django_streaming.asgi``
(BENCH_HANDLER=streaming). Every view reads the database as it starts and writes it when it
ends, except the ``idle`` ones, which send one event and then wait."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

from django.http import HttpRequest, StreamingHttpResponse
from django.urls import path

from benchmarks.apps.base_settings import *  # noqa: F403 - these modules are the settings
from benchmarks.apps.raw_asgi import idle, stream_parameters
from django_streaming import SSEView, StreamItem
from example_project.database_url import parse_database_url
from tests.support.startproject import MIDDLEWARE as STARTPROJECT_MIDDLEWARE
from tests.support.startproject import MIDDLEWARE_APPS

ROOT_URLCONF = __name__
INSTALLED_APPS = [*MIDDLEWARE_APPS, "django_streaming"]
MIDDLEWARE = STARTPROJECT_MIDDLEWARE
DATABASES = {"default": parse_database_url(os.environ.get("BENCH_DATABASE_URL", ""))}
SESSION_ENGINE = "django.contrib.sessions.backends.db"
if os.environ.get("BENCH_RETRY"):  # the reconnect storm: "1000", or "1000-5000"
    low, _, high = os.environ["BENCH_RETRY"].partition("-")
    DJANGO_STREAMING = {
        **DJANGO_STREAMING,  # noqa: F405
        "SHUTDOWN_RETRY": (int(low), int(high)) if high else int(low),
    }


async def _touch_database(request: HttpRequest) -> None:
    from django.contrib.auth.models import Group

    await Group.objects.filter(name="bench").aexists()


async def _record(request: HttpRequest) -> None:
    from django.contrib.auth.models import Group

    await Group.objects.filter(name="bench").aupdate(name="bench")


async def plain(request: HttpRequest) -> StreamingHttpResponse:
    query = request.META["QUERY_STRING"].encode()
    count, delay = stream_parameters(query)

    async def events() -> AsyncIterator[bytes]:
        if not idle(query):
            await _touch_database(request)
        for number in range(count):
            await asyncio.sleep(delay)
            yield f"data: token {number}\n\n".encode()
        if idle(query):
            await asyncio.Event().wait()
        await _record(request)

    return StreamingHttpResponse(events(), content_type="text/event-stream")


class Tokens(SSEView):
    async def stream(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> AsyncIterator[StreamItem]:
        query = request.META["QUERY_STRING"].encode()
        count, delay = stream_parameters(query)
        if not idle(query):
            await _touch_database(request)
        for number in range(count):
            await asyncio.sleep(delay)
            yield f"token {number}"
        if idle(query):
            await asyncio.Event().wait()
        await _record(request)


urlpatterns = [path("plain", plain), path("sseview", Tokens.as_view())]

if os.environ.get("DJANGO_SETTINGS_MODULE") == __name__:
    if os.environ.get("BENCH_HANDLER") == "streaming":
        from django_streaming.asgi import get_asgi_application
    else:
        from django.core.asgi import get_asgi_application

    app = get_asgi_application()
