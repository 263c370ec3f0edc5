"""Redis errors as the store's own exceptions, decided in one place."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from redis.exceptions import ConnectionError, TimeoutError

from django_streaming import metrics
from django_streaming.stores.base import StoreUnavailable

__all__ = ["unavailable", "unavailable_on_error"]

P = ParamSpec("P")
R = TypeVar("R")


def unavailable_on_error(
    method: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except (ConnectionError, TimeoutError, OSError) as error:
            raise unavailable(error) from error

    return wrapper


def unavailable(error: BaseException) -> StoreUnavailable:
    """What a store call raises when Redis cannot be reached, caused by ``error``."""
    metrics.store_error("unavailable")
    unavailable = StoreUnavailable(f"Redis is unavailable: {error}")
    unavailable.__cause__ = error
    return unavailable
