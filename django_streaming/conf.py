"""Settings: one ``DJANGO_STREAMING`` dict in the project's settings, merged over these defaults.

.. code-block:: python

    DJANGO_STREAMING = {
        # Seconds of silence after which a comment is sent to keep proxies from closing the
        # connection (nginx and most load balancers give up after 60 s). None turns it off.
        "HEARTBEAT_INTERVAL": 15.0,
        # Milliseconds a browser's EventSource waits before reconnecting, sent first on every
        # stream. None leaves the browser's default (about 3 s).
        "RETRY": None,
        # Limits on a chat request (ChatStreamView): anything larger is refused with a 413.
        "MAX_BODY_BYTES": 1024 * 1024,
        "MAX_MESSAGES": 1000,
        "MAX_MESSAGE_CHARS": 200_000,
        # Where resumable streams (resumable = True on a view) keep their events: this
        # process's memory by default, or Redis for several workers (see stores/__init__.py).
        "STORE": {"BACKEND": "django_streaming.stores.memory.MemoryStore", "OPTIONS": {}},
        # Seconds a resumable generation may run before it is cancelled.
        "MAX_DURATION": 600.0,
        # Resumable generations one owner (a user, a session) may run at once; the next start
        # is a 429. None: no limit.
        "MAX_ACTIVE_PER_OWNER": 10,
        # Seconds a write to a client may make no progress (it stopped reading) before its
        # stream ends and its generator is cancelled (ASGI only). None: wait for ever.
        "SEND_TIMEOUT": 30.0,
        # The retry: hint, in milliseconds, that each open stream gets when the server stops:
        # a random value in (low, high), so that clients do not all come back at once, or one
        # int for all.
        "SHUTDOWN_RETRY": (1000, 5000),
        # Threads for the sync work of streams (and, with django_streaming.asgi, of requests):
        # each holds at most one connection per database, and only while it runs a call.
        "THREADS": 10,
    }

Values are checked by the system checks in ``checks.py``.
"""

from __future__ import annotations

import enum
import functools
from typing import Any, TypedDict

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

__all__ = ["DEFAULTS", "FROM_SETTINGS", "Config", "FromSettings", "get_config"]


class Config(TypedDict):
    HEARTBEAT_INTERVAL: float | None
    RETRY: int | None
    MAX_BODY_BYTES: int
    MAX_MESSAGES: int
    MAX_MESSAGE_CHARS: int
    STORE: dict[str, Any]  # {"BACKEND": dotted path, "OPTIONS": keyword arguments}
    MAX_DURATION: float
    MAX_ACTIVE_PER_OWNER: int | None
    SEND_TIMEOUT: float | None
    SHUTDOWN_RETRY: int | tuple[int, int]
    THREADS: int


DEFAULTS: Config = {
    "HEARTBEAT_INTERVAL": 15.0,
    "RETRY": None,
    "MAX_BODY_BYTES": 1024 * 1024,
    "MAX_MESSAGES": 1000,
    "MAX_MESSAGE_CHARS": 200_000,
    "STORE": {"BACKEND": "django_streaming.stores.memory.MemoryStore", "OPTIONS": {}},
    "MAX_DURATION": 600.0,
    "MAX_ACTIVE_PER_OWNER": 10,
    "SEND_TIMEOUT": 30.0,
    "SHUTDOWN_RETRY": (1000, 5000),
    "THREADS": 10,
}


class FromSettings(enum.Enum):
    """The type of ``FROM_SETTINGS``: a parameter left to the ``DJANGO_STREAMING`` setting."""

    FROM_SETTINGS = "FROM_SETTINGS"


FROM_SETTINGS = FromSettings.FROM_SETTINGS


@functools.cache
def get_config() -> Config:
    """The ``DJANGO_STREAMING`` setting over the defaults; cached until the setting changes."""
    user_config: Any = getattr(settings, "DJANGO_STREAMING", {})
    config = DEFAULTS.copy()
    if isinstance(user_config, dict):
        config.update(user_config)  # type: ignore[typeddict-item]  # checked by checks.py
    return config


@receiver(setting_changed)
def _clear_config(*, setting: str, **kwargs: Any) -> None:
    if setting == "DJANGO_STREAMING":
        get_config.cache_clear()
