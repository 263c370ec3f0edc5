"""Stream stores: where resumable streams live, chosen by ``DJANGO_STREAMING["STORE"]``.

.. code-block:: python

    DJANGO_STREAMING = {
        "STORE": {
            "BACKEND": "django_streaming.backends.redis.RedisStore",
            "OPTIONS": {"url": "redis://127.0.0.1:6379/0"},
        },
    }

The default is ``django_streaming.backends.memory.MemoryStore``: one process only.
"""

from __future__ import annotations

import functools
from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from django_streaming.conf import get_config

from .base import (
    END_STATUSES,
    EndStatus,
    Entry,
    NotReplicated,
    PendingAnswer,
    RunningStream,
    StoreMisconfigured,
    StoreUnavailable,
    StreamInfo,
    StreamReader,
    StreamStore,
    TooManyStreams,
    worker_id,
)

__all__ = [
    "END_STATUSES",
    "EndStatus",
    "Entry",
    "NotReplicated",
    "PendingAnswer",
    "RunningStream",
    "StoreMisconfigured",
    "StoreUnavailable",
    "StreamInfo",
    "StreamReader",
    "StreamStore",
    "TooManyStreams",
    "get_store",
    "worker_id",
]


@functools.cache
def get_store() -> StreamStore:
    """The process's store, built from the ``STORE`` setting on first use."""
    config = get_config()["STORE"]
    backend: type[StreamStore] = import_string(config["BACKEND"])
    options: dict[str, Any] = config.get("OPTIONS", {})
    return backend(**options)


@receiver(setting_changed)
def _clear_store(*, setting: str, **kwargs: Any) -> None:
    if setting == "DJANGO_STREAMING":
        if get_store.cache_info().currsize:
            get_store().close()
        get_store.cache_clear()
