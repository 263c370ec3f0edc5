"""What django-streaming tells an operator: Prometheus metrics, one log line per ended stream
and answer, and (``tracing.py``) OpenTelemetry spans.

The code above the stores calls the watchers here (``StreamWatch`` for each SSE stream,
``AnswerWatch`` for each chat answer) and the one-line hooks (``generation_started()``,
``resumed()``, ``store_error()``...); the backends call only the hooks. Each hook is a
function call and one test when metrics are off (``DJANGO_STREAMING["METRICS"] = False``, or
``prometheus_client`` not installed), and nothing is counted per event: a stream counts its
events and bytes itself and hands the totals here at its heartbeats and at its end.

Labels are bounded: a view's URL name (or its dotted path), a status, a reason; never a chat,
a channel or a user.
"""

from __future__ import annotations

import functools
import logging
import time
import weakref
from typing import TYPE_CHECKING, Any

from django.core.signals import setting_changed
from django.dispatch import receiver

from django_streaming import tracing
from django_streaming.conf import get_config

if TYPE_CHECKING:
    from django.http import HttpRequest

    from .registry import Metrics

__all__ = [
    "AnswerWatch",
    "StreamWatch",
    "delivery_lag",
    "enabled",
    "generation_ended",
    "generation_started",
    "listener_channels",
    "pubsub_reconnect",
    "refused",
    "resumed",
    "stopped",
    "store_error",
    "subscriber_joined",
    "subscriber_left",
    "view_label",
    "watching",
]

logger = logging.getLogger("django_streaming")

#: The label of a stream whose response was made without its request.
UNKNOWN_VIEW = "unknown"


@functools.cache
def _metrics() -> Metrics | None:
    """The metrics, or None when they are off; cached until the setting changes."""
    if get_config()["METRICS"] is not True:
        return None
    try:
        from .registry import get
    except ImportError:  # prometheus_client is not installed
        return None
    return get()


def enabled() -> bool:
    """Whether Prometheus metrics are on: ``DJANGO_STREAMING["METRICS"]`` (True by default)
    and ``prometheus_client`` installed."""
    return _metrics() is not None


@receiver(setting_changed)
def _clear(*, setting: str, **kwargs: Any) -> None:
    if setting == "DJANGO_STREAMING":
        _metrics.cache_clear()


def watching() -> bool:
    """Whether anyone looks: metrics on, OpenTelemetry installed, or the ``django_streaming``
    logger writing INFO (the line per ended stream). Otherwise streams are not watched."""
    return enabled() or tracing.installed() or logger.isEnabledFor(logging.INFO)


def view_label(request: HttpRequest | None) -> str:
    """The view a request reached, as a label: its URL's name (with namespaces), else the
    dotted path of its view; ``unknown`` without a request or a match."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return UNKNOWN_VIEW
    return str(match.view_name if match.url_name else match._func_path)


# Resumable generations.


def generation_started(view: str) -> bool:
    """A generation starts; whether it was counted (then count its end)."""
    metrics = _metrics()
    if metrics is not None:
        metrics.generations_started.labels(view).inc()
        metrics.generations_running.labels(view).inc()
    return metrics is not None


def generation_ended(view: str, status: str) -> None:
    """A generation that ``generation_started()`` counted ended with ``status``."""
    metrics = _built()
    metrics.generations_running.labels(view).dec()
    metrics.generations_ended.labels(view, status).inc()


def resumed(view: str) -> None:
    metrics = _metrics()
    if metrics is not None:
        metrics.resumes.labels(view).inc()


def stopped(view: str) -> None:
    metrics = _metrics()
    if metrics is not None:
        metrics.stops.labels(view).inc()


def refused(view: str) -> None:
    """A stream refused for ``MAX_ACTIVE_PER_OWNER``."""
    metrics = _metrics()
    if metrics is not None:
        metrics.refusals.labels(view).inc()


# Channels.


def subscriber_joined(view: str) -> bool:
    """A subscriber joins; whether it was counted (then count its leaving)."""
    metrics = _metrics()
    if metrics is not None:
        metrics.subscribers.labels(view).inc()
    return metrics is not None


def subscriber_left(view: str) -> None:
    """A subscriber that ``subscriber_joined()`` counted left."""
    _built().subscribers.labels(view).dec()


def _built() -> Metrics:
    """The metrics, for the end of what was counted at its start (metrics were on): they
    stay built, even when the setting turned them off since."""
    from .registry import get

    return get()


def delivery_lag(published: float) -> None:
    """An event published (wall clock) at ``published`` was just written to a subscriber."""
    metrics = _metrics()
    if metrics is not None:
        metrics.delivery_lag.observe(max(time.time() - published, 0.0))


# The backends.


def store_error(kind: str) -> None:
    """The store failed: ``kind`` is ``unavailable`` (cannot be reached) or another class of
    error the backend tells apart."""
    metrics = _metrics()
    if metrics is not None:
        metrics.store_errors.labels(kind).inc()


def pubsub_reconnect() -> None:
    """A pub/sub connection was lost and is being subscribed anew."""
    metrics = _metrics()
    if metrics is not None:
        metrics.pubsub_reconnects.inc()


# The channels each listener is subscribed to, so the gauge moves by the difference.
_listening: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()


def listener_channels(listener: Any, count: int) -> None:
    """``listener`` (one pub/sub connection) is now subscribed to ``count`` channels."""
    metrics = _metrics()
    if metrics is not None:
        before = _listening.get(listener, 0)
        _listening[listener] = count
        metrics.listener_channels.inc(count - before)


from .watchers import AnswerWatch, StreamWatch  # noqa: E402 - they use what is above
