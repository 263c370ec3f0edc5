"""Multiplexing ``ChannelView``: a client picks some of a view's channels in the query, each
event names its channel, and what cannot be read is a 4xx JSON error, never a 500."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from django.test import override_settings

from django_streaming import publish
from tests.support.reader import StreamReader
from tests.support.servers import RunningServer, uvicorn_server

MEMORY = {"BACKEND": "django_streaming.stores.memory.MemoryStore"}


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with override_settings(DJANGO_STREAMING={"STORE": MEMORY}), uvicorn_server() as running:
        yield running


def tagged_events(body: bytes) -> list[tuple[str | None, str]]:
    """(channel, data) of each event with data: the ``channel:`` field a WHATWG parser skips."""
    events = []
    for block in body.decode().split("\n\n"):
        fields = [line.partition(": ") for line in block.split("\n")]
        data = [value for name, _, value in fields if name == "data"]
        channel = [value for name, _, value in fields if name == "channel"]
        if data:
            events.append((channel[0] if channel else None, "\n".join(data)))
    return events


def opening_id(reader: StreamReader) -> str:
    reader.until(lambda result: "id: " in reader.body.decode())
    return reader.body.decode().split("id: ", 1)[1].split("\n", 1)[0]


def test_each_event_of_a_multiplexed_stream_names_its_channel(
    server: RunningServer, token: str
) -> None:
    a, b, c = f"{token}-a", f"{token}-b", f"{token}-c"
    url = f"{server.url}/channels/mux/{token}/?channel={a}&channel={b}&channel={a}"
    with httpx.stream("GET", url, timeout=10) as response:
        reader = StreamReader(response)
        opening_id(reader)
        publish(a, "one")
        publish(c, "not asked for")
        publish(b, "two\nlines", event="update")
        reader.until(lambda result: len(result.events) == 2)
        last = reader.until(lambda result: len(result.events) == 2).events[0].last_event_id
    assert tagged_events(reader.body) == [(a, "one"), (b, "two\nlines")]
    publish(b, "missed")
    with httpx.stream("GET", url, headers={"Last-Event-ID": last}, timeout=10) as response:
        replay = StreamReader(response)
        replay.until(lambda result: len(result.events) == 2)
    assert tagged_events(replay.body) == [(b, "two\nlines"), (b, "missed")]


def test_a_channel_view_that_does_not_multiplex_names_no_channel(
    server: RunningServer, token: str
) -> None:
    url = f"{server.url}/channels/?channel={token}"
    with httpx.stream("GET", url, timeout=10) as response:
        reader = StreamReader(response)
        opening_id(reader)
        publish(token, "plain")
        reader.until(lambda result: len(result.events) == 1)
    assert tagged_events(reader.body) == [(None, "plain")]


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("", 400, "too_many_channels"),  # all five of the view's channels: past its three
        ("?channel={t}-a&channel={t}-b&channel={t}-c&channel={t}-d", 400, "too_many_channels"),
        ("?channel={t}-a&channel={t}-e", 404, "unknown_channel"),
        ("?channel=other-a", 404, "unknown_channel"),
        ("?channel=bad%20name", 404, "unknown_channel"),
        ("?channel=" + "x" * 5000, 404, "unknown_channel"),
        ("?channel={t}-a&channel={t}-secret", 403, "forbidden_channel"),
    ],
)
def test_what_a_multiplexing_view_cannot_give_is_a_json_error(
    server: RunningServer, token: str, query: str, status: int, code: str
) -> None:
    url = f"{server.url}/channels/mux/{token}/{query.format(t=token)}"
    response = httpx.get(url, timeout=10)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert len(error["message"]) < 300
