"""The ids of resumable streams and of their events: ``<stream id>:<sequence number>``."""

from __future__ import annotations

import secrets

__all__ = ["event_id", "new_stream_id", "parse_event_id"]

# Stream ids are URL-safe base64, which never holds this.
ID_SEPARATOR = ":"


def new_stream_id() -> str:
    """An unguessable id: 144 random bits."""
    return secrets.token_urlsafe(18)


def event_id(stream_id: str, seq: int) -> str:
    return f"{stream_id}{ID_SEPARATOR}{seq}"


def parse_event_id(value: str) -> tuple[str, int] | None:
    """``(stream id, sequence number)`` from an event id we sent, or None."""
    stream_id, separator, seq = value.rpartition(ID_SEPARATOR)
    if not separator or not stream_id or not seq.isdigit() or not seq.isascii():
        return None
    return stream_id, int(seq)
