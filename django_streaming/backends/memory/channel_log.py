"""The channel log of ``MemoryStore``: this process's memory, so it reaches the subscribers of
this process only. ``publish()`` may be called from any thread: the lock orders publishers,
and each subscriber gets its events on its own loop."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from django_streaming.stores.channel_log import Deliver, Entry, Head, Published, Replay

from .presence import MemoryPresence

__all__ = ["MemoryChannelLog"]

#: Channels idle past their TTL are forgotten once every this many publishes.
SWEEP_EVERY = 1024


@dataclass
class _Channel:
    entries: deque[Entry]
    trimmed: int = 0  # the last sequence number dropped to keep max_len
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
        self.epoch = secrets.token_urlsafe(6)  # this process's memory: new with each process
        self._seq = 0
        self._lock = threading.Lock()
        self._channels: dict[str, _Channel] = {}
        self._listeners: dict[str, set[_Listener]] = {}
        self.presence = MemoryPresence()

    def publish(self, channel: str, body: bytes, *, wait_replicas: int | None = None) -> Published:
        # Nothing to replicate to: wait_replicas is ignored.
        with self._lock:
            self._seq += 1
            entry = Entry(self._seq, channel, body)
            log = self._channels.get(channel)
            if log is None or self._expired(log):
                log = self._channels[channel] = _Channel(deque())
            log.entries.append(entry)
            log.last_write = time.monotonic()
            while len(log.entries) > self.max_len:
                log.trimmed = log.entries.popleft().seq
            if self._seq % SWEEP_EVERY == 0:
                self._forget_expired()
            listeners = list(self._listeners.get(channel, ()))
        for listener in listeners:
            listener.notify(entry)
        return Published(self.epoch, entry.seq, entry.sent)

    async def apublish(
        self, channel: str, body: bytes, *, wait_replicas: int | None = None
    ) -> Published:
        return self.publish(channel, body)

    async def head(self) -> Head:
        return self.sync_head()

    def sync_head(self) -> Head:
        with self._lock:
            return Head(self.epoch, self._seq)

    async def forget_epoch(self, epoch: str) -> Head:  # pragma: no cover - never called:
        # a process's memory never goes backwards (here for the protocol)
        return await self.head()

    @asynccontextmanager
    async def listen(self, channels: Sequence[str], deliver: Deliver) -> AsyncIterator[Head]:
        listener = _Listener(asyncio.get_running_loop(), deliver)
        with self._lock:
            for channel in channels:
                self._listeners.setdefault(channel, set()).add(listener)
            head = Head(self.epoch, self._seq)
        try:
            yield head
        finally:
            with self._lock:
                for channel in channels:
                    listeners = self._listeners.get(channel, set())
                    listeners.discard(listener)
                    if not listeners:
                        self._listeners.pop(channel, None)

    async def replay(self, channels: Sequence[str], after: int, until: int, since: int) -> Replay:
        entries: list[Entry] = []
        lost = False
        with self._lock:
            for channel in channels:
                log = self._channels.get(channel)
                if log is None or self._expired(log):
                    lost |= time.time() - since >= self.ttl  # it may have expired meanwhile
                    continue
                lost |= log.trimmed > after
                entries.extend(entry for entry in log.entries if after < entry.seq <= until)
        entries.sort(key=lambda entry: entry.seq)
        return Replay(entries, lost=lost)

    def _forget_expired(self) -> None:
        for name in [name for name, log in self._channels.items() if self._expired(log)]:
            del self._channels[name]

    def _expired(self, log: _Channel) -> bool:
        return time.monotonic() - log.last_write > self.ttl
