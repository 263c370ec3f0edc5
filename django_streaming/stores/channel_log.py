"""``ChannelLog``: the interface of a store's channels, below the engine that uses it
(``channels/``) and above the backends that implement it (``backends/memory``,
``backends/redis``).

An append-only log of events per channel, each channel numbered by a sequence of its own
(1, 2, 3... with no gaps, so that a missing number is a lost event) under an epoch of its own,
which changes when the store lost the channel's counter: numbers given out again then cannot
be mistaken for the old ones. A channel is a unit of its own for the store (a Redis cluster
puts each on the master of its own slot). How a subscriber's positions in several channels are
written as one cursor, signed and checked, is the engine's business (``channels/log.py``,
``channels/signing.py``).
"""

from __future__ import annotations

import heapq
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .presence import PresenceLog

__all__ = [
    "EPOCH_LENGTH",
    "FEED_LOST",
    "MAX_SEQ",
    "ChannelLog",
    "Deliver",
    "Entry",
    "FeedLost",
    "Head",
    "Published",
    "Replay",
    "lost_numbers",
    "merged",
    "new_epoch",
    "publish_time",
]

#: The highest number a channel's sequence reaches: past it, the channel starts again at 1
#: under a new epoch (at a million events a second, after 9 years), so that a cursor's
#: positions have a bounded size.
MAX_SEQ = 2**48 - 1
#: Characters of an epoch: URL-safe base64, 32 random bits (it needs only to differ from the
#: channel's previous ones).
EPOCH_LENGTH = 6


_last_sent = 0
_sent_lock = threading.Lock()


def publish_time() -> int:
    """Now, in microseconds since the epoch, and after any earlier call in this process: what
    orders the events of different channels in a replay (``merged()``), as this process
    published them."""
    global _last_sent
    with _sent_lock:
        _last_sent = max(time.time_ns() // 1000, _last_sent + 1)
        return _last_sent


def new_epoch() -> str:
    """A new random epoch: ``EPOCH_LENGTH`` characters of URL-safe base64."""
    return secrets.token_urlsafe(4)


class Entry:
    """One stored event: its channel's sequence number and epoch, its channel, its bytes
    without an ``id:``, and ``sent``, when it was published (µs, ``publish_time()``, by the
    publisher's clock: the same for every subscriber in every process, live or replayed,
    since its cursors carry it; an entry stored without one takes the time it is read).
    ``framings`` caches the event as the engine frames it for each cursor its subscribers
    get (``channels/log.py: frame()``), so that it is framed once per cursor, not once per
    subscriber."""

    __slots__ = ("body", "channel", "epoch", "framings", "head", "published", "sent", "seq")

    def __init__(
        self, seq: int, channel: str, body: bytes, sent: int | None = None, epoch: str = ""
    ) -> None:
        self.seq = seq
        self.channel = channel
        self.body = body
        self.epoch = epoch
        # Where its channel stands once it is delivered: made once, for all its subscribers.
        self.head = Head(epoch, seq)
        # When it reached this process (wall clock), for the delivery lag; 0 once measured.
        self.published = time.time()
        self.sent = int(self.published * 1_000_000) if sent is None else sent
        # By what the engine frames it under (the subscription's channels and cursor).
        self.framings: dict[str, bytes] = {}


@dataclass(frozen=True)
class Head:
    """Where a channel stands: its epoch and the last sequence number given out (``""`` and
    0 for a channel the store keeps no counter of: never published to, or expired)."""

    epoch: str
    seq: int


@dataclass(frozen=True)
class Published:
    """Where ``publish()`` put an event: its channel's epoch, the event's sequence number, and
    when it was published (µs): what its channel's cursor is made of."""

    epoch: str
    seq: int
    sent: int


@dataclass(frozen=True)
class Replay:
    """What a reconnecting subscriber missed, in order, and the channels of which some of it
    is gone (empty when nothing is)."""

    entries: list[Entry]
    lost: frozenset[str]


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
    ) -> AbstractAsyncContextManager[dict[str, Head]]:
        """Deliver the events published to ``channels`` from now on, while in the block; the
        heads it yields are where each channel stood once listening began."""
        ...

    async def heads(self, channels: Sequence[str]) -> dict[str, Head]:
        """Where each of ``channels`` stands now."""
        ...

    def sync_heads(self, channels: Sequence[str]) -> dict[str, Head]:
        """``heads()`` from any thread, no event loop needed (a template being rendered)."""
        ...

    async def forget_epoch(self, channel: str, epoch: str) -> Head:
        """Give ``channel`` a new epoch if it still has ``epoch``, which numbers given out
        again discredit (the store went backwards: it failed over to a replica that was
        behind): every cursor of ``epoch`` then gets ``reset``. Where it stands after."""
        ...

    async def replay(self, after: Mapping[str, int], heads: Mapping[str, Head]) -> Replay:
        """The entries of each channel of ``after`` numbered ``after[channel] < seq <=
        heads[channel].seq`` that are kept, with the epoch of ``heads[channel]``: merged by
        when they were published, then by channel, each channel's in its order. ``lost``:
        the channels some of whose numbers in that span are gone (trimmed, expired,
        evicted)."""
        ...


def merged(by_channel: Mapping[str, list[Entry]]) -> list[Entry]:
    """The entries of every channel in one list, by when they were published then by channel,
    each channel's kept in its own order (publishers' clocks may disagree): the same order for
    every replay of the same entries."""
    return list(
        heapq.merge(
            *(by_channel[channel] for channel in sorted(by_channel)),
            key=lambda entry: (entry.sent, entry.channel),
        )
    )


def lost_numbers(entries: Sequence[Entry], after: int, until: int) -> bool:
    """Whether a channel's kept ``entries`` numbered ``after < seq <= until`` miss some
    numbers: its sequence has no gaps, so the first must be ``after + 1`` (a stream is trimmed
    from its start, and a key evicted or expired whole)."""
    return until > after and (not entries or entries[0].seq != after + 1)
