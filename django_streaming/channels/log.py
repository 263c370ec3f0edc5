"""The channel log as the engine sees it. The log itself (an append-only log of events per
channel, in the store, numbered by one sequence across all of a store's channels so that one
number orders any set of them) is an interface of the store layer,
``django_streaming.stores.channel_log``, re-exported here; this module adds what the engine
makes of it: channel names, cursors, and each event framed with its signed cursor.

A subscriber's cursor (the ``id:`` of each event it gets) is ``<epoch>.<sequence>.<time>``:
the store's epoch (new when the store lost its data: a Redis restarted without persistence),
the sequence number of the last event delivered, and when that event was published (both in
hex; for a cursor that is no event's, such as the opening one, the time it was made), signed
for the subscription's channels (``signing.py``). An event's cursor is thus the same for every
subscriber of the same channels, and ``publish()`` can return it (``published_id()``). A
reconnect replays every event of its channels after that number; when some of those may be
gone (the epoch changed, a channel was trimmed past the cursor, or one expired since), or the
cursor is not one the server signed for these channels, the subscriber gets ``event: reset``
instead of a silent gap.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from django_streaming.stores.channel_log import (
    ChannelLog,
    Deliver,
    Entry,
    Head,
    Published,
    Replay,
)

from .signing import CursorKey, sign_cursor

__all__ = [
    "CHANNEL_NAME",
    "ChannelLog",
    "Cursor",
    "Deliver",
    "Entry",
    "Head",
    "Published",
    "Replay",
    "frame",
    "published_id",
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


def frame(entry: Entry, epoch: str, key: CursorKey, tagged: bool = False) -> bytes:
    """``entry`` as a subscriber with ``key`` gets it: its cursor as ``id:``, with ``tagged``
    its channel as ``channel:`` (a field EventSource ignores), then the event; made once per
    set of channels (and epoch), cached on the entry."""
    # Tagged framings apart: a JSON list of channels never starts with "+".
    cached = "+" + key.channels if tagged else key.channels
    framed = entry.framings.get(cached)
    if framed is None or framed[0] != epoch:
        if len(entry.framings) >= MAX_FRAMINGS:
            entry.framings.clear()
        cursor = sign_cursor(key, Cursor(epoch, entry.seq, entry.sent).encode())
        tag = b"channel: " + entry.channel.encode() + b"\n" if tagged else b""
        framed = entry.framings[cached] = (
            epoch,
            b"id: " + cursor.encode() + b"\n" + tag + entry.body,
        )
    return framed[1]


def published_id(channel: str, published: Published) -> str:
    """The ``id:`` a subscriber of ``channel`` alone gets for the event ``published``: what
    ``frame()`` makes of it for the key of that one channel."""
    cursor = Cursor(published.epoch, published.seq, published.sent)
    return sign_cursor(CursorKey.of([channel]), cursor.encode())


@dataclass(frozen=True)
class Cursor:
    epoch: str
    seq: int
    time: int  # seconds since the epoch: when its event was published (or it was made)

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
