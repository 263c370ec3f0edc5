"""The channel log: an append-only log of events per channel, in the store, numbered by one
sequence across all of a store's channels so that one number orders any set of them.

A subscriber's cursor (the ``id:`` of each event it gets) is ``<epoch>.<sequence>.<time>``:
the store's epoch (new when the store lost its data: a Redis restarted without persistence),
the sequence number of the last event delivered, and when it was delivered (both in hex),
signed for the subscription's channels (``signing.py``). A reconnect replays every event of
its channels after that number; when some of those may be gone (the epoch changed, a channel
was trimmed past the cursor, or one expired since), or the cursor is not one the server signed
for these channels, the subscriber gets ``event: reset`` instead of a silent gap.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from .signing import CursorKey, sign_cursor

__all__ = [
    "CHANNEL_NAME",
    "ChannelLog",
    "Cursor",
    "Deliver",
    "Entry",
    "Head",
    "Replay",
    "validate_channel_name",
]

#: What a channel name may be: 1 to 200 of these characters.
CHANNEL_NAME = re.compile(r"[A-Za-z0-9_.:@-]{1,200}")
#: Cursors are sent as ``id:`` fields; EventSource sends them back as ``Last-Event-ID``
#: (which views refuse past 256 characters). Ours, signed, take 50 or so.
CURSOR_MAX_LENGTH = 256
# The fields of a cursor, strictly: the epoch as the stores make it (URL-safe base64), then
# two numbers of at most 64 bits in lowercase hex, as encode() writes them.
_CURSOR = re.compile(r"([A-Za-z0-9_-]{1,64})\.([0-9a-f]{1,16})\.([0-9a-f]{1,16})")
#: Framings of one event kept for subscriptions to different sets of channels; past this,
#: they are made again (a process whose subscribers all read different sets, say).
MAX_FRAMINGS = 16


def validate_channel_name(name: object) -> str:
    """``name``, or a ``ValueError`` saying why it cannot name a channel."""
    if not isinstance(name, str):
        raise ValueError(f"A channel name must be a str, not {type(name).__name__}.")
    if not CHANNEL_NAME.fullmatch(name):
        raise ValueError(
            f"Invalid channel name {name[:50]!r}: use 1 to 200 characters of letters, digits "
            "and _ . : @ -"
        )
    return name


class Entry:
    """One stored event: its sequence number, its channel, its bytes without an ``id:``, and
    when this process got it. Framed (with its cursor, signed, as ``id:``) once per set of
    channels that its subscribers read, not once per subscriber."""

    __slots__ = ("_framed", "body", "channel", "received", "seq")

    def __init__(self, seq: int, channel: str, body: bytes, received: int | None = None) -> None:
        self.seq = seq
        self.channel = channel
        self.body = body
        self.received = int(time.time()) if received is None else received
        # By the subscription's channels (CursorKey.channels): the epoch, and the event.
        self._framed: dict[str, tuple[str, bytes]] = {}

    def framed(self, epoch: str, key: CursorKey, tagged: bool = False) -> bytes:
        """The event as a subscriber with ``key`` gets it: its cursor as ``id:``, with
        ``tagged`` its channel as ``channel:`` (a field EventSource ignores), then the event."""
        # Tagged framings apart: a JSON list of channels never starts with "+".
        cached = "+" + key.channels if tagged else key.channels
        framed = self._framed.get(cached)
        if framed is None or framed[0] != epoch:
            if len(self._framed) >= MAX_FRAMINGS:
                self._framed.clear()
            cursor = sign_cursor(key, Cursor(epoch, self.seq, self.received).encode())
            tag = b"channel: " + self.channel.encode() + b"\n" if tagged else b""
            framed = self._framed[cached] = (
                epoch,
                b"id: " + cursor.encode() + b"\n" + tag + self.body,
            )
        return framed[1]


@dataclass(frozen=True)
class Head:
    """Where a store's log stands: its epoch and the last sequence number given out."""

    epoch: str
    seq: int


@dataclass(frozen=True)
class Replay:
    """What a reconnecting subscriber missed, in order, and whether some of it is gone."""

    entries: list[Entry]
    lost: bool


@dataclass(frozen=True)
class Cursor:
    epoch: str
    seq: int
    time: int  # seconds since the epoch, when the event was delivered

    def encode(self) -> str:
        return f"{self.epoch}.{self.seq:x}.{self.time:x}"

    @classmethod
    def now(cls, epoch: str, seq: int) -> Cursor:
        return cls(epoch, seq, int(time.time()))

    @classmethod
    def parse(cls, value: str) -> Cursor | None:
        """The cursor ``encode()`` made ``value`` from, or None for anything else (a sign, an
        underscore, a digit outside ASCII). Its MAC is checked before: ``verify_cursor()``."""
        fields = _CURSOR.fullmatch(value)
        if fields is None:
            return None
        epoch, seq, sent = fields.groups()
        return cls(epoch, int(seq, 16), int(sent, 16))


#: Called for each live event, on the subscriber's loop; ``None`` means: the live feed was
#: interrupted (the store reconnected), replay from where you are.
Deliver = Callable[[Entry | None], None]


class ChannelLog(Protocol):
    """What a store does for channels. ``MemoryStore`` and ``RedisStore`` each have one."""

    ttl: float

    def publish(self, channel: str, body: bytes) -> int:
        """Append ``body`` to ``channel``'s log from any thread, no event loop needed; return
        its sequence number."""
        ...

    async def apublish(self, channel: str, body: bytes) -> int: ...

    def listen(
        self, channels: Sequence[str], deliver: Deliver
    ) -> AbstractAsyncContextManager[Head]:
        """Deliver the events published to ``channels`` from now on, while in the block; the
        head it yields is where the log stood once listening began."""
        ...

    async def head(self) -> Head:
        """Where the log stands now."""
        ...

    async def replay(self, channels: Sequence[str], after: int, until: int, since: int) -> Replay:
        """The entries of ``channels`` numbered ``after < seq <= until`` that are kept, in
        order, and ``lost`` when some may be gone: trimmed, or expired in a channel since
        ``since``."""
        ...
