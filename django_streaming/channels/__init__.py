"""Channels: ``publish()`` from anywhere, and every subscriber of the channel gets the event
(``ChannelView``), on every worker with ``RedisStore``, with replay after a reconnect."""

from __future__ import annotations

from .cursors import achannel_cursor, channel_cursor
from .guard import Presence, adisconnect, apresence, disconnect, presence
from .log import validate_channel_name
from .publishing import apublish, publish
from .render import render_event
from .views import ChannelView

__all__ = [
    "ChannelView",
    "Presence",
    "achannel_cursor",
    "adisconnect",
    "apresence",
    "apublish",
    "channel_cursor",
    "disconnect",
    "presence",
    "publish",
    "render_event",
    "validate_channel_name",
]
