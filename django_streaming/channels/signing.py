"""Cursors the server issued: each carries a MAC over its fields and over the channels of the
subscription it was issued for.

A cursor comes back as ``Last-Event-ID``, from the client. Unsigned, a client could write its
own (``<epoch>.0.<time>``: everything a channel keeps, on a view without ``history``), or send
one issued for other channels. Signed, a cursor that does not verify is not ours and gets
``event: reset``, never a replay.

The MAC is apart from the cursor's format (``log.Cursor``): ``sign_cursor()`` appends it to
whatever text a cursor encodes to, and ``verify_cursor()`` gives that text back, or None.
"""

from __future__ import annotations

import json
from base64 import urlsafe_b64encode
from collections.abc import Iterable

from django.utils.crypto import constant_time_compare, salted_hmac

__all__ = ["CursorKey", "sign_cursor", "verify_cursor"]

#: Ours alone: a MAC made for another purpose with the same ``SECRET_KEY`` never verifies.
CURSOR_SALT = "django_streaming.channels.cursor"
#: Characters of URL-safe base64 kept of the HMAC-SHA256: 96 bits.
MAC_LENGTH = 16
# Before the MAC, which follows the last one: URL-safe base64 never holds it.
MAC_SEPARATOR = "."


class CursorKey:
    """The MAC key of one subscription: ``SECRET_KEY``, our salt, and its channels. Made once
    per subscription (deriving it is the costly part); each cursor then costs a copy of it."""

    __slots__ = ("_mac", "channels")

    def __init__(self, channels: Iterable[str]) -> None:
        #: The subscription's channels in one string, the same for any order (JSON: no two
        #: sets give the same): what a framed event is cached under, for the subscribers of
        #: the same channels.
        self.channels = json.dumps(sorted(set(channels)), separators=(",", ":"))
        # The channels first, then (per cursor) a newline, which JSON escapes, and the cursor.
        self._mac = salted_hmac(CURSOR_SALT, self.channels + "\n", algorithm="sha256")

    def mac(self, cursor: str) -> str:
        mac = self._mac.copy()
        mac.update(cursor.encode())
        return urlsafe_b64encode(mac.digest())[:MAC_LENGTH].decode()


def sign_cursor(key: CursorKey, cursor: str) -> str:
    """``cursor`` with its MAC under ``key``: what the client gets as ``id:``."""
    return f"{cursor}{MAC_SEPARATOR}{key.mac(cursor)}"


def verify_cursor(key: CursorKey, value: str) -> str | None:
    """The cursor ``value`` holds, if the server signed it under ``key`` (the same channels),
    else None."""
    cursor, separator, mac = value.rpartition(MAC_SEPARATOR)
    if not separator or len(mac) != MAC_LENGTH:
        return None
    return cursor if constant_time_compare(mac, key.mac(cursor)) else None
