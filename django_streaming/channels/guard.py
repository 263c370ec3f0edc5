"""Presence and revocation: who reads a channel (``presence()``, and ``join``/``leave`` events
on the channel for a view with ``presence = True``), and ``disconnect()``, which ends
subscriptions on every worker so that their clients reconnect and ``can_read()`` decides again.

Each subscription of a ``ChannelView`` has a ``Guard``: it watches the store's disconnects
while the subscription lives, compares the tokens of its targets from before ``can_read()``
with those once it watches (a disconnect while it was setting up is not missed), and, for a
view with presence, holds the subscription's entry on each channel.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import weakref
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from django_streaming.sse import Event
from django_streaming.stores import StoreUnavailable, get_store
from django_streaming.stores.channel_log import Deliver, FeedLost
from django_streaming.stores.presence import ANONYMOUS, PresenceLog, Target

from .log import ChannelLog, validate_channel_name

__all__ = [
    "DISCONNECTED",
    "MAX_LABEL_LENGTH",
    "Guard",
    "Presence",
    "adisconnect",
    "apresence",
    "disconnect",
    "presence",
    "user_key",
    "validate_label",
]

logger = logging.getLogger("django_streaming")

#: The most characters of a presence label (a user's id, or what the view chose).
MAX_LABEL_LENGTH = 200


class _Disconnected(FeedLost):
    """Delivered to a subscription that ``disconnect()`` ended: its stream ends with the
    entry's body, an SSE comment."""

    __slots__ = ()


#: What a subscription ended by ``disconnect()`` sends last, before its stream ends (the
#: client reconnects, with its cursor, and ``can_read()`` decides again).
DISCONNECTED = _Disconnected(-1, "", b": disconnected\n\n")


@dataclass(frozen=True)
class Presence:
    """Who reads a channel now, across every worker: the subscriptions of each label (a
    user's id, or what the view's ``presence_label()`` chose), and of the anonymous, counted
    but not listed."""

    members: dict[str, int]
    anonymous: int = 0

    @property
    def count(self) -> int:
        """How many read it: each listed member once, however many tabs it has open, and
        each anonymous subscription."""
        return len(self.members) + self.anonymous


def _presence_of(counts: dict[str, int]) -> Presence:
    anonymous = counts.pop(ANONYMOUS, 0)
    return Presence(dict(sorted(counts.items())), anonymous)


def presence(channel: str) -> Presence:
    """Who reads ``channel`` now through views with ``presence = True``, on every worker with
    ``RedisStore`` (the entries of a worker that died expire within the store's ``lease``),
    in this process with ``MemoryStore``. From any thread, no event loop needed."""
    validate_channel_name(channel)
    return _presence_of(get_store().channel_log.presence.members_sync(channel))


async def apresence(channel: str) -> Presence:
    """``presence()`` for async code: the same, without blocking the event loop."""
    validate_channel_name(channel)
    return _presence_of(await get_store().channel_log.presence.members(channel))


def user_key(user: Any) -> str:
    """The id ``disconnect(user=...)`` matches: a user's ``pk`` (or the ``pk`` itself), as a
    string."""
    pk = getattr(user, "pk", user)
    if pk is None or isinstance(pk, bool):
        raise ValueError(
            f"Cannot disconnect the user {user!r}: it has no pk (anonymous users are "
            "disconnected by channel)."
        )
    return str(pk)


def _target(channel: str | None, user: Any) -> Target:
    if channel is None and user is None:
        raise ValueError("disconnect() needs a channel, a user, or both.")
    if channel is not None:
        validate_channel_name(channel)
    return f"{channel or ''}/{'' if user is None else user_key(user)}"


def disconnect(*, channel: str | None = None, user: Any = None) -> None:
    """End the subscriptions to ``channel`` of ``user`` (a user, or its pk), on every worker
    with ``RedisStore`` (within a second), in this process with ``MemoryStore``; either may be
    left out for any. Each ends with an SSE comment, and its client reconnects: ``can_read()``
    decides again (call this after the change that makes it refuse). From any thread."""
    get_store().channel_log.presence.disconnect(_target(channel, user))


async def adisconnect(*, channel: str | None = None, user: Any = None) -> None:
    """``disconnect()`` for async code: the same, without blocking the event loop."""
    await get_store().channel_log.presence.adisconnect(_target(channel, user))


def validate_label(label: object) -> str:
    """A presence label as the store keeps it (``""``: anonymous), or a ``ValueError``."""
    if label is None:
        return ANONYMOUS
    if not isinstance(label, str):
        raise ValueError(f"A presence label must be a str or None, not {type(label).__name__}.")
    if len(label) > MAX_LABEL_LENGTH:
        raise ValueError(f"A presence label has at most {MAX_LABEL_LENGTH} characters.")
    return label


def targets(channels: Sequence[str], user: str | None) -> list[Target]:
    """The disconnect targets that name a subscription of ``user`` to ``channels``."""
    named = [f"{channel}/" for channel in channels]
    if user is not None:
        named += [f"{channel}/{user}" for channel in channels] + [f"/{user}"]
    return named


async def announce(log: ChannelLog, channel: str, kind: str, labels: Sequence[str]) -> None:
    """Publish a ``join`` or ``leave`` event on ``channel`` for each listed label."""
    for label in labels:
        if label != ANONYMOUS:
            await log.apublish(channel, Event(data={"user": label}, event=kind).encode())


class Guard:
    """One subscription's revocation and presence: ``watch()`` is what ``subscribe()`` enters
    once it listens (its ``guard``)."""

    def __init__(
        self,
        log: ChannelLog,
        channels: Sequence[str],
        named_by: list[Target],
        tokens: list[str | None],
        label: str | None,
    ) -> None:
        self.log = log
        self.channels = list(channels)
        self.named_by = named_by
        self.tokens = tokens  # as they were before can_read()
        self.label = label  # None: no presence
        self.member = secrets.token_urlsafe(12)

    @classmethod
    async def before_checks(
        cls, log: ChannelLog, channels: Sequence[str], user: str | None, label: str | None
    ) -> Guard:
        """The guard of a subscription about to be checked by ``can_read()``."""
        named_by = targets(channels, user)
        return cls(log, channels, named_by, await log.presence.tokens(named_by), label)

    @asynccontextmanager
    async def watch(self, deliver: Deliver) -> AsyncIterator[None]:
        store = self.log.presence
        named_by = set(self.named_by)
        ended = False

        def end() -> None:
            nonlocal ended
            if not ended:
                ended = True
                deliver(DISCONNECTED)

        async def compare() -> None:
            if await store.tokens(self.named_by) != self.tokens:
                end()

        def revoked(target: Target | None) -> None:
            if target is None:  # some may have been missed: the tokens tell
                _in_background(compare())
            elif target in named_by:
                end()

        async with store.watch(revoked):
            try:
                await compare()
                if self.label is not None:
                    await self._join()
                yield
            finally:
                if self.label is not None:
                    # Cancelled again, it goes on by itself.
                    await asyncio.shield(_in_background(self._leave(self.label)))

    async def _join(self) -> None:
        assert self.label is not None
        keeper = _keeper(self.log)
        for channel in self.channels:
            if keeper is not None:
                keeper.add(channel, self.label, self.member)
            if await self.log.presence.join(channel, self.label, self.member):
                await announce(self.log, channel, "join", [self.label])

    async def _leave(self, label: str) -> None:
        keeper = _keeper(self.log)
        for channel in self.channels:
            if keeper is not None:
                keeper.remove(channel, self.member)
            try:
                if await self.log.presence.leave(channel, label, self.member):
                    await announce(self.log, channel, "leave", [label])
            except StoreUnavailable as error:  # its entry expires within the lease
                logger.warning("Could not remove a presence entry of %s: %s", channel, error)


_background: set[asyncio.Future[Any]] = set()


def _in_background(work: Coroutine[Any, Any, None]) -> asyncio.Future[None]:
    """Run ``work`` (a check, a leave) to its end whatever happens to who started it."""
    future = asyncio.ensure_future(work)
    _background.add(future)
    future.add_done_callback(_settled)
    return future


def _settled(future: asyncio.Future[Any]) -> None:
    _background.discard(future)
    if not future.cancelled() and future.exception() is not None:
        logger.warning("Presence or a disconnect could not be checked: %s", future.exception())


class _Keeper:
    """Renews the presence entries of one event loop's subscriptions, every third of the
    lease, in one round trip; announces the labels found expired (a worker died) or back."""

    def __init__(self, log: ChannelLog, lease: float) -> None:
        self.log = log
        self.lease = lease
        self.entries: dict[tuple[str, str], str] = {}  # (channel, member) -> label
        self.task: asyncio.Task[None] | None = None

    def add(self, channel: str, label: str, member: str) -> None:
        self.entries[channel, member] = label
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run())

    def remove(self, channel: str, member: str) -> None:
        self.entries.pop((channel, member), None)
        if not self.entries and self.task is not None:
            self.task.cancel()
            self.task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.lease / 3)
            members: dict[str, list[tuple[str, str]]] = {}
            for (channel, member), label in self.entries.items():
                members.setdefault(channel, []).append((label, member))
            try:
                renewed = await self.log.presence.renew(members)
                for channel, (gone, back) in renewed.items():
                    await announce(self.log, channel, "leave", gone)
                    await announce(self.log, channel, "join", back)
            except StoreUnavailable as error:  # tried again at the next turn
                logger.warning("Could not renew the presence entries: %s", error)


_keepers: weakref.WeakKeyDictionary[PresenceLog, weakref.WeakKeyDictionary[Any, _Keeper]] = (
    weakref.WeakKeyDictionary()
)


def _keeper(log: ChannelLog) -> _Keeper | None:
    """The running loop's keeper of ``log``'s presence entries, if they have a lease."""
    lease = log.presence.lease
    if lease is None:
        return None
    by_loop = _keepers.setdefault(log.presence, weakref.WeakKeyDictionary())
    loop = asyncio.get_running_loop()
    keeper = by_loop.get(loop)
    if keeper is None:
        keeper = by_loop[loop] = _Keeper(log, lease)
    return keeper
