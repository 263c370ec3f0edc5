"""Channels on the in-process store: publish() from any thread to subscribers under a real
uvicorn, replay by cursor, reset, refusals, transactions."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from django.db import transaction
from django.test import override_settings

from django_streaming import Event, publish, render_event
from django_streaming.channels import publishing
from django_streaming.channels.log import Cursor, Head, validate_channel_name
from django_streaming.channels.signing import CursorKey, sign_cursor, verify_cursor
from django_streaming.channels.subscription import read_cursor
from tests.support.reader import StreamReader, data_of
from tests.support.redis_servers import shared_redis, unique_prefix
from tests.support.servers import RunningServer, uvicorn_server

STORES = {
    "memory": {"BACKEND": "django_streaming.stores.memory.MemoryStore"},
    "redis": {"BACKEND": "django_streaming.stores.redis.RedisStore"},
}


@pytest.fixture(
    scope="module",
    params=[*STORES, pytest.param("cluster", marks=[pytest.mark.redis, pytest.mark.topology])],
)
def store_setting(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "cluster":  # 3 masters with a replica each
        cluster = request.getfixturevalue("session_redis_cluster")
        url = cluster.url.replace("redis:", "redis+cluster:")
        return {
            "BACKEND": STORES["redis"]["BACKEND"],
            "OPTIONS": {"url": url, "prefix": unique_prefix()},
        }
    setting: dict[str, Any] = dict(STORES[request.param])
    if request.param == "redis":
        setting["OPTIONS"] = {"url": shared_redis(), "prefix": unique_prefix()}
    return setting


@pytest.fixture(scope="module")
def server(store_setting: dict[str, Any]) -> Iterator[RunningServer]:
    # Two events kept per channel, for the test of a cursor behind what is kept.
    streaming = {"STORE": store_setting, "CHANNELS": {"MAX_LEN": 2}}
    with override_settings(DJANGO_STREAMING=streaming), uvicorn_server() as running:
        yield running  # the server closes its loop's connections of the store


def subscribed(reader: StreamReader) -> str:
    """Wait for the opening id (the subscription is live once it is sent); return it."""
    reader.until(lambda result: "id: " in reader.body.decode())
    return reader.body.decode().split("id: ", 1)[1].split("\n", 1)[0]


def test_a_subscriber_gets_what_is_published_after_it_connected(
    server: RunningServer, token: str
) -> None:
    publish(f"{token}-a", "before")  # before it connected: not sent
    url = f"{server.url}/channels/?channel={token}-a"
    with httpx.stream("GET", url, timeout=10) as response:
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        reader = StreamReader(response)
        subscribed(reader)
        first = publish(f"{token}-a", {"n": 1})
        second = publish(f"{token}-a", "two\nlines", event="update")
        result = reader.until(lambda result: len(result.events) == 2)
    assert [(event.type, event.data) for event in result.events] == [
        ("message", '{"n":1}'),
        ("update", "two\nlines"),
    ]
    # publish() returns the id the subscriber of that channel gets for the event.
    assert [event.last_event_id for event in result.events] == [first, second]


def test_a_reconnect_gets_what_it_missed_on_each_channel_exactly_once(
    server: RunningServer, token: str
) -> None:
    a, b = f"{token}-a", f"{token}-b"
    url = f"{server.url}/channels/?channel={a}&channel={b}"
    with httpx.stream("GET", url, timeout=10) as response:
        reader = StreamReader(response)
        subscribed(reader)
        publish(a, "a1")
        last = reader.until(lambda result: len(result.events) == 1).events[-1].last_event_id
    publish(b, "b1")  # missed, on both channels
    publish(a, "a2")
    publish(f"{token}-other", "not subscribed")
    headers = {"Last-Event-ID": last}
    with httpx.stream("GET", url, headers=headers, timeout=10) as response:
        reader = StreamReader(response)
        reader.until(lambda result: len(result.events) == 2)
        publish(b, "b2")  # live again
        result = reader.until(lambda result: len(result.events) == 3)
    assert data_of(result) == ["b1", "a2", "b2"]


def test_a_reconnect_before_any_event_misses_nothing(server: RunningServer, token: str) -> None:
    url = f"{server.url}/channels/?channel={token}"
    with httpx.stream("GET", url, timeout=10) as response:
        opening = subscribed(StreamReader(response))
    publish(token, "while away")
    with httpx.stream("GET", url, headers={"Last-Event-ID": opening}, timeout=10) as response:
        assert data_of(StreamReader(response).until(lambda r: len(r.events) == 1)) == ["while away"]


@pytest.mark.parametrize("last_event_id", ["not-a-cursor", "otherepoch.1.1"])
def test_a_cursor_that_is_not_ours_gets_a_reset_first(
    server: RunningServer, token: str, last_event_id: str
) -> None:
    url = f"{server.url}/channels/?channel={token}"
    with httpx.stream("GET", url, headers={"Last-Event-ID": last_event_id}) as response:
        reader = StreamReader(response)
        reset = reader.until(lambda result: len(result.events) == 1).events[0]
        publish(token, "live")
        result = reader.until(lambda result: len(result.events) == 2)
    assert reset.type == "reset"
    assert "no longer kept" in json.loads(reset.data)["reason"]
    assert read_cursor(CursorKey([token]), reset.last_event_id) is not None
    assert data_of(result)[1] == "live"


def test_a_cursor_behind_what_is_kept_gets_a_reset(server: RunningServer, token: str) -> None:
    url = f"{server.url}/channels/?channel={token}"
    with httpx.stream("GET", url, timeout=10) as response:
        reader = StreamReader(response)
        subscribed(reader)
        publish(token, "seen")
        last = reader.until(lambda result: len(result.events) == 1).events[0].last_event_id
    for number in range(3):  # two are kept: the first of these was missed and is gone
        publish(token, f"missed {number}")
    with httpx.stream("GET", url, headers={"Last-Event-ID": last}, timeout=10) as response:
        result = StreamReader(response).until(lambda result: len(result.events) == 1)
    assert result.events[0].type == "reset"


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("", 400, "no_channels"),
        ("?channel=bad%20name", 400, "invalid_channel"),
        ("?channel=ok&channel=secret-plans", 403, "forbidden_channel"),
    ],
)
def test_refusals_are_json_errors_before_anything_streams(
    server: RunningServer, query: str, status: int, code: str
) -> None:
    response = httpx.get(f"{server.url}/channels/{query}", timeout=10)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_channels_from_the_class_and_from_the_url(server: RunningServer) -> None:
    with httpx.stream("GET", f"{server.url}/channels/order/42/", timeout=10) as response:
        reader = StreamReader(response)
        subscribed(reader)
        publish("order-41", "another order")
        publish("order-42", "shipped")
        assert data_of(reader.until(lambda result: len(result.events) == 1)) == ["shipped"]
    with httpx.stream("GET", f"{server.url}/channels/news/", timeout=10) as response:
        reader = StreamReader(response)
        subscribed(reader)
        publish("news", Event(data="<p>hi</p>", event="headline"))
        event = reader.until(lambda result: len(result.events) == 1).events[0]
    assert (event.type, event.data) == ("headline", "<p>hi</p>")


@pytest.mark.parametrize("name", ["", "a b", "x" * 201, "ü", "a/b", 7])
def test_a_bad_channel_name_is_a_value_error_saying_why(name: object) -> None:
    with pytest.raises(ValueError, match="channel name"):
        validate_channel_name(name)
    with pytest.raises(ValueError, match="channel name"):
        publish(name, "x")  # type: ignore[arg-type]


def test_an_event_with_an_id_is_refused() -> None:
    with pytest.raises(ValueError, match="without an id"):
        publish("news", Event(data="x", id="1"))


@pytest.mark.django_db(transaction=True)
def test_on_commit_publishes_only_what_commits(server: RunningServer, token: str) -> None:
    url = f"{server.url}/channels/?channel={token}"
    with httpx.stream("GET", url, timeout=10) as response:
        reader = StreamReader(response)
        subscribed(reader)
        with transaction.atomic():
            assert publish(token, "rolled back", on_commit=True) is None
            transaction.set_rollback(True)
        with transaction.atomic():
            publish(token, "committed", on_commit=True)
        assert data_of(reader.until(lambda result: len(result.events) == 1)) == ["committed"]


@override_settings(DJANGO_STREAMING={"STORE": STORES["memory"]})
def test_publishing_in_a_process_that_serves_nothing_warns_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(publishing, "served_a_request", False)
    monkeypatch.setattr(publishing, "_warned", False)
    with caplog.at_level(logging.WARNING, logger="django_streaming"):
        publish("news", "one")
        publish("news", "two")
    warnings = [record.message for record in caplog.records if "MemoryStore" in record.message]
    assert len(warnings) == 1
    assert "RedisStore" in warnings[0]


def test_render_event_sends_multi_line_html_whole() -> None:
    event = render_event("channel_fragment.html", {"items": ["a", "b"]}, event="items")
    assert event.event == "items"
    assert isinstance(event.data, str)
    assert event.data.count("\n") > 2
    assert event.encode().count(b"data: ") == event.data.count("\n") + 1
    assert "<li>a</li>" in event.data


def test_a_channel_view_needs_an_asgi_server() -> None:
    from django.core.exceptions import ImproperlyConfigured
    from django.test import Client

    with pytest.raises(ImproperlyConfigured, match="needs an ASGI server"):
        Client().get("/channels/news/")


def test_a_channel_that_is_not_a_name_is_a_400(server: RunningServer) -> None:
    response = httpx.get(f"{server.url}/channels/not-a-name/", timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_channel"


def test_a_last_event_id_longer_than_any_cursor_gets_a_reset(
    server: RunningServer, token: str
) -> None:
    """Not a cursor of ours (none is longer than 256 characters): a reset, as for any other,
    rather than a 400 its client would meet at each reconnect."""
    headers = {"Last-Event-ID": "x" * 300}
    url = f"{server.url}/channels/?channel={token}"
    with httpx.stream("GET", url, headers=headers, timeout=10) as response:
        assert response.status_code == 200
        reset = StreamReader(response).until(lambda result: len(result.events) == 1).events[0]
    assert reset.type == "reset"
    assert read_cursor(CursorKey([token]), reset.last_event_id) is not None


# <time: 6><epoch: 6><number: 8> per channel, fixed widths.
GOOD = "0000zZ" + "Ep-o_h" + "0000001f"
NOT_CURSORS = ["", GOOD[:-1], GOOD + "0", "0000zZ", GOOD + "Ep-o_h0000001"]
# Signs, spaces, separators, digits outside ASCII, a newline; a number without an epoch.
NOT_CURSORS += [GOOD[:-1] + c for c in ("+", " ", ".", "\u0663", "\n", "~")]
NOT_CURSORS += ["0000z." + GOOD[6:], "0000zZ" + "Ep!o_h" + "0000001f", "0000zZ~~~~~~00000001"]


@pytest.mark.parametrize("value", NOT_CURSORS)
def test_what_is_not_a_cursor_parses_to_none(value: str) -> None:
    assert Cursor.parse(value, 1) is None


def test_a_cursor_parses_to_its_time_and_positions() -> None:
    # 0-9, A-Z, a-z, -, _: z is 61, Z 35, f 41.
    assert Cursor.parse(GOOD, 1) == Cursor(61 * 64 + 35, (Head("Ep-o_h", 64 + 41),))
    assert Cursor.parse(GOOD, 2) is None  # positions for one channel, not two
    none_yet = "000000~~~~~~00000000" + GOOD[6:]
    assert Cursor.parse(none_yet, 2) == Cursor(0, (Head("", 0), Head("Ep-o_h", 105)))
    assert Cursor.parse(none_yet, 2).encode() == none_yet  # type: ignore[union-attr]


def test_channels_under_django_streaming_asgi(token: str) -> None:
    """Its handlers return coroutines: never run as a sync view in the request's thread."""
    from django_streaming.asgi import get_asgi_application

    with uvicorn_server(app=get_asgi_application()) as server:
        url = f"{server.url}/channels/?channel={token}"
        with httpx.stream("GET", url, timeout=10) as response:
            assert response.status_code == 200
            reader = StreamReader(response)
            subscribed(reader)
            publish(token, "through our handler")
            assert data_of(reader.until(lambda result: len(result.events) == 1)) == [
                "through our handler"
            ]


# Crafted cursors. Unsigned, a cursor was the client's to write: "<epoch>.0.<time>" replayed
# everything a channel keeps to a view without history, a negative sequence number (Redis:
# "-1" read from its first entry) did the same, and int(_, 16) took signs and underscores.
def _unsigned(cursor: str, seq: str = "00000000") -> str:
    fields = cursor.rpartition(".")[0]
    return fields[:12] + seq  # its time and epoch, then the number


def _signed_with_another_secret(cursor: str, channel: str) -> str:
    with override_settings(SECRET_KEY="another site's secret"):
        return sign_cursor(CursorKey([channel]), _unsigned(cursor))


CRAFTED_CURSORS: dict[str, Callable[[str, str, str], str]] = {
    "unsigned, from the start": lambda opening, other, channel: _unsigned(opening),
    "unsigned, a negative number": lambda opening, other, channel: _unsigned(opening, "-0000001"),
    "unsigned, an underscore": lambda opening, other, channel: _unsigned(opening, "0000_000"),
    "with the MAC of another cursor": lambda opening, other, channel: (
        _unsigned(opening) + "." + opening.rpartition(".")[2]
    ),
    "signed for another channel": lambda opening, other, channel: other,
    "signed with another SECRET_KEY": lambda opening, other, channel: _signed_with_another_secret(
        opening, channel
    ),
}


@pytest.mark.parametrize("craft", list(CRAFTED_CURSORS.values()), ids=list(CRAFTED_CURSORS))
def test_a_crafted_cursor_gets_a_reset_never_what_a_view_without_history_keeps(
    server: RunningServer, token: str, craft: Callable[[str, str, str], str]
) -> None:
    channel = f"{token}-kept"
    with httpx.stream("GET", f"{server.url}/channels/?channel={token}-other") as response:
        other = subscribed(StreamReader(response))  # signed for another channel
    url = f"{server.url}/channels/?channel={channel}"
    publish(channel, "before")  # the opening cursor then stands after it
    with httpx.stream("GET", url, timeout=10) as response:
        opening = subscribed(StreamReader(response))  # genuine: its epoch, its time
    publish(channel, "kept 0")  # kept by the channel, not sent to a new subscriber
    publish(channel, "kept 1")
    headers = {"Last-Event-ID": craft(opening, other, channel)}
    with httpx.stream("GET", url, headers=headers, timeout=10) as response:
        reader = StreamReader(response)
        reset = reader.until(lambda result: len(result.events) >= 1).events[0]
        assert (reset.type, reset.data) != ("message", "kept 0")  # replayed: the bug
        assert reset.type == "reset"
        publish(channel, "live")
        result = reader.until(lambda result: len(result.events) >= 2)
    assert [(event.type, event.data) for event in result.events][1:] == [("message", "live")]
    assert verify_cursor(CursorKey([channel]), reset.last_event_id) is not None


def test_a_cursor_resumes_its_channels_in_any_order(server: RunningServer, token: str) -> None:
    a, b = f"{token}-a", f"{token}-b"
    with httpx.stream("GET", f"{server.url}/channels/?channel={a}&channel={b}") as response:
        opening = subscribed(StreamReader(response))
    publish(b, "b1")
    headers = {"Last-Event-ID": opening}
    url = f"{server.url}/channels/?channel={b}&channel={a}"
    with httpx.stream("GET", url, headers=headers, timeout=10) as response:
        result = StreamReader(response).until(lambda result: len(result.events) == 1)
    assert [(event.type, event.data) for event in result.events] == [("message", "b1")]


def test_a_stream_of_more_channels_than_a_cursor_holds_is_a_400(
    server: RunningServer, token: str
) -> None:
    """16 channels fit in a cursor (a position each), so a stream reads at most 16, multiplexing
    or not; their cursor resumes every one of them."""
    names = [f"{token}-{number:02}" for number in range(17)]
    query = "&".join(f"channel={name}" for name in names)
    response = httpx.get(f"{server.url}/channels/?{query}", timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_many_channels"
    query = "&".join(f"channel={name}" for name in names[:16])
    with httpx.stream("GET", f"{server.url}/channels/?{query}", timeout=10) as response:
        opening = subscribed(StreamReader(response))
    assert len(opening) <= 256
    for name in names[:16]:
        publish(name, name[-2:])
    headers = {"Last-Event-ID": opening}
    with httpx.stream("GET", f"{server.url}/channels/?{query}", headers=headers) as response:
        result = StreamReader(response).until(lambda result: len(result.events) == 16)
    assert data_of(result) == [f"{number:02}" for number in range(16)]  # in publish order
    assert all(len(event.last_event_id) <= 256 for event in result.events)
