"""A cursor at render time: ``channel_cursor()`` (and its template tag) in a page, then
``?since=`` on the stream, on the in-process store and on Redis under a real uvicorn; and the
id ``publish()`` returns, as every subscriber of its channel gets it, live or replayed."""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import redis
from django.template import Context, Template
from django.test import override_settings

from django_streaming import achannel_cursor, apublish, channel_cursor, publish
from django_streaming.backends.memory import MemoryChannelLog
from django_streaming.backends.redis import RedisStore
from django_streaming.channels.log import ChannelLog, Cursor, Head, published_id
from django_streaming.channels.signing import CursorKey, sign_cursor
from django_streaming.channels.subscription import read_cursor, subscribe
from django_streaming.stores import StoreUnavailable, get_store
from tests.support.reader import StreamReader, data_of
from tests.support.redis_servers import shared_redis, unique_prefix
from tests.support.servers import RunningServer, uvicorn_server
from tests.support.sse_parser import parse

STORES = {
    "memory": {"BACKEND": "django_streaming.stores.memory.MemoryStore"},
    "redis": {"BACKEND": "django_streaming.stores.redis.RedisStore"},
}


@pytest.fixture(scope="module", params=list(STORES))
def server(request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    setting: dict[str, Any] = dict(STORES[request.param])
    if request.param == "redis":
        setting["OPTIONS"] = {"url": shared_redis(), "prefix": unique_prefix()}
    # Two events kept per channel, for the test of a cursor behind what is kept.
    streaming = {"STORE": setting, "CHANNELS": {"MAX_LEN": 2}}
    with override_settings(DJANGO_STREAMING=streaming), uvicorn_server() as running:
        yield running


def rendered_cursor(server: RunningServer, *channels: str) -> str:
    """The cursor a page of the server puts in, rendered with ``{% channel_cursor %}``."""
    query = "&".join(f"channel={channel}" for channel in channels)
    page = httpx.get(f"{server.url}/channels/page/?{query}", timeout=10)
    assert page.status_code == 200
    found = re.search(r'data-since="([^"]+)"', page.text)
    assert found is not None, page.text
    return found.group(1)


def test_a_page_gets_what_was_published_after_its_render_once_and_nothing_before(
    server: RunningServer, token: str
) -> None:
    a, b = f"{token}-a", f"{token}-b"
    publish(a, "before the render")
    since = rendered_cursor(server, b, a)  # in any order
    publish(b, "between 1")  # between the render and the connection
    publish(a, "between 2")
    url = f"{server.url}/channels/?channel={a}&channel={b}&since={since}"
    with httpx.stream("GET", url, timeout=10) as response:
        reader = StreamReader(response)
        reader.until(lambda result: len(result.events) == 2)
        publish(a, "after")
        result = reader.until(lambda result: len(result.events) == 3)
    assert data_of(result) == ["between 1", "between 2", "after"]
    # The EventSource reconnects to the same URL with its Last-Event-ID, which wins.
    publish(b, "while away")
    headers = {"Last-Event-ID": result.events[1].last_event_id}
    with httpx.stream("GET", url, headers=headers, timeout=10) as response:
        reader = StreamReader(response)
        assert data_of(reader.until(lambda r: len(r.events) == 2)) == ["after", "while away"]


def test_a_multiplexed_view_takes_the_cursor_of_the_channels_it_is_asked_for(
    server: RunningServer, token: str
) -> None:
    a, c = f"{token}-a", f"{token}-c"
    since = rendered_cursor(server, c, a)
    publish(a, "between")
    publish(f"{token}-b", "not asked for")
    url = f"{server.url}/channels/mux/{token}/?channel={a}&channel={c}&since={since}"
    with httpx.stream("GET", url, timeout=10) as response:
        reader = StreamReader(response)
        reader.until(lambda result: len(result.events) == 1)
        publish(c, "after")
        result = reader.until(lambda result: len(result.events) == 2)
    assert data_of(result) == ["between", "after"]
    assert b"channel: " + a.encode() in reader.body


def test_a_since_behind_what_is_kept_gets_a_reset_then_the_live_events(
    server: RunningServer, token: str
) -> None:
    since = rendered_cursor(server, token)
    for number in range(3):  # two are kept: the first is gone
        publish(token, f"missed {number}")
    url = f"{server.url}/channels/?channel={token}&since={since}"
    with httpx.stream("GET", url, timeout=10) as response:
        reader = StreamReader(response)
        reader.until(lambda result: len(result.events) == 1)
        publish(token, "live")
        result = reader.until(lambda result: len(result.events) == 2)
    assert [event.type for event in result.events] == ["reset", "message"]
    assert data_of(result)[1] == "live"


def _unsigned(cursor: str) -> str:
    return cursor.rpartition(".")[0]


@pytest.mark.parametrize(
    "since",
    [
        "x" * 257,  # longer than any Last-Event-ID
        "a\nb",  # a field of its own, were it sent back
    ],
)
def test_a_since_that_cannot_be_a_cursor_is_a_400(server: RunningServer, since: str) -> None:
    response = httpx.get(f"{server.url}/channels/news/", params={"since": since}, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_since"


def test_a_since_the_server_did_not_issue_for_these_channels_is_a_400(
    server: RunningServer, token: str
) -> None:
    a, b = f"{token}-a", f"{token}-b"
    of_a = rendered_cursor(server, a)
    for since in [of_a, _unsigned(of_a), ""]:
        params = {"channel": [a, b], "since": since}
        response = httpx.get(f"{server.url}/channels/", params=params, timeout=10)
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "invalid_since"
        assert "channel_cursor()" in error["message"]


def test_a_query_that_only_looks_like_since_subscribes_from_now(
    server: RunningServer, token: str
) -> None:
    url = f"{server.url}/channels/?channel={token}&not_since=1"
    with httpx.stream("GET", url, timeout=10) as response:
        reader = StreamReader(response)
        reader.until(lambda result: "id: " in reader.body.decode())
        publish(token, "live")
        assert data_of(reader.until(lambda result: len(result.events) == 1)) == ["live"]


NAMES = [f"c{number}" for number in range(17)]

# Their own store: not the one of a server of this module that may be running.
IN_MEMORY = override_settings(DJANGO_STREAMING={"STORE": STORES["memory"]})


@IN_MEMORY
def test_channel_cursor_takes_a_name_or_several_and_refuses_none() -> None:
    assert read_cursor(CursorKey.of(["news"]), channel_cursor("news")) is not None
    both = channel_cursor(iter(["b", "a"]))
    assert read_cursor(CursorKey.of(["a", "b"]), both) is not None
    with pytest.raises(ValueError, match="none given"):
        channel_cursor([])
    with pytest.raises(ValueError, match="Invalid channel name"):
        channel_cursor(["a b"])


@IN_MEMORY
async def test_achannel_cursor_is_where_the_log_stands() -> None:
    await apublish("news", "one")
    cursor = read_cursor(CursorKey.of(["a", "news"]), await achannel_cursor(["news", "a"]))
    heads = await get_store().channel_log.heads(["a", "news"])
    assert cursor is not None
    assert cursor.positions == (heads["a"], heads["news"])  # in the order of their names
    assert heads["a"] == Head("", 0)
    assert heads["news"].seq >= 1
    assert abs(cursor.time - time.time()) < 60


@IN_MEMORY
def test_a_cursor_of_more_channels_than_a_subscription_may_read_is_refused() -> None:
    assert read_cursor(CursorKey.of(NAMES[:16]), channel_cursor(NAMES[:16])) is not None
    with pytest.raises(ValueError, match="at most 16 channels"):
        channel_cursor(NAMES)


@IN_MEMORY
def test_the_template_tag_takes_names_and_lists_of_them() -> None:
    template = Template(
        '{% load django_streaming %}{% channel_cursor "a" more as cursor %}[{{ cursor }}]'
    )
    cursor = template.render(Context({"more": ["c", "b"]})).strip("[]")
    assert read_cursor(CursorKey.of(["a", "b", "c"]), cursor) is not None
    assert read_cursor(CursorKey.of(["a", "b"]), cursor) is None


@pytest.fixture(params=["memory", "redis"])
async def log(request: pytest.FixtureRequest) -> AsyncIterator[ChannelLog]:
    if request.param == "memory":
        yield MemoryChannelLog(max_len=3, ttl=60)
        return
    with override_settings(DJANGO_STREAMING={"CHANNELS": {"MAX_LEN": 3, "TTL": 60}}):
        store = RedisStore(url=shared_redis(), prefix=unique_prefix())
    yield store.channel_log
    store.close()
    await store.aclose()


async def next_chunk(stream: AsyncIterator[bytes]) -> bytes:
    return await asyncio.wait_for(anext(stream), 5)


async def test_the_id_publish_returns_is_the_one_each_subscriber_gets_live_and_replayed(
    log: ChannelLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even from a publisher whose clock is an hour behind the subscribers': an event's
    cursor carries its publisher's time, stored with it, not when a subscriber got it."""
    live = subscribe(log, ["x"], None)
    opening = (await next_chunk(live)).decode().removeprefix("id: ").strip()
    module = sys.modules[type(log).__module__]
    with monkeypatch.context() as patch:
        patch.setattr(module, "publish_time", lambda: (time.time_ns() // 1000) - 3600_000_000)
        published = await log.apublish("x", b"data: one\n\n")
    event_id = published_id("x", published)
    replayed = subscribe(log, ["x"], opening)
    try:
        [live_event] = parse(await next_chunk(live)).events
        [replayed_event] = parse(await next_chunk(replayed)).events
    finally:
        await live.aclose()
        await replayed.aclose()
    assert live_event.last_event_id == replayed_event.last_event_id == event_id
    cursor = read_cursor(CursorKey.of(["x"]), event_id)
    assert cursor is not None
    assert abs(cursor.time - (time.time() - 3600)) < 60


@pytest.mark.redis
async def test_an_event_stored_before_events_held_their_time_replays_with_the_time_read() -> None:
    with override_settings(DJANGO_STREAMING={"CHANNELS": {}}):
        store = RedisStore(url=shared_redis(), prefix=unique_prefix())
    log = store.channel_log
    published = await log.apublish("x", b"data: new\n\n")
    client = redis.Redis.from_url(shared_redis())
    client.xadd(log.key("x"), {"d": b"data: old\n\n"}, id=f"{published.seq + 1}-0")
    client.close()
    head = Head(published.epoch, published.seq + 1)
    [new, old] = (await log.replay({"x": 0}, {"x": head})).entries
    assert (old.body, new.body) == (b"data: old\n\n", b"data: new\n\n")
    assert abs(old.sent / 1_000_000 - time.time()) < 60
    store.close()
    await store.aclose()


@pytest.mark.redis
def test_the_sync_heads_read_each_channel_and_report_redis_down() -> None:
    with override_settings(DJANGO_STREAMING={"CHANNELS": {}}):
        store = RedisStore(url=shared_redis(), prefix=unique_prefix())
        down = RedisStore(url="redis://127.0.0.1:1/0", connect_timeout=0.5, failover_timeout=0.2)
    assert store.channel_log.sync_heads(["x", "y"]) == {"x": Head("", 0), "y": Head("", 0)}
    published = store.channel_log.publish("x", b"data: x\n\n")
    heads = store.channel_log.sync_heads(["x", "y"])
    assert heads == {"x": Head(published.epoch, 1), "y": Head("", 0)}
    cursor = Cursor(int(time.time()), (heads["x"], heads["y"])).encode()
    assert read_cursor(CursorKey.of(["x", "y"]), sign_cursor(CursorKey.of(["x", "y"]), cursor))
    with pytest.raises(StoreUnavailable):
        down.channel_log.sync_heads(["x"])
    store.close()
    down.close()
