"""``channel_cursor()`` and ``achannel_cursor()``: where a set of channels stands now, as a
cursor a page rendered now hands to its ``EventSource`` (``?since=``), so that it gets exactly
what is published after the render: no gap before it connects, nothing from before."""

from __future__ import annotations

from collections.abc import Iterable

from django_streaming.stores import get_store

from .log import MAX_CHANNELS, validate_channel_name
from .signing import CursorKey
from .subscription import cursor_now

__all__ = ["achannel_cursor", "channel_cursor"]


def channel_cursor(channels: str | Iterable[str]) -> str:
    """The cursor of ``channels`` (a name, or several, in any order) now: valid as
    ``Last-Event-ID`` or ``?since=`` for a ``ChannelView`` that serves exactly these channels,
    which then sends what is published to them from now on. Callable from any thread, no event
    loop needed (a sync view, a template: ``{% channel_cursor %}``)."""
    key = CursorKey.of(_names(channels))
    return cursor_now(key, get_store().channel_log.sync_heads(key.names))


async def achannel_cursor(channels: str | Iterable[str]) -> str:
    """``channel_cursor()`` for async code: the same, without blocking the event loop."""
    key = CursorKey.of(_names(channels))
    return cursor_now(key, await get_store().channel_log.heads(key.names))


def _names(channels: str | Iterable[str]) -> list[str]:
    names = [channels] if isinstance(channels, str) else list(channels)
    if not names:
        raise ValueError("A cursor is of one channel or more: none given.")
    if len(set(names)) > MAX_CHANNELS:
        raise ValueError(
            f"A cursor holds at most {MAX_CHANNELS} channels (a subscription reads no more), "
            f"not {len(set(names))}."
        )
    return [validate_channel_name(name) for name in names]
