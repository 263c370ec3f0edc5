"""The channel log of ``MemoryStore``: this process's memory, so it reaches the subscribers of
this process only. ``publish()`` may be called from any thread: the lock orders publishers,
and each subscriber gets its events on its own loop. Each channel has its sequence and epoch;
one idle past its TTL is forgotten with them, and starts again under a new epoch."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from django_streaming.stores.channel_log import (
    MAX_SEQ,
    Deliver,
    Entry,
    Head,
    Published,
    Replay,
    lost_numbers,
    merged,
    new_epoch,
    publish_time,
)

from .presence import MemoryPresence

__all__ = ["MemoryChannelLog"]

#: Channels idle past their TTL are forgotten once every this many publishes.
SWEEP_EVERY = 1024

_NO_HEAD = Head("", 0)


@dataclass
class _Channel:
    epoch: str = field(default_factory=new_epoch)
    seq: int = 0
    entries: deque[Entry] = field(default_factory=deque)
    last_write: float = field(default_factory=time.monotonic)


@dataclass(eq=False)
class _Listener:
    loop: asyncio.AbstractEventLoop
    deliver: Deliver

    def notify(self, entry: Entry) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self.deliver(entry)
        elif not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.deliver, entry)


class MemoryChannelLog:
    def __init__(self, *, max_len: int, ttl: float) -> None:
        self.max_len = max_len
        self.ttl = ttl
        self._publishes = 0
        self._lock = threading.Lock()
        self._channels: dict[str, _Channel] = {}
        self._listeners: dict[str, set[_Listener]] = {}
        self.presence = MemoryPresence()

    def publish(self, channel: str, body: bytes, *, wait_replicas: int | None = None) -> Published:
        # Nothing to replicate to: wait_replicas is ignored.
        with self._lock:
            log = self._channels.get(channel)
            if log is None or self._expired(log) or log.seq >= MAX_SEQ:
                log = self._channels[channel] = _Channel()
            log.seq += 1
            entry = Entry(log.seq, channel, body, publish_time(), log.epoch)
            log.entries.append(entry)
            log.last_write = time.monotonic()
            while len(log.entries) > self.max_len:
                log.entries.popleft()
            self._publishes += 1
            if self._publishes % SWEEP_EVERY == 0:
                self._forget_expired()
            listeners = list(self._listeners.get(channel, ()))
        for listener in listeners:
            listener.notify(entry)
        return Published(entry.epoch, entry.seq, entry.sent)

    async def apublish(
        self, channel: str, body: bytes, *, wait_replicas: int | None = None
    ) -> Published:
        return self.publish(channel, body)

    async def heads(self, channels: Sequence[str]) -> dict[str, Head]:
        return self.sync_heads(channels)

    def sync_heads(self, channels: Sequence[str]) -> dict[str, Head]:
        with self._lock:
            return self._heads(channels)

    def _heads(self, channels: Sequence[str]) -> dict[str, Head]:
        heads = {}
        for channel in channels:
            log = self._channels.get(channel)
            live = log is not None and not self._expired(log)
            heads[channel] = Head(log.epoch, log.seq) if log is not None and live else _NO_HEAD
        return heads

    async def forget_epoch(self, channel: str, epoch: str) -> Head:  # pragma: no cover - never
        # called: a process's memory never goes backwards (here for the protocol)
        return (await self.heads([channel]))[channel]

    @asynccontextmanager
    async def listen(
        self, channels: Sequence[str], deliver: Deliver
    ) -> AsyncIterator[dict[str, Head]]:
        listener = _Listener(asyncio.get_running_loop(), deliver)
        with self._lock:
            for channel in channels:
                self._listeners.setdefault(channel, set()).add(listener)
            heads = self._heads(channels)
        try:
            yield heads
        finally:
            with self._lock:
                for channel in channels:
                    listeners = self._listeners.get(channel, set())
                    listeners.discard(listener)
                    if not listeners:
                        self._listeners.pop(channel, None)

    async def replay(self, after: Mapping[str, int], heads: Mapping[str, Head]) -> Replay:
        by_channel: dict[str, list[Entry]] = {}
        lost = set()
        with self._lock:
            for channel, start in after.items():
                head = heads[channel]
                log = self._channels.get(channel)
                kept = []
                if log is not None and log.epoch == head.epoch and not self._expired(log):
                    kept = [entry for entry in log.entries if start < entry.seq <= head.seq]
                if lost_numbers(kept, start, head.seq):
                    lost.add(channel)
                by_channel[channel] = kept
        return Replay(merged(by_channel), frozenset(lost))

    def _forget_expired(self) -> None:
        for name in [name for name, log in self._channels.items() if self._expired(log)]:
            del self._channels[name]

    def _expired(self, log: _Channel) -> bool:
        return time.monotonic() - log.last_write > self.ttl
