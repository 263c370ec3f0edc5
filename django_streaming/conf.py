"""Settings: one ``DJANGO_STREAMING`` dict in the project's settings, merged over ``DEFAULTS``.

What each key means is documented once, in ``docs/settings.md`` (a test keeps that page and
``DEFAULTS`` in step); values are checked by the system checks in ``checks.py``.
"""

from __future__ import annotations

import enum
import functools
from typing import Any, TypedDict

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

__all__ = ["DEFAULTS", "FROM_SETTINGS", "ChannelRetention", "Config", "FromSettings", "get_config"]


class Config(TypedDict):
    HEARTBEAT_INTERVAL: float | None
    RETRY: int | None
    MAX_BODY_BYTES: int
    MAX_MESSAGES: int
    MAX_MESSAGE_CHARS: int | None
    MAX_FILE_BYTES: int | None
    STORE: dict[str, Any]  # {"BACKEND": dotted path, "OPTIONS": keyword arguments}
    MAX_DURATION: float
    MAX_ACTIVE_PER_OWNER: int | None
    CLIENT_ADDRESS_HEADER: str | None
    MAX_FINISHED_STREAMS: int
    SEND_TIMEOUT: float | None
    SHUTDOWN_RETRY: int | tuple[int, int]
    THREADS: int
    CHANNELS: ChannelRetention
    IMAGE_HOSTS: list[str]
    METRICS: bool


class ChannelRetention(TypedDict):
    MAX_LEN: int  # events kept per channel
    TTL: float  # seconds a channel is kept after its last event


DEFAULTS: Config = {
    "HEARTBEAT_INTERVAL": 15.0,
    "RETRY": None,
    "MAX_BODY_BYTES": 10 * 1024 * 1024,
    "MAX_MESSAGES": 1000,
    "MAX_MESSAGE_CHARS": None,
    "MAX_FILE_BYTES": 8 * 1024 * 1024,
    "STORE": {"BACKEND": "django_streaming.backends.memory.MemoryStore", "OPTIONS": {}},
    "MAX_DURATION": 600.0,
    "MAX_ACTIVE_PER_OWNER": 10,
    "CLIENT_ADDRESS_HEADER": None,
    "MAX_FINISHED_STREAMS": 1000,
    "SEND_TIMEOUT": 30.0,
    "SHUTDOWN_RETRY": (1000, 5000),
    "THREADS": 10,
    "CHANNELS": {"MAX_LEN": 1000, "TTL": 86400.0},
    "IMAGE_HOSTS": [],
    "METRICS": True,
}
# Settings that are dicts of their own, merged key by key with their defaults.
NESTED = ("CHANNELS",)


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
        for key in NESTED:
            if isinstance(user_config.get(key), dict):
                config[key] = {**DEFAULTS[key], **user_config[key]}  # type: ignore[literal-required]
    return config


@receiver(setting_changed)
def _clear_config(*, setting: str, **kwargs: Any) -> None:
    if setting == "DJANGO_STREAMING":
        get_config.cache_clear()
