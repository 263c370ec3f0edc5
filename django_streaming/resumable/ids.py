"""The ids of resumable streams and of their events: ``<stream id>:<sequence number>``.

Both come back from clients (``Last-Event-ID``, the stop URL), so they are checked here,
before any store sees them: a stream id has exactly the shape ``new_stream_id()`` makes, and a
sequence number is ASCII digits up to ``MAX_SEQUENCE``. A store never gets a key it did not
make (``<id>:events`` as a stream id would name another of its keys in Redis), nor a number
that its own ids cannot hold.
"""

from __future__ import annotations

import re
import secrets

__all__ = ["MAX_SEQUENCE", "event_id", "is_stream_id", "new_stream_id", "parse_event_id"]

# Stream ids are URL-safe base64, which never holds this.
ID_SEPARATOR = ":"
# 18 random bytes are 24 characters of URL-safe base64, without padding.
STREAM_ID_BYTES = 18
_STREAM_ID = re.compile(r"[A-Za-z0-9_-]{24}")
#: The largest sequence number an event id may carry: well within what a Redis stream id
#: holds (``0-<n>``, ``n`` a 64-bit unsigned integer), and within a signed 64-bit integer too.
#: A stream would need a million events a second for 290,000 years to get there.
MAX_SEQUENCE = 2**63 - 1
_MAX_SEQUENCE_DIGITS = len(str(MAX_SEQUENCE))


def new_stream_id() -> str:
    """An unguessable id: 144 random bits."""
    return secrets.token_urlsafe(STREAM_ID_BYTES)


def is_stream_id(value: str) -> bool:
    """Whether ``value`` has the shape of an id ``new_stream_id()`` makes."""
    return _STREAM_ID.fullmatch(value) is not None


def event_id(stream_id: str, seq: int) -> str:
    return f"{stream_id}{ID_SEPARATOR}{seq}"


def parse_event_id(value: str) -> tuple[str, int] | None:
    """``(stream id, sequence number)`` from an event id we could have sent, or None."""
    stream_id, separator, seq = value.partition(ID_SEPARATOR)
    if not separator or not is_stream_id(stream_id):
        return None
    # The length first: int() of thousands of digits is slow, or a ValueError.
    if len(seq) > _MAX_SEQUENCE_DIGITS or not seq.isascii() or not seq.isdigit():
        return None
    number = int(seq)
    return (stream_id, number) if number <= MAX_SEQUENCE else None
