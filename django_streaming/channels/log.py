"""The channel log as the engine sees it. The log itself (an append-only log of events per
channel, in the store, each channel numbered by a sequence and an epoch of its own) is an
interface of the store layer, ``django_streaming.stores.channel_log``, re-exported here; this
module adds what the engine makes of it: channel names, cursors, and each event framed with
its signed cursor.

A subscriber's cursor (the ``id:`` of each event it gets) holds its position in each of its
channels, in the order of their sorted names: that channel's epoch (new when the store lost
the channel's counter) and the number of the last event of it delivered; and one time, when
the event it came with was published (for a cursor that is no event's, such as the opening
one, when it was made). All of it in fixed-width fields of URL-safe characters, signed for the
subscription's channels (``signing.py``):

    <time: 6> (<epoch: 6><sequence: 8>)... .<MAC: 16>

so at most ``MAX_CHANNELS`` (16) channels fit in the 256 characters of a ``Last-Event-ID``
(``CURSOR_MAX_LENGTH``): 6 + 16 * 14 + 1 + 16 = 247. Numbers are written in base 64
(``0-9A-Za-z-_``): a time up to 2^36 seconds (the year 4147), a sequence up to 2^48 - 1
(``MAX_SEQ``). A channel the store keeps no counter of has the epoch ``~~~~~~`` and number 0.

An event's cursor is thus the same for every subscriber of that channel alone, and
``publish()`` can return it (``published_id()``); a subscriber of several channels gets, with
each event, its positions in the others too. A reconnect replays every event of each channel
after its position; when some of those may be gone (a channel's epoch changed, it was trimmed
past the cursor, or it expired since), or the cursor is not one the server signed for these
channels, the subscriber gets ``event: reset`` instead of a silent gap.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

from django_streaming.stores.channel_log import (
    EPOCH_LENGTH,
    MAX_SEQ,
    ChannelLog,
    Deliver,
    Entry,
    Head,
    Published,
    Replay,
)

from .signing import MAC_LENGTH, CursorKey, sign_cursor

__all__ = [
    "CHANNEL_NAME",
    "MAX_CHANNELS",
    "ChannelLog",
    "Cursor",
    "Deliver",
    "Entry",
    "Head",
    "Positions",
    "Published",
    "Replay",
    "frame",
    "published_id",
    "validate_channel_name",
]

#: What a channel name may be: 1 to 200 of these characters.
CHANNEL_NAME = re.compile(r"[A-Za-z0-9_.:@-]{1,200}")
#: Cursors are sent as ``id:`` fields; EventSource sends them back as ``Last-Event-ID``
#: (which views refuse past 256 characters).
CURSOR_MAX_LENGTH = 256
# Base 64 digits, in the order of their values: small numbers look like numbers.
_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_"
_VALUES = {digit: value for value, digit in enumerate(_DIGITS)}
#: Characters of a cursor's time, and of each position's sequence number.
TIME_WIDTH = 6
SEQ_WIDTH = 8
#: The epoch written for a channel the store keeps no counter of.
NO_EPOCH = "~" * EPOCH_LENGTH
#: The most channels one subscription may read: the most positions a signed cursor holds
#: within ``CURSOR_MAX_LENGTH``, with its time, the MAC and its separator.
MAX_CHANNELS = (CURSOR_MAX_LENGTH - TIME_WIDTH - 1 - MAC_LENGTH) // (EPOCH_LENGTH + SEQ_WIDTH)
# A cursor's fields, strictly: as encode() writes them.
_TIME = re.compile(rf"[{re.escape(_DIGITS)}]{{{TIME_WIDTH}}}")
_POSITION = re.compile(
    rf"([A-Za-z0-9_-]{{{EPOCH_LENGTH}}}|{re.escape(NO_EPOCH)})([{re.escape(_DIGITS)}]{{{SEQ_WIDTH}}})"
)
#: Framings of one event kept for subscriptions with different cursors (a process whose
#: subscribers read different sets of channels, say); past this, they are made again.
MAX_FRAMINGS = 16

assert len(_DIGITS) ** SEQ_WIDTH - 1 == MAX_SEQ


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


def frame(entry: Entry, positions: Positions, tagged: bool = False) -> bytes:
    """``entry`` as a subscriber at ``positions`` (advanced to it) gets it: its cursor as
    ``id:``, with ``tagged`` its channel as ``channel:`` (a field EventSource ignores), then
    the event; made once per cursor, cached on the entry (the subscribers of that channel
    alone all get the same one)."""
    key = positions.key
    # Tagged framings apart: a JSON list of channels never starts with "+".
    cached = "+" + key.channels if tagged else key.channels
    cursor = None
    if len(key.names) > 1:  # the positions in the other channels differ between subscribers
        cursor = positions.cursor(entry.sent // 1_000_000)
        cached += cursor
    framed = entry.framings.get(cached)
    if framed is None:
        if len(entry.framings) >= MAX_FRAMINGS:
            entry.framings.clear()
        signed = sign_cursor(key, cursor or positions.cursor(entry.sent // 1_000_000))
        tag = b"channel: " + entry.channel.encode() + b"\n" if tagged else b""
        framed = entry.framings[cached] = b"id: " + signed.encode() + b"\n" + tag + entry.body
    return framed


def published_id(channel: str, published: Published) -> str:
    """The ``id:`` a subscriber of ``channel`` alone gets for the event ``published``: what
    ``frame()`` makes of it for the key of that one channel."""
    cursor = Cursor(published.sent // 1_000_000, (Head(published.epoch, published.seq),))
    return sign_cursor(CursorKey.of([channel]), cursor.encode())


def _number(value: int, width: int) -> str:
    digits = []
    for _ in range(width):
        value, digit = divmod(value, 64)
        digits.append(_DIGITS[digit])
    if value:
        raise ValueError(f"{value} does not fit in {width} digits")
    return "".join(reversed(digits))


def _value(digits: str) -> int:
    value = 0
    for digit in digits:
        value = value * 64 + _VALUES[digit]
    return value


def _position(head: Head) -> str:
    return (head.epoch or NO_EPOCH) + _number(head.seq, SEQ_WIDTH)


@dataclass(frozen=True)
class Cursor:
    time: int  # seconds since the epoch: when its event was published (or it was made)
    positions: tuple[Head, ...]  # in each channel, in the order of their sorted names

    def encode(self) -> str:
        return _number(self.time, TIME_WIDTH) + "".join(map(_position, self.positions))

    @classmethod
    def now(cls, positions: tuple[Head, ...]) -> Cursor:
        return cls(int(time.time()), positions)

    @classmethod
    def parse(cls, value: str, channels: int) -> Cursor | None:
        """The cursor ``encode()`` made ``value`` from, with positions in ``channels``
        channels, or None for anything else. Its MAC is checked before: ``verify_cursor()``."""
        width = EPOCH_LENGTH + SEQ_WIDTH
        if len(value) != TIME_WIDTH + channels * width or not _TIME.fullmatch(value, 0, 6):
            return None
        positions = []
        for start in range(TIME_WIDTH, len(value), width):
            fields = _POSITION.fullmatch(value, start, start + width)
            if fields is None:
                return None
            epoch, seq = fields.groups()
            number = _value(seq)  # at most MAX_SEQ: 8 digits of base 64
            if epoch == NO_EPOCH and number:
                return None
            positions.append(Head("" if epoch == NO_EPOCH else epoch, number))
        return cls(_value(value[:TIME_WIDTH]), tuple(positions))


class Positions:
    """A subscription's position in each of its channels (``Head``s), in the order of its
    key's names, with each one's encoding kept for its cursors (made when one is asked for:
    a subscriber of one channel gets the cursor its event's framing already holds)."""

    __slots__ = ("_encoded", "_heads", "_index", "key")

    def __init__(self, key: CursorKey, heads: Mapping[str, Head]) -> None:
        self.key = key
        self._index = {name: index for index, name in enumerate(key.names)}
        self._heads = [heads[name] for name in key.names]
        self._encoded: list[str | None] = [None] * len(self._heads)

    def __getitem__(self, channel: str) -> Head:
        return self._heads[self._index[channel]]

    def items(self) -> list[tuple[str, Head]]:
        return list(zip(self.key.names, self._heads, strict=True))

    def step(self, entry: Entry) -> Head | None:
        """Advance to ``entry`` when it is the next of its channel (the next number, or the
        first of a new epoch), returning the position it leaves; else None."""
        index = self._index[entry.channel]
        head = self._heads[index]
        if entry.seq != (head.seq + 1 if entry.epoch == head.epoch else 1):
            return None
        self._heads[index] = entry.head
        self._encoded[index] = None
        return head

    def advance(self, channel: str, head: Head) -> None:
        index = self._index[channel]
        self._heads[index] = head
        self._encoded[index] = None

    def cursor(self, sent: int) -> str:
        """The cursor (unsigned) at these positions, with the time ``sent`` (seconds)."""
        encoded = self._encoded
        parts = [_number(sent, TIME_WIDTH)]
        for index, head in enumerate(self._heads):
            part = encoded[index]
            if part is None:
                part = encoded[index] = _position(head)
            parts.append(part)
        return "".join(parts)

    def signed_now(self) -> str:
        return sign_cursor(self.key, self.cursor(int(time.time())))
