"""Every Redis client of the backend is built here, from the store's options: the store's
own (per event loop), the channels' (per event loop, a bounded pool), the synchronous one of
``publish()``, and, from those, the pub/sub connections."""

from __future__ import annotations

from typing import TYPE_CHECKING

import redis
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

if TYPE_CHECKING:
    from .store import RedisStore

__all__ = ["channel_client", "store_client", "sync_client"]


def store_client(store: RedisStore) -> Redis:
    """The store's client for the running loop."""
    # One immediate retry: a pooled connection may be dead after a Redis restart, and a
    # fresh one works; a Redis that is down fails fast instead of backing off for seconds.
    # A read() that waits blocks its connection in an XREAD of up to ``lease`` seconds
    # (tail() waits on the listener instead): such a read may take that long before it
    # counts as timed out.
    return Redis.from_url(
        store.url,
        retry=Retry(NoBackoff(), 1),
        socket_connect_timeout=store.connect_timeout,
        socket_timeout=store.lease + store.connect_timeout + 1,
        max_connections=store.max_connections,
    )


def channel_client(store: RedisStore, *, max_connections: int, wait: float) -> Redis:
    """The channels' client for the running loop: at most ``max_connections`` connections,
    a request waiting up to ``wait`` seconds for one rather than opening more."""
    pool = BlockingConnectionPool.from_url(
        store.url,
        max_connections=max_connections,
        timeout=wait,
        socket_connect_timeout=store.connect_timeout,
        retry=Retry(NoBackoff(), 1),
    )
    return Redis.from_pool(pool)  # closes it with itself


def sync_client(store: RedisStore) -> redis.Redis:
    """The client of ``publish()`` from any thread (its pool is thread-safe)."""
    return redis.Redis.from_url(store.url, socket_connect_timeout=store.connect_timeout)
