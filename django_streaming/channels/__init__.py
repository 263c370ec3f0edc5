"""Channels: ``publish()`` from anywhere, and every subscriber of the channel gets the event
(``ChannelView``), on every worker with ``RedisStore``, with replay after a reconnect."""

from __future__ import annotations

from .cursors import achannel_cursor, channel_cursor
from .log import validate_channel_name
from .publishing import apublish, publish
from .render import render_event
from .views import ChannelView

__all__ = [
    "ChannelView",
    "achannel_cursor",
    "apublish",
    "channel_cursor",
    "publish",
    "render_event",
    "validate_channel_name",
]
