"""Retries through a failover window: while a Sentinel group or a managed service promotes a
replica (a few seconds), Redis refuses connections, answers ``READONLY`` from the demoted
master, or ``LOADING``. Calls that are safe to repeat retry with backoff for ``window``
seconds, then raise ``StoreUnavailable``.

Only idempotent calls go through here: a retried call may have run already on the server
before the connection dropped (a stream append carries its sequence number, a publish its
token, so running one twice stores it once)."""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from redis.exceptions import (
    AuthenticationError,
    AuthorizationError,
    BusyLoadingError,
    ClusterDownError,
    ConnectionError,
    ReadOnlyError,
    TimeoutError,
    TryAgainError,
)

from django_streaming import metrics
from django_streaming.stores.base import StoreUnavailable

__all__ = ["TRANSIENT", "is_transient", "retry", "retry_sync", "through_failover", "unavailable"]

P = ParamSpec("P")
R = TypeVar("R")


class HasWindow(Protocol):
    failover_timeout: float


S = TypeVar("S", bound=HasWindow)

#: What a failover looks like from a client: the connection refused, reset or timing out, the
#: demoted master's READONLY, a replica still LOADING, a cluster slot being moved.
TRANSIENT: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    OSError,
    ReadOnlyError,
    BusyLoadingError,
    TryAgainError,
    ClusterDownError,
)
#: Not transient, though redis-py makes them ConnectionErrors: a password or an ACL to fix.
PERMANENT: tuple[type[BaseException], ...] = (AuthenticationError, AuthorizationError)

#: The first pause between attempts, doubled each time up to ``MAX_DELAY`` (with jitter, so
#: that a thousand workers do not all knock at the new master at once).
FIRST_DELAY = 0.05
MAX_DELAY = 0.5


def unavailable(error: BaseException, window: float = 0.0) -> StoreUnavailable:
    """What a store call raises when Redis cannot be reached, caused by ``error``."""
    metrics.store_error("unavailable")
    after = f" for {window:g} s" if window else ""
    failed = StoreUnavailable(f"Redis is unavailable{after}: {error}")
    failed.__cause__ = error
    return failed


def is_transient(error: BaseException) -> bool:
    return isinstance(error, TRANSIENT) and not isinstance(error, PERMANENT)


def _pause(attempt: int, deadline: float) -> float | None:
    """The pause before attempt ``attempt + 1``, or None when it would end past ``deadline``."""
    delay = min(FIRST_DELAY * 2**attempt, MAX_DELAY) * random.uniform(0.5, 1.0)
    return None if time.monotonic() + delay > deadline else delay


async def retry(operation: Callable[[], Awaitable[R]], window: float) -> R:
    """``operation()``, attempted again after transient errors for ``window`` seconds."""
    deadline = time.monotonic() + window
    attempt = 0
    while True:
        try:
            return await operation()
        except BaseException as error:
            if not is_transient(error):
                raise
            delay = _pause(attempt, deadline)
            if delay is None:
                raise unavailable(error, window) from error
        attempt += 1
        await asyncio.sleep(delay)


def retry_sync(operation: Callable[[], R], window: float) -> R:
    """``retry()`` for a caller without an event loop (``publish()`` from any thread)."""
    deadline = time.monotonic() + window
    attempt = 0
    while True:
        try:
            return operation()
        except BaseException as error:
            if not is_transient(error):
                raise
            delay = _pause(attempt, deadline)
            if delay is None:
                raise unavailable(error, window) from error
        attempt += 1
        time.sleep(delay)


def through_failover(
    method: Callable[Concatenate[S, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, R]]:
    """A method attempted again through its object's ``failover_timeout``: for calls that are
    idempotent, which may have run before the connection dropped."""

    @functools.wraps(method)
    async def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await retry(lambda: method(self, *args, **kwargs), self.failover_timeout)

    return wrapper
