"""Where the sync work of streams runs: one bounded pool of threads per process, and every
call on it gives back the database connections it used when it is over.

Django keeps a database connection per thread and closes it at ``request_finished``, when the
response is over; a stream's response is over when the stream is, minutes later. And each
request under Django's ASGI handler has a thread of its own (its ``ThreadSensitiveContext``)
for as long as its response lasts. So with Django alone an open stream holds a thread and the
connection that thread opened, and a resumable generation, which outlives its request, makes
a new thread (and connection) that nobody closes.

Here the pump of every stream and every resumable generation sends its thread-sensitive
``sync_to_async`` calls (the async ORM's too) to the pool of ``THREADS`` threads, and each call
ends as a request does: its connections are closed, or given back to Django's psycopg pool,
unless ``CONN_MAX_AGE`` keeps them. A stream waiting between events holds no thread and no
connection, and a process opens at most ``THREADS`` connections per database for them.
``django_streaming.asgi`` runs each request's middleware and view on the same pool.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from asgiref.sync import AsyncToSync, SyncToAsync, ThreadSensitiveContext, sync_to_async
from django.core.signals import setting_changed
from django.db import connections
from django.dispatch import receiver

from .conf import get_config

__all__ = [
    "POOL",
    "call_and_release",
    "pool_context",
    "release_connections",
    "release_request_thread",
    "use_pool",
]

T = TypeVar("T")


def release_connections() -> None:
    """What ``request_finished`` does for this thread's database connections: close those that
    are done (all of them, with Django's default ``CONN_MAX_AGE = 0``; with a psycopg pool,
    closing gives them back to it). A connection inside a transaction is left alone, and so is
    an in-memory SQLite database (its ``close()`` does nothing: that would destroy it)."""
    for connection in connections.all(initialized_only=True):
        if connection.connection is None or connection.in_atomic_block:
            continue
        connection.close_if_unusable_or_obsolete()


def call_and_release(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``function(*args, **kwargs)``, then ``release_connections()``: a call on the pool."""
    try:
        return function(*args, **kwargs)
    finally:
        release_connections()


class PoolExecutor(Executor):
    """The process's pool, started on first use with ``THREADS`` threads. Shared by every
    stream: ``shutdown()`` (which asgiref calls when a context ends) leaves it running."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._size = 0
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        """Its number of threads: as it runs, or as it will start."""
        return self._size if self._pool is not None else get_config()["THREADS"]

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        pool = self._pool or self._start()
        return pool.submit(call_and_release, fn, *args, **kwargs)

    def _start(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._size = get_config()["THREADS"]
                self._pool = ThreadPoolExecutor(self._size, thread_name_prefix="django_streaming")
            return self._pool

    def resize(self) -> None:
        """Start anew with ``THREADS`` threads, if that changed (in tests): what the old
        threads run, or have queued, they finish."""
        with self._lock:
            old = self._pool
            if old is None or self._size == get_config()["THREADS"]:
                return
            self._pool = None
        old.shutdown(wait=False)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Nothing: the pool lasts as long as the process."""


POOL = PoolExecutor()


@receiver(setting_changed)
def _resize_pool(*, setting: str, **kwargs: Any) -> None:
    # After conf's own receiver, which clears the cached settings: it was connected first, when
    # this module imported conf, and Django calls receivers in the order they were connected.
    if setting == "DJANGO_STREAMING":
        POOL.resize()


# asgiref sends a thread-sensitive call to the executor of the ThreadSensitiveContext in force;
# this one, never entered, stands for the pool.
_POOL_CONTEXT = ThreadSensitiveContext()
SyncToAsync.context_to_thread_executor[_POOL_CONTEXT] = POOL


@contextmanager
def pool_context() -> Iterator[None]:
    """Within this block, thread-sensitive calls go to the pool."""
    token = SyncToAsync.thread_sensitive_context.set(_POOL_CONTEXT)
    try:
        yield
    finally:
        SyncToAsync.thread_sensitive_context.reset(token)


def use_pool() -> None:
    """Send the thread-sensitive calls of the current task (and of the tasks it starts) to the
    pool, instead of its request's thread or the thread of an ``async_to_sync`` call."""
    if SyncToAsync.thread_sensitive_context.get(None) is not _POOL_CONTEXT:
        SyncToAsync.thread_sensitive_context.set(_POOL_CONTEXT)
    if getattr(AsyncToSync.executors, "current", None) is not None:
        AsyncToSync.executors.current = None


async def release_request_thread() -> None:
    """Close the connections the request's own thread holds, when it has one (Django's ASGI
    handler gives each request a thread that lasts as long as its response)."""
    context = SyncToAsync.thread_sensitive_context.get(None)
    if (
        context is not None
        and context is not _POOL_CONTEXT
        and context in SyncToAsync.context_to_thread_executor
    ):
        await sync_to_async(release_connections)()
