"""``publish()`` and ``apublish()``: append an event to a channel, from anywhere."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from django.db import transaction

from django_streaming.sse import Event
from django_streaming.stores import get_store

from .log import ChannelLog, published_id, validate_channel_name

__all__ = ["apublish", "publish"]

logger = logging.getLogger("django_streaming")

# Set once this process serves a request (apps.py): a MemoryStore's publish() reaches only the
# subscribers of the process it runs in, so one from elsewhere (a command, a worker) is lost.
served_a_request = False
_warned = False


def encode_for_channel(channel: str, data: Any, event: str | None) -> bytes:
    """The event's bytes, without the ``id:`` each subscriber's cursor adds."""
    validate_channel_name(channel)
    if isinstance(data, Event):
        if data.id is not None:
            raise ValueError(
                "A channel numbers its events: publish an Event without an id (its subscribers "
                "get a cursor as the id)."
            )
        return (replace(data, event=event) if event is not None else data).encode()
    # An empty data line all the same: browsers dispatch no event without one.
    return Event(data="" if data is None else data, event=event).encode()


def publish(
    channel: str,
    data: Any = None,
    *,
    event: str | None = None,
    on_commit: bool = False,
    using: str | None = None,
    wait_replicas: int | None = None,
) -> str | None:
    """Append an event to ``channel`` and return its id: the ``id:`` a subscriber of that
    channel alone gets for it, a cursor valid as its ``Last-Event-ID`` (or ``?since=``) to get
    what is published after it. Callable from any thread or process, no event loop needed: a
    sync view, a signal handler, a management command, a task worker.

    ``data`` is what ``Event`` takes (a ``str``, or anything JSON-able) or an ``Event`` (from
    ``render_event()``, say); ``event`` names the event type. With ``on_commit=True`` the event
    is published when the current transaction of database ``using`` commits, and not at all if
    it rolls back; the return value is then ``None``.

    With ``RedisStore``, every subscriber on every worker gets it, and a Redis that cannot be
    reached (for longer than its ``failover_timeout``) raises ``StoreUnavailable``.
    ``wait_replicas=n`` returns only once ``n`` Redis replicas have the event (``WAIT``), and
    raises ``NotReplicated`` if they do not acknowledge it within the store's ``wait_timeout``
    (the store's ``wait_replicas`` option sets it for every publish). With ``MemoryStore``,
    only the subscribers of this process get it, and ``wait_replicas`` is ignored.
    """
    body = encode_for_channel(channel, data, event)
    if on_commit:
        transaction.on_commit(
            lambda: _log().publish(channel, body, wait_replicas=wait_replicas), using=using
        )
        return None
    return published_id(channel, _log().publish(channel, body, wait_replicas=wait_replicas))


async def apublish(
    channel: str, data: Any = None, *, event: str | None = None, wait_replicas: int | None = None
) -> str:
    """``publish()`` for async code: the same, without blocking the event loop."""
    body = encode_for_channel(channel, data, event)
    published = await _log().apublish(channel, body, wait_replicas=wait_replicas)
    return published_id(channel, published)


def _log() -> ChannelLog:
    global _warned
    store = get_store()
    if store.channels_are_local and not served_a_request and not _warned:
        _warned = True
        logger.warning(
            "publish() with the in-process MemoryStore reaches only subscribers in this "
            "process, and this one serves no requests: set DJANGO_STREAMING['STORE'] to "
            "django_streaming.backends.redis.RedisStore to reach every worker."
        )
    return store.channel_log
