"""``StreamStore``: where a resumable generation writes its events and every reader tails them."""

from __future__ import annotations

import asyncio
import functools
import os
import socket
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeAlias

__all__ = [
    "END_STATUSES",
    "EndStatus",
    "Entry",
    "PendingAnswer",
    "RunningStream",
    "StoreMisconfigured",
    "StoreUnavailable",
    "StreamInfo",
    "StreamReader",
    "StreamStore",
    "TooManyStreams",
    "worker_id",
]

#: How a resumable stream ended. ``interrupted``: the worker running it went away.
EndStatus: TypeAlias = Literal["completed", "cancelled", "error", "interrupted"]
END_STATUSES: tuple[EndStatus, ...] = ("completed", "cancelled", "error", "interrupted")

#: One stored event: its sequence number (1, 2, ...) and its encoded bytes.
Entry: TypeAlias = tuple[int, bytes]


class StoreUnavailable(Exception):
    """The store cannot be reached (Redis is down, say). Views answer 503."""


class StoreMisconfigured(StoreUnavailable):
    """The store refuses what it is asked because of how it is set up (Redis: ``MOVED``
    outside cluster mode, ``CROSSSLOT``, ``NOPERM``, out of memory, an unknown command). The
    message says what to change; it is logged to ``django_streaming``, and views answer 503
    as for ``StoreUnavailable``: no retry will help, but the client did nothing wrong."""


class NotReplicated(StoreUnavailable):
    """A write was stored, but fewer replicas than asked for acknowledged it in time
    (``wait_replicas``): a failover now could lose it."""


class TooManyStreams(Exception):
    """The owner already has as many active streams as allowed. Views answer 429."""


@dataclass(frozen=True)
class StreamInfo:
    owner: str
    status: EndStatus | Literal["active"]


@dataclass(frozen=True)
class RunningStream:
    """A generation running now, on this worker or another (``StreamStore.running()``)."""

    stream_id: str
    #: Its view's label, as in the metrics (``metrics.view_label()``).
    view: str
    owner: str
    #: When it started: seconds since the epoch, by its worker's clock.
    started: float
    #: The process that runs it (``worker_id()``).
    worker: str
    #: The events stored so far (the store keeps the last ``max_len`` of them).
    events: int


def worker_id() -> str:
    """This process, as the running streams name their worker: ``<host name>:<process id>``,
    stable for the life of the process (a forked worker gets its own)."""
    return _worker_id(os.getpid())


@functools.cache
def _worker_id(pid: int) -> str:
    return f"{socket.gethostname()}:{pid}"


@dataclass(frozen=True)
class PendingAnswer:
    """What a chat's last answer left waiting for the browser (``StreamStore.save_pending()``):
    the answer as the server streamed it (JSON), the ids of its calls that wait (for an
    approval, or for a browser tool's output), and the ids answered already."""

    message: str
    waiting: frozenset[str]
    answered: frozenset[str]


if TYPE_CHECKING:
    from .channel_log import ChannelLog


class StreamReader:
    """One reader of one stream, held across its reads (``StreamStore.follow()``)."""

    def __init__(self, store: StreamStore, stream_id: str) -> None:
        self.store = store
        self.stream_id = stream_id

    async def read(
        self, after: int, *, timeout: float | None
    ) -> tuple[list[Entry], EndStatus | None]:
        """``StreamStore.read()`` of this reader's stream."""
        return await self.store.read(self.stream_id, after, timeout=timeout)


class StreamStore(ABC):
    """The storage behind resumable streams. One instance per process (``get_store()``).

    A stream is created active, gets entries appended by the one task that generates it, and
    ends once with a status. Readers call ``read()`` from any worker. A *key* (a chat's id,
    scoped by the view) can point at the stream currently active for it.
    """

    #: Seconds between a reader's checks that the generating worker is still alive, or None
    #: when the store lives and dies with the process (nothing to check).
    liveness_interval: float | None = None
    #: Whether ``publish()`` reaches only the subscribers of the process it is called in.
    channels_are_local: bool = True

    @property
    def channel_log(self) -> ChannelLog:
        """The log of this store's channels (``publish()``, ``ChannelView``)."""
        raise NotImplementedError(f"{type(self).__name__} does not keep channels.")

    @abstractmethod
    async def create(
        self,
        stream_id: str,
        *,
        owner: str,
        key: str | None = None,
        max_active: int | None = None,
        max_duration: float = 3600.0,
        counted_as: str | None = None,
        view: str = "",
    ) -> str | None:
        """Register ``stream_id`` as active, and as running on this worker (``worker_id()``)
        for ``view`` (its label) until it ends (``running()``). With ``key``, make it the
        key's active stream and return the stream that was active for the key before, if any.

        With ``max_active``, raise ``TooManyStreams`` (and register nothing) when ``owner``
        (or ``counted_as``, when given: a client address, say) already has that many active
        streams, not counting the one active for ``key``, which the new one supersedes. A
        stream counts until it ends, or for ``max_duration`` seconds at most (its worker may
        have died without ending it)."""

    async def running(self, limit: int = 1000) -> list[RunningStream]:
        """The streams running now on every worker that shares the store, oldest first, at
        most ``limit`` of them: created and not ended, and (with a shared store) whose worker
        has renewed its lease in time. For the admin's page of live answers."""
        raise NotImplementedError(f"{type(self).__name__} does not list its running streams.")

    @abstractmethod
    async def append(self, stream_id: str, entries: Sequence[Entry]) -> None:
        """Store ``entries`` (in order) and wake the readers."""

    @abstractmethod
    async def finish(self, stream_id: str, status: EndStatus, *, key: str | None = None) -> None:
        """End the stream with ``status`` (once; later calls change nothing), wake the readers,
        and clear ``key`` if it still points at this stream."""

    @abstractmethod
    async def info(self, stream_id: str) -> StreamInfo | None:
        """The stream's owner and status, or None when there is no such stream (any more)."""

    @abstractmethod
    async def active(self, key: str) -> str | None:
        """The id of the stream active for ``key``, or None."""

    @abstractmethod
    async def read(
        self, stream_id: str, after: int, *, timeout: float | None
    ) -> tuple[list[Entry], EndStatus | None]:
        """The entries after sequence number ``after``, waiting up to ``timeout`` seconds
        (``None``: for ever) for the first one; and the end status when the stream has ended
        and nothing follows the entries returned."""

    @abstractmethod
    async def request_stop(self, stream_id: str) -> None:
        """Ask the generation of ``stream_id`` to stop, wherever it runs."""

    @abstractmethod
    async def wait_for_stop(self, stream_id: str) -> None:
        """Return when a stop of ``stream_id`` is requested. Called by the generating task."""

    # Tool calls left waiting for the browser, so that a continuation can only answer what the
    # server asked (chat/continuations.py). Keyed by a chat and its owner; kept ``ttl`` seconds.

    async def save_pending(
        self, key: str, message: str, waiting: Sequence[str], *, continued: bool = False
    ) -> None:
        """Make ``message`` (JSON) the answer of ``key`` whose calls ``waiting`` wait for the
        browser, in place of the one before: calls of that one no longer wait (nothing may
        answer them). When ``message`` ``continued`` the one before (the same message gone
        on), the calls answered already stay answered; otherwise it starts afresh (call ids
        are unique in a message only)."""
        raise NotImplementedError(f"{type(self).__name__} does not keep pending tool calls.")

    async def load_pending(self, key: str) -> PendingAnswer | None:
        """The answer of ``key`` saved by ``save_pending()``, or None (none, or expired)."""
        raise NotImplementedError(f"{type(self).__name__} does not keep pending tool calls.")

    async def claim(self, key: str, call_ids: Sequence[str]) -> str | None:
        """Mark the calls ``call_ids`` of ``key``'s pending answer answered, all or none, at
        once for every worker: None when all of them were waiting, else (nothing marked) the
        id of one that was not (answered already, or never waiting)."""
        raise NotImplementedError(f"{type(self).__name__} does not keep pending tool calls.")

    @asynccontextmanager
    async def follow(self, stream_id: str) -> AsyncIterator[StreamReader]:
        """A reader of ``stream_id`` for the block: ``tail()`` reads through one, so that a
        store can set up what its waits need once (Redis: a subscription) rather than per
        read."""
        yield StreamReader(self, stream_id)

    async def keep_alive(self, stream_id: str) -> None:  # noqa: B027 - a store may not need it
        """Renew the generating worker's lease on ``stream_id``. Called every
        ``liveness_interval / 3`` seconds by the generating task."""

    def close(self) -> None:  # noqa: B027 - a store may hold nothing to close
        """Release connections; called when the settings change (in tests)."""

    async def aclose(  # noqa: B027 - a store may hold nothing to close
        self, loop: asyncio.AbstractEventLoop | None = None
    ) -> None:
        """Release the connections of ``loop`` (the running one by default)."""

    async def is_alive(self, stream_id: str) -> bool:
        """Whether the worker generating ``stream_id`` has renewed its lease in time."""
        return True
