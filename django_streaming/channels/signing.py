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

import functools
import hashlib
import json
from base64 import urlsafe_b64encode
from collections.abc import Iterable
from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.crypto import constant_time_compare, salted_hmac

__all__ = ["CursorKey", "sign_cursor", "verify_cursor"]

#: Ours alone: a key derived for another purpose from the same ``SECRET_KEY`` never matches.
CURSOR_SALT = "django_streaming.channels.cursor"
# 12 bytes of MAC, 96 bits: 16 characters of URL-safe base64, without padding.
MAC_BYTES = 12
#: Characters of a cursor's MAC.
MAC_LENGTH = 16
# Before the MAC, which follows the last one: URL-safe base64 never holds it.
MAC_SEPARATOR = "."
#: Sets of channels whose keys are kept, shared by their subscriptions (``CursorKey.of()``).
SHARED_KEYS = 1024


class CursorKey:
    """The MAC key of a subscription to ``channels``: HMAC-SHA256 of the set under
    ``SECRET_KEY`` (or ``secret``) and our salt (``salted_hmac()``), so each set of channels
    has a key of its own. Each cursor is then signed with keyed BLAKE2b under it: a copy of
    the keyed state, a microsecond, where an HMAC costs twice that."""

    __slots__ = ("_mac", "channels", "names")

    def __init__(self, channels: Iterable[str], *, secret: str | None = None) -> None:
        #: The channels, sorted: the order of a cursor's positions.
        self.names = tuple(sorted(set(channels)))
        #: The channels in one string, the same for any order (JSON: no two sets give the
        #: same): what a framed event is cached under, for the subscribers of the same set.
        self.channels = json.dumps(self.names, separators=(",", ":"))
        key = salted_hmac(CURSOR_SALT, self.channels, secret=secret, algorithm="sha256")
        self._mac = hashlib.blake2b(key=key.digest(), digest_size=MAC_BYTES)

    @classmethod
    def of(cls, channels: Iterable[str]) -> CursorKey:
        """The key of a subscription to ``channels``, shared by every subscription to the same
        set: derived once per set (it takes 12 µs), and the set's framings of an event are
        found by identity."""
        return _shared_key(tuple(sorted(set(channels))))

    def mac(self, cursor: str) -> str:
        mac = self._mac.copy()
        mac.update(cursor.encode())
        return urlsafe_b64encode(mac.digest()).decode()


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


@functools.lru_cache(maxsize=SHARED_KEYS)
def _shared_key(channels: tuple[str, ...]) -> CursorKey:
    return CursorKey(channels)


@receiver(setting_changed)
def _forget_shared_keys(*, setting: str, **kwargs: Any) -> None:
    if setting == "SECRET_KEY":
        _shared_key.cache_clear()
