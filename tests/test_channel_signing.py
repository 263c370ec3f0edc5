"""Signed cursors (``channels/signing.py``): a cursor verifies for the channels it was issued
for and nothing else, and each event is framed once per set of channels its subscribers read."""

from __future__ import annotations

import asyncio
import time

import pytest
from django.test import override_settings

from django_streaming.backends.memory import MemoryChannelLog
from django_streaming.channels import log as channel_log
from django_streaming.channels.log import (
    CURSOR_MAX_LENGTH,
    MAX_CHANNELS,
    TIME_WIDTH,
    Cursor,
    Head,
)
from django_streaming.channels.signing import MAC_LENGTH, CursorKey, sign_cursor, verify_cursor
from django_streaming.channels.subscription import read_cursor, subscribe
from django_streaming.stores.channel_log import EPOCH_LENGTH, MAX_SEQ
from tests.support.sse_parser import parse


def test_a_cursor_verifies_for_its_channels_in_any_order_and_for_no_others() -> None:
    cursor = Cursor(int(time.time()), (Head("epoch-", 42), Head("", 0))).encode()
    signed = sign_cursor(CursorKey(["a", "b"]), cursor)
    assert len(signed) == len(cursor) + 1 + MAC_LENGTH
    assert verify_cursor(CursorKey(["b", "a", "b"]), signed) == cursor
    for others in (["a"], ["b"], ["a", "b", "c"], ["a,b"], ["ab"]):
        assert verify_cursor(CursorKey(others), signed) is None


def test_a_cursor_signed_with_another_secret_key_does_not_verify() -> None:
    cursor = Cursor(int(time.time()), (Head("epoch-", 42), Head("", 0))).encode()
    with override_settings(SECRET_KEY="another site's secret"):
        elsewhere = sign_cursor(CursorKey(["a"]), cursor)
    assert verify_cursor(CursorKey(["a"]), elsewhere) is None
    assert verify_cursor(CursorKey(["a"]), sign_cursor(CursorKey(["a"]), cursor)) == cursor


def test_subscriptions_to_one_set_share_its_key_until_the_secret_key_changes() -> None:
    shared = CursorKey.of(["a", "b"])
    assert CursorKey.of(["b", "a", "a"]) is shared
    signed = sign_cursor(shared, "epoch.1.1")
    with override_settings(SECRET_KEY="another site's secret"):
        assert verify_cursor(CursorKey.of(["a", "b"]), signed) is None
    assert verify_cursor(CursorKey.of(["a", "b"]), signed) == "epoch.1.1"


def test_a_cursor_changed_anywhere_does_not_verify() -> None:
    key = CursorKey(["a"])
    signed = sign_cursor(key, Cursor(0x1234, (Head("epoch-", 0x42),)).encode())
    for at, character in enumerate(signed):
        for other in {"0", "1", "A", "-", "."} - {character}:
            assert verify_cursor(key, signed[:at] + other + signed[at + 1 :]) is None
    for changed in (signed[:-1], signed + "A", signed.replace(".", "", 1), "", "."):
        assert verify_cursor(key, changed) is None


def test_the_longest_cursor_fits_in_a_last_event_id() -> None:
    """The most channels, each at the highest number, at the latest time: within 256
    characters; one channel more would not be."""
    assert MAX_CHANNELS == 16
    channels = [f"{number:02}" + "x" * 198 for number in range(MAX_CHANNELS)]
    highest = Head("_" * EPOCH_LENGTH, MAX_SEQ)
    longest = Cursor(64**TIME_WIDTH - 1, (highest,) * MAX_CHANNELS)
    signed = sign_cursor(CursorKey(channels), longest.encode())
    assert len(signed) == 247 <= CURSOR_MAX_LENGTH
    assert read_cursor(CursorKey(channels), signed) == longest
    one_more = Cursor(64**TIME_WIDTH - 1, (highest,) * (MAX_CHANNELS + 1))
    assert len(sign_cursor(CursorKey(["x"]), one_more.encode())) > CURSOR_MAX_LENGTH
    with pytest.raises(ValueError, match="does not fit"):
        Cursor(64**TIME_WIDTH, (highest,)).encode()


async def test_an_event_is_framed_once_per_set_of_channels_not_once_per_subscriber() -> None:
    log = MemoryChannelLog(max_len=10, ttl=60)
    sets = [["x"], ["x"], ["x"], ["y", "x"], ["x", "y"]]
    streams = [subscribe(log, channels, None) for channels in sets]
    for stream in streams:
        await asyncio.wait_for(anext(stream), 5)  # subscribed
    log.publish("x", b"data: once\n\n")
    chunks = [await asyncio.wait_for(anext(stream), 5) for stream in streams]
    [entry] = log._channels["x"].entries
    assert len(entry.framings) == 2  # two framings for five subscribers, at one cursor each
    assert chunks[0] == chunks[1] == chunks[2] != chunks[3] == chunks[4]
    for channels, chunk in zip(sets, chunks, strict=True):
        [event] = parse(chunk).events
        assert event.data == "once"
        cursor = read_cursor(CursorKey(channels), event.last_event_id)
        assert cursor is not None
        assert entry.seq in [position.seq for position in cursor.positions]
    for stream in streams:
        await stream.aclose()


async def test_framings_past_the_bound_are_made_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(channel_log, "MAX_FRAMINGS", 2)
    log = MemoryChannelLog(max_len=10, ttl=60)
    sets = [["x"], ["x", "a"], ["x", "b"], ["x"]]
    streams = [subscribe(log, channels, None) for channels in sets]
    for stream in streams:
        await asyncio.wait_for(anext(stream), 5)
    log.publish("x", b"data: each\n\n")
    for channels, stream in zip(sets, streams, strict=True):
        [event] = parse(await asyncio.wait_for(anext(stream), 5)).events
        assert read_cursor(CursorKey(channels), event.last_event_id) is not None
        await stream.aclose()
    [entry] = log._channels["x"].entries
    assert len(entry.framings) <= 2
