"""The channel rows: django-streaming's ``ChannelView`` and django-eventstream, both on the
Redis at 127.0.0.1:6379 (its pub/sub for fan-out, its storage for replay), with the settings of
the other Django rows (no middleware)."""

from __future__ import annotations

import os
from typing import Any

from django.http import HttpRequest
from django.urls import include, path

from benchmarks.apps import apply_gc_lines
from benchmarks.apps.base_settings import *  # noqa: F403 - these modules are the settings
from django_streaming import ChannelView

ROOT_URLCONF = __name__
INSTALLED_APPS = [*INSTALLED_APPS, "django_eventstream"]  # noqa: F405

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
PREFIX = "django-streaming-bench"
DJANGO_STREAMING = {
    **DJANGO_STREAMING,  # noqa: F405
    "STORE": {
        "BACKEND": "django_streaming.stores.redis.RedisStore",
        "OPTIONS": {"url": REDIS_URL, "prefix": PREFIX},
    },
}

# django-eventstream: its Redis pub/sub between processes, and its Redis storage for replay.
EVENTSTREAM_REDIS = {"host": "127.0.0.1", "port": 6379, "db": 0}
EVENTSTREAM_STORAGE_CLASS = "django_eventstream.storage.RedisStorage"
EVENTSTREAM_STORAGE_CONNECTION = EVENTSTREAM_REDIS


class Channel(ChannelView):
    def get_channels(self, request: HttpRequest, *args: Any, **kwargs: Any) -> list[str]:
        return [kwargs["name"]]


urlpatterns = [
    path("channel/<str:name>", Channel.as_view()),
    path(
        "eventstream/<str:name>",
        include("django_eventstream.urls"),
        {"format-channels": ["{name}"]},
    ),
]

if os.environ.get("DJANGO_SETTINGS_MODULE") == __name__:
    if os.environ.get("BENCH_DEPLOYED"):
        # As the deployment page advises for many streams per process: our handler, and the
        # garbage-collector lines as they stand there.
        from django_streaming.asgi import get_asgi_application

        app = get_asgi_application()
        apply_gc_lines()
    else:
        from django.core.asgi import get_asgi_application

        app = get_asgi_application()
