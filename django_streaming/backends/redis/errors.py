"""redis-py's errors as the store's own exceptions, decided in one place (``classify()``):

* Redis cannot be reached (connection refused or lost, a timeout, a cluster or a Sentinel
  group without a master for the moment): ``StoreUnavailable``;
* Redis refuses what the store asks because of how it is set up (``MOVED`` outside cluster
  mode, ``CROSSSLOT``, ``NOPERM``, out of memory, an unknown command): ``StoreMisconfigured``,
  whose message says what to change, logged to ``django_streaming`` as an error;
* anything else (a bug of ours, a key of the wrong type): as it is.

Views answer both of ours with a 503 JSON (``StoreMisconfigured`` is a ``StoreUnavailable``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, ParamSpec, TypeVar

from redis.exceptions import (
    AskError,
    BusyLoadingError,
    ClusterCrossSlotError,
    ClusterDownError,
    ConnectionError,
    NoPermissionError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisClusterException,
    RedisError,
    ResponseError,
    SlotNotCoveredError,
    TimeoutError,
    TryAgainError,
)

from django_streaming import metrics
from django_streaming.stores.base import StoreMisconfigured, StoreUnavailable

from .failover import PERMANENT, unavailable

__all__ = ["classify", "on_error", "unavailable"]

logger = logging.getLogger("django_streaming")

P = ParamSpec("P")
R = TypeVar("R")

#: redis-py's errors that mean: not reachable now (a failover in progress is one).
UNREACHABLE = (
    ConnectionError,
    TimeoutError,
    OSError,
    ClusterDownError,
    TryAgainError,
    BusyLoadingError,
    ReadOnlyError,  # a master demoted under us: the next connection finds the new one
    SlotNotCoveredError,  # a cluster's node failing over
)


def misconfiguration(error: BaseException) -> str | None:
    """What to change when ``error`` comes from how Redis is set up, else None."""
    text = str(error)
    upper = text.upper()
    if isinstance(error, AskError):  # MOVED and ASK: the server is a cluster node
        return (
            f"Redis answered {text!r}: it is a node of a cluster. Set 'cluster': True in "
            "DJANGO_STREAMING['STORE']['OPTIONS'] (or use a redis+cluster:// URL)."
        )
    if (
        isinstance(error, ClusterCrossSlotError)
        or "CROSSSLOT" in upper
        or (isinstance(error, RedisClusterException) and "SAME" in upper and "SLOT" in upper)
    ):
        return (
            f"Redis refused keys of several slots ({text}). In a cluster, set 'cluster': True "
            "so that each command's keys share a hash tag, and use a 'prefix' without braces; "
            "a client_factory must return a cluster client."
        )
    if isinstance(error, PERMANENT):  # redis-py's ConnectionErrors that no retry mends
        return (
            f"Redis refused the store's credentials ({text}): check the password (and the "
            "user) in the URL, 'client_kwargs' or 'sentinel_kwargs'."
        )
    if isinstance(error, NoPermissionError) or upper.startswith("NOPERM"):
        return (
            f"Redis refused a command ({text}): the ACL user needs the commands and the key "
            "and channel patterns listed in the deployment docs ('ACL'), for the store's "
            "'prefix'."
        )
    if isinstance(error, OutOfMemoryError) or upper.startswith("OOM"):
        return (
            f"Redis is out of memory and refuses writes ({text}): raise 'maxmemory', or keep "
            "less ('ttl', 'max_len', CHANNELS['MAX_LEN']); see the deployment docs on eviction."
        )
    if isinstance(error, ResponseError) and (
        upper.startswith("UNKNOWN COMMAND") or upper.startswith("ERR UNKNOWN COMMAND")
    ):
        return (
            f"Redis does not know a command the store needs ({text}): use Redis 7.0 or later "
            "(or Valkey), and do not rename or disable the commands the deployment docs list."
        )
    if isinstance(error, RedisClusterException):
        return (
            f"The cluster client failed ({text}): with 'cluster': True the URL must name a "
            "node of a cluster with cluster mode enabled; a single server needs 'cluster': "
            "False."
        )
    return None


def classify(error: BaseException) -> BaseException:
    """The store's exception for ``error`` (see the module), or ``error`` itself."""
    if isinstance(error, StoreUnavailable):
        return error
    cause = error.__cause__
    if isinstance(error, RedisClusterException) and isinstance(cause, (RedisError, OSError)):
        # "Redis Cluster cannot be connected" (redis-py 8.2 names it RedisClusterUnreachableError,
        # earlier releases raise the base class): what the client met names it.
        classified = classify(cause)
        if classified is not cause:
            return classified
    if isinstance(error, UNREACHABLE) and not isinstance(error, PERMANENT):
        return unavailable(error)
    change = misconfiguration(error)
    if change is None:
        return error
    logger.error("The Redis store is misconfigured: %s", change)
    metrics.store_error("misconfigured")
    misconfigured = StoreMisconfigured(change)
    misconfigured.__cause__ = error
    return misconfigured


def on_error(
    method: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """``method``, raising its Redis errors as ``classify()`` names them, and a cancellation
    that redis-py dropped (``cancellations_kept()``)."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with cancellations_kept():
            try:
                return await method(*args, **kwargs)
            except (RedisError, RedisClusterException, OSError) as error:
                classified = classify(error)
                if classified is error:
                    raise
                raise classified from error

    return wrapper


@contextlib.contextmanager
def cancellations_kept() -> Iterator[None]:
    """Raise ``CancelledError`` at the end of the block if the task was cancelled during it
    but the block ended normally.

    Before Python 3.12, ``asyncio.wait_for()`` returns the result of what it waited for when
    that finished in the same turn as the task was cancelled, and the cancellation is gone
    (CPython gh-86296). redis-py sends every command through it when a socket timeout is set,
    as the store's client has: a task cancelled while it sent (a generation's Stop, a stop
    waiter at the end of its generation) went on as if nothing had happened, and a waiter
    waited for ever. An error the block raises after the dropped cancellation (a confirmation
    that timed out, say) gives way to it: a cancelled task that took it for a failure tried
    again. Python 3.10 has no ``Task.cancelling()`` to tell: there it stays lost."""
    cancelling = getattr(asyncio.current_task(), "cancelling", lambda: 0)
    before = cancelling()
    try:
        yield
    except Exception as error:  # an error after the dropped cancellation: still cancelled
        if cancelling() > before:
            raise asyncio.CancelledError from error
        raise
    if cancelling() > before:
        raise asyncio.CancelledError
