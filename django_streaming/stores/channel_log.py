"""``ChannelLog``: the interface of a store's channels, below the engine that uses it
(``channels/``) and above the backends that implement it (``backends/memory``,
``backends/redis``).

An append-only log of events per channel, numbered by one sequence across all of a store's
channels so that one number orders any set of them, and an epoch that changes when the store
lost its data. How a subscriber's position is written as a cursor, signed and checked, is the
engine's business (``channels/log.py``, ``channels/signing.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .presence import PresenceLog

__all__ = [
    "FEED_LOST",
    "ChannelLog",
    "Deliver",
    "Entry",
    "FeedLost",
    "Head",
    "Published",
    "Replay",
]


class Entry:
    """One stored event: its sequence number, its channel, its bytes without an ``id:``, and
    ``sent``, when it was published (seconds, by the publisher's clock: the same for every
    subscriber in every process, live or replayed, since its cursors carry it; an entry
    stored without one takes the time it is read). ``framings`` caches the event as the engine
    frames it for each set of channels its subscribers read (``channels/log.py: frame()``), so
    that it is framed once per set, not once per subscriber."""

    __slots__ = ("body", "channel", "framings", "published", "sent", "seq")

    def __init__(self, seq: int, channel: str, body: bytes, sent: int | None = None) -> None:
        self.seq = seq
        self.channel = channel
        self.body = body
        # When it reached this process (wall clock), for the delivery lag; 0 once measured.
        self.published = time.time()
        self.sent = int(self.published) if sent is None else sent
        # By the subscription's channels: the epoch it was framed under, and the event.
        self.framings: dict[str, tuple[str, bytes]] = {}


@dataclass(frozen=True)
class Head:
    """Where a store's log stands: its epoch and the last sequence number given out."""

    epoch: str
    seq: int


@dataclass(frozen=True)
class Published:
    """Where ``publish()`` put an event: the log's epoch, the event's sequence number, and
    when it was published (seconds): all its cursors are made of."""

    epoch: str
    seq: int
    sent: int


@dataclass(frozen=True)
class Replay:
    """What a reconnecting subscriber missed, in order, and whether some of it is gone."""

    entries: list[Entry]
    lost: bool


class FeedLost(Entry):
    """Delivered instead of an entry when the live feed is gone for good: the store could not
    be reached again within its failover window. The subscriber's stream ends (its client
    reconnects and resumes from its cursor), rather than staying open with nothing coming.
    (An ``Entry`` numbered -1, so a deliver that does not know it drops it as already seen.)"""

    __slots__ = ()


FEED_LOST = FeedLost(-1, "", b"")

#: Called for each live event, on the subscriber's loop; ``None`` means: the live feed was
#: interrupted (the store reconnected), replay from where you are; ``FEED_LOST``: it is gone.
Deliver = Callable[[Entry | None], None]


class ChannelLog(Protocol):
    """What a store does for channels. ``MemoryStore`` and ``RedisStore`` each have one."""

    ttl: float

    @property
    def presence(self) -> PresenceLog:
        """Who reads which channel, and disconnects (``stores/presence.py``)."""
        ...

    def publish(self, channel: str, body: bytes, *, wait_replicas: int | None = None) -> Published:
        """Append ``body`` to ``channel``'s log from any thread, no event loop needed; return
        where it went. ``wait_replicas``: how many replicas must have it before this
        returns (``None``: the store's setting; a store without replicas ignores it)."""
        ...

    async def apublish(
        self, channel: str, body: bytes, *, wait_replicas: int | None = None
    ) -> Published: ...

    def listen(
        self, channels: Sequence[str], deliver: Deliver
    ) -> AbstractAsyncContextManager[Head]:
        """Deliver the events published to ``channels`` from now on, while in the block; the
        head it yields is where the log stood once listening began."""
        ...

    async def head(self) -> Head:
        """Where the log stands now."""
        ...

    def sync_head(self) -> Head:
        """``head()`` from any thread, no event loop needed (a template being rendered)."""
        ...

    async def forget_epoch(self, epoch: str) -> Head:
        """Give the log a new epoch if it still has ``epoch``, which numbers given out again
        discredit (the store went backwards: it lost its counter, or failed over to a
        replica that was behind): every cursor of ``epoch`` then gets ``reset``. Where the
        log stands after."""
        ...

    async def replay(self, channels: Sequence[str], after: int, until: int, since: int) -> Replay:
        """The entries of ``channels`` numbered ``after < seq <= until`` that are kept, in
        order, and ``lost`` when some may be gone: trimmed, or expired in a channel since
        ``since``."""
        ...
