"""Presence and disconnects of ``MemoryStore``: this process's memory, so they reach the
subscribers of this process only. Entries go with their subscription (or the process): no
lease to renew. Any thread may call; the lock orders them, and each watcher is called on its
own loop."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from django_streaming.stores.presence import Renewed, Revoked, Target

__all__ = ["MemoryPresence"]

#: Disconnect tokens kept, the oldest forgotten first: a subscription checks them across its
#: own setting up only (a ``can_read()``), so a few seconds' worth is plenty.
MAX_TOKENS = 10_000
#: Seconds a disconnect's token is kept.
TOKEN_TTL = 60.0


@dataclass(eq=False)
class _Watcher:
    loop: asyncio.AbstractEventLoop
    revoked: Revoked

    def notify(self, target: Target) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self.revoked(target)
        elif not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.revoked, target)


class MemoryPresence:
    lease: float | None = None

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # channel -> label -> members: a channel and a label go with their last member.
        self._entries: dict[str, dict[str, set[str]]] = {}
        self._tokens: OrderedDict[Target, tuple[str, float]] = OrderedDict()
        self._numbers = itertools.count(1)
        self._watchers: set[_Watcher] = set()

    async def join(self, channel: str, label: str, member: str) -> bool:
        with self._lock:
            members = self._entries.setdefault(channel, {}).setdefault(label, set())
            members.add(member)
            return len(members) == 1

    async def leave(self, channel: str, label: str, member: str) -> bool:
        with self._lock:
            labels = self._entries.get(channel, {})
            members = labels.get(label, set())
            members.discard(member)
            if members:
                return False
            labels.pop(label, None)
            if not labels:
                self._entries.pop(channel, None)
            return True

    async def renew(self, members: Mapping[str, Sequence[tuple[str, str]]]) -> Renewed:
        return {}  # pragma: no cover - never called: no lease (here for the protocol)

    async def members(self, channel: str) -> dict[str, int]:
        return self.members_sync(channel)

    def members_sync(self, channel: str) -> dict[str, int]:
        with self._lock:
            labels = self._entries.get(channel, {})
            return {label: len(members) for label, members in labels.items()}

    def disconnect(self, target: Target) -> None:
        now = time.monotonic()
        with self._lock:
            self._tokens.pop(target, None)
            self._tokens[target] = (str(next(self._numbers)), now)
            # The first is the oldest (each is moved last when set again).
            while self._tokens and (
                len(self._tokens) > MAX_TOKENS
                or next(iter(self._tokens.values()))[1] < now - TOKEN_TTL
            ):
                self._tokens.popitem(last=False)
            watchers = list(self._watchers)
        for watcher in watchers:
            watcher.notify(target)

    async def adisconnect(self, target: Target) -> None:
        self.disconnect(target)

    async def tokens(self, targets: Sequence[Target]) -> list[str | None]:
        with self._lock:
            kept = [self._tokens.get(target) for target in targets]
        return [None if token is None else token[0] for token in kept]

    @asynccontextmanager
    async def watch(self, revoked: Revoked) -> AsyncIterator[None]:
        watcher = _Watcher(asyncio.get_running_loop(), revoked)
        with self._lock:
            self._watchers.add(watcher)
        try:
            yield
        finally:
            with self._lock:
                self._watchers.discard(watcher)
