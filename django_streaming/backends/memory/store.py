"""``MemoryStore``: resumable streams in this process's memory (the default).

Resume and stop work for any request that reaches this process: one server process, or a
development server. Several workers or hosts need ``RedisStore``.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import replace

from django_streaming.conf import get_config
from django_streaming.stores.base import (
    EndStatus,
    Entry,
    PendingAnswer,
    RunningStream,
    StreamInfo,
    StreamStore,
    TooManyStreams,
    worker_id,
)

from .channel_log import MemoryChannelLog

__all__ = ["MemoryStore"]


class _Stream:
    __slots__ = (
        "counted_as",
        "entries",
        "first",
        "owner",
        "readers",
        "started",
        "status",
        "stop_requested",
        "stoppers",
        "view",
    )

    def __init__(self, owner: str, counted_as: str, view: str) -> None:
        self.owner = owner
        self.counted_as = counted_as
        self.view = view
        self.started = time.time()
        self.entries: list[Entry] = []
        self.first = 1  # the sequence number of entries[0], once older ones were dropped
        self.status: EndStatus | None = None
        self.readers: list[asyncio.Future[None]] = []
        self.stoppers: list[asyncio.Future[None]] = []
        self.stop_requested = False


class MemoryStore(StreamStore):
    """Streams kept in a dict; an ended stream is dropped ``ttl`` seconds later, or sooner when
    more than ``MAX_FINISHED_STREAMS`` have ended (the oldest first), and a stream keeps its
    last ``max_len`` events. Chats' pending tool calls are kept ``ttl`` seconds, for the
    ``max_pending`` chats saved last."""

    def __init__(
        self, *, ttl: float = 3600.0, max_len: int = 100_000, max_pending: int = 10_000
    ) -> None:
        self.ttl = ttl
        self.max_len = max_len
        self.max_pending = max_pending
        # Finished streams are only there for a late reconnect; without a bound, a busy
        # process would keep every one for the whole TTL (300 chats of 2,000 parts: 125 MiB).
        self.max_finished = get_config()["MAX_FINISHED_STREAMS"]
        self._streams: dict[str, _Stream] = {}
        self._keys: dict[str, str] = {}
        self._active: dict[str, set[str]] = {}  # by owner
        self._ended: deque[tuple[float, str]] = deque()  # (when, stream id), oldest first
        self._channel_log: MemoryChannelLog | None = None
        # By chat key, oldest save first: (when saved, the answer).
        self._pending: OrderedDict[str, tuple[float, PendingAnswer]] = OrderedDict()

    @property
    def channel_log(self) -> MemoryChannelLog:

        if self._channel_log is None:
            retention = get_config()["CHANNELS"]
            self._channel_log = MemoryChannelLog(max_len=retention["MAX_LEN"], ttl=retention["TTL"])
        return self._channel_log

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
        return self.create_now(
            stream_id,
            owner=owner,
            key=key,
            max_active=max_active,
            counted_as=counted_as,
            view=view,
        )

    def create_now(
        self,
        stream_id: str,
        *,
        owner: str,
        key: str | None = None,
        max_active: int | None = None,
        counted_as: str | None = None,
        view: str = "",
    ) -> str | None:
        """``create()`` for code that cannot await: this store never has to wait. (Its streams
        always end in this process, so none needs ``max_duration`` to stop counting.)"""
        self._forget_expired()
        previous = None if key is None else self._keys.get(key)
        counted_as = counted_as or owner
        active = self._active.setdefault(counted_as, set())
        if max_active is not None and len(active - {previous}) >= max_active:
            raise TooManyStreams(f"{counted_as} has {len(active)} active streams already.")
        active.add(stream_id)
        self._streams[stream_id] = _Stream(owner, counted_as, view)
        if key is not None:
            self._keys[key] = stream_id
        return previous

    async def running(self, limit: int = 1000) -> list[RunningStream]:
        # Every stream here runs in this process (its worker): none outlives its worker.
        worker = worker_id()
        running = [
            RunningStream(
                stream_id=stream_id,
                view=stream.view,
                owner=stream.owner,
                started=stream.started,
                worker=worker,
                events=stream.first + len(stream.entries) - 1,
            )
            for stream_id, stream in self._streams.items()
            if stream.status is None
        ]
        running.sort(key=lambda stream: stream.started)
        return running[:limit]

    async def append(self, stream_id: str, entries: Sequence[Entry]) -> None:
        stream = self._streams.get(stream_id)
        if stream is None or stream.status is not None:
            return
        stream.entries.extend(entries)
        excess = len(stream.entries) - self.max_len
        if excess > self.max_len // 10:  # trim in batches: a slice per event would be O(n²)
            del stream.entries[:excess]
            stream.first = stream.entries[0][0]
        _wake(stream.readers)

    async def finish(self, stream_id: str, status: EndStatus, *, key: str | None = None) -> None:
        stream = self._streams.get(stream_id)
        if stream is not None and stream.status is None:
            stream.status = status
            self._ended.append((time.monotonic(), stream_id))
            while len(self._ended) > self.max_finished:
                self._streams.pop(self._ended.popleft()[1], None)
            active = self._active.get(stream.counted_as, set())
            active.discard(stream_id)
            if not active:
                self._active.pop(stream.counted_as, None)
            _wake(stream.readers)
        if key is not None and self._keys.get(key) == stream_id:
            del self._keys[key]

    async def info(self, stream_id: str) -> StreamInfo | None:
        stream = self._streams.get(stream_id)
        if stream is None:
            return None
        return StreamInfo(owner=stream.owner, status=stream.status or "active")

    async def active(self, key: str) -> str | None:
        return self._keys.get(key)

    async def read(
        self, stream_id: str, after: int, *, timeout: float | None
    ) -> tuple[list[Entry], EndStatus | None]:
        stream = self._streams.get(stream_id)
        if stream is None:
            return [], "interrupted"
        if not _has_news(stream, after):
            waiter = asyncio.get_running_loop().create_future()
            stream.readers.append(waiter)
            try:
                await asyncio.wait((waiter,), timeout=timeout)
            finally:
                if waiter in stream.readers:
                    stream.readers.remove(waiter)
        start = max(after + 1 - stream.first, 0)
        entries = stream.entries[start:]
        return entries, stream.status

    async def request_stop(self, stream_id: str) -> None:
        stream = self._streams.get(stream_id)
        if stream is not None:
            stream.stop_requested = True
            _wake(stream.stoppers)

    async def wait_for_stop(self, stream_id: str) -> None:
        stream = self._streams.get(stream_id)
        if stream is None or stream.stop_requested:
            return
        waiter = asyncio.get_running_loop().create_future()
        stream.stoppers.append(waiter)
        try:
            await waiter
        finally:
            if waiter in stream.stoppers:
                stream.stoppers.remove(waiter)

    async def save_pending(
        self, key: str, message: str, waiting: Sequence[str], *, continued: bool = False
    ) -> None:
        previous = self._pending.pop(key, None)
        answered = previous[1].answered if previous and continued else frozenset()
        answer = PendingAnswer(message, frozenset(waiting) - answered, answered)
        self._pending[key] = (time.monotonic(), answer)
        self._forget_expired()

    async def load_pending(self, key: str) -> PendingAnswer | None:
        self._forget_expired()
        saved = self._pending.get(key)
        return saved[1] if saved else None

    async def claim(self, key: str, call_ids: Sequence[str]) -> str | None:
        pending = await self.load_pending(key)
        waiting = pending.waiting if pending is not None else frozenset()
        refused = next((call_id for call_id in call_ids if call_id not in waiting), None)
        if refused is None and pending is not None:
            claimed = frozenset(call_ids)
            answer = replace(
                pending, waiting=waiting - claimed, answered=pending.answered | claimed
            )
            self._pending[key] = (self._pending[key][0], answer)
        return refused

    def _forget_expired(self) -> None:
        deadline = time.monotonic() - self.ttl
        while self._ended and self._ended[0][0] <= deadline:
            _, stream_id = self._ended.popleft()
            self._streams.pop(stream_id, None)
        # A chat's pending answer lasts ttl seconds from its last save; max_pending at most.
        pending = self._pending
        while pending and (
            len(pending) > self.max_pending or next(iter(pending.values()))[0] <= deadline
        ):
            pending.popitem(last=False)


def _has_news(stream: _Stream, after: int) -> bool:
    last = stream.first + len(stream.entries) - 1
    return last > after or stream.status is not None


def _wake(waiters: list[asyncio.Future[None]]) -> None:
    running = asyncio.get_running_loop()
    for waiter in waiters:
        if waiter.get_loop() is running:
            _resolve(waiter)
        else:  # a reader on another thread's loop: two servers in one process, say
            waiter.get_loop().call_soon_threadsafe(_resolve, waiter)
    waiters.clear()


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
