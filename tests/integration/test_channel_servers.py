"""Channels across processes: uvicorn workers sharing a real Redis, events published by
``manage.py publish`` in a process of its own, and Redis stopped and started again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from django_streaming.channels.signing import CursorKey
from django_streaming.channels.subscription import read_cursor
from tests.support.commands import manage_publish
from tests.support.reader import StreamReader, data_of
from tests.support.redis_servers import private_redis, shared_redis, unique_prefix
from tests.support.servers import Worker, worker

pytestmark = pytest.mark.redis


@contextmanager
def subscriber(
    server: Worker, channels: str, last_event_id: str | None = None
) -> Iterator[StreamReader]:
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    url = f"{server.url}/channels/?{channels}"
    with httpx.stream("GET", url, headers=headers, timeout=10) as response:
        assert response.status_code == 200
        reader = StreamReader(response)
        reader.until(lambda result: "id: " in reader.body.decode())  # subscribed
        yield reader


def test_a_command_in_another_process_reaches_subscribers_on_two_workers(token: str) -> None:
    url, prefix = shared_redis(), unique_prefix()
    with (
        worker(url, prefix) as first,
        worker(url, prefix) as second,
        subscriber(first, f"channel={token}") as one,
        subscriber(second, f"channel={token}") as two,
    ):
        done = manage_publish(url, prefix, token, '{"step": 1}', "--json", "--event", "progress")
        assert done.returncode == 0, done.stderr
        assert f"Published to {token}: event id " in done.stdout
        for reader in (one, two):
            [event] = reader.until(lambda result: len(result.events) == 1).events
            assert (event.type, json.loads(event.data)) == ("progress", {"step": 1})


def test_the_command_says_what_is_wrong(token: str) -> None:
    url, prefix = shared_redis(), unique_prefix()
    bad_name = manage_publish(url, prefix, "not a name", "x")
    assert bad_name.returncode == 1
    assert "Invalid channel name" in bad_name.stderr
    bad_json = manage_publish(url, prefix, token, "{not json", "--json")
    assert "--json: the data is not JSON" in bad_json.stderr
    down = manage_publish("redis://127.0.0.1:1/0", prefix, token, "x")
    assert "Redis is unavailable" in down.stderr


def test_a_reconnect_on_another_worker_gets_what_it_missed(token: str) -> None:
    url, prefix = shared_redis(), unique_prefix()
    with worker(url, prefix) as first, worker(url, prefix) as second:
        with subscriber(first, f"channel={token}-a&channel={token}-b") as reader:
            manage_publish(url, prefix, f"{token}-a", "one")
            last = reader.until(lambda result: len(result.events) == 1).events[0].last_event_id
        manage_publish(url, prefix, f"{token}-b", "two")
        manage_publish(url, prefix, f"{token}-a", "three")
        channels = f"channel={token}-a&channel={token}-b"
        with subscriber(second, channels, last_event_id=last) as reader:
            assert data_of(reader.until(lambda result: len(result.events) == 2)) == [
                "two",
                "three",
            ]


def test_a_page_rendered_on_one_worker_subscribes_from_its_render_on_another(token: str) -> None:
    """Published before the render: not sent; between the render and the connection: replayed;
    after: live; each once, with the id publish() returned in the publishing process."""
    url, prefix = shared_redis(), unique_prefix()
    a, b = f"{token}-a", f"{token}-b"
    with worker(url, prefix) as first, worker(url, prefix) as second:
        manage_publish(url, prefix, a, "before the render")
        page = httpx.get(f"{first.url}/channels/page/?channel={a}&channel={b}", timeout=10)
        since = page.text.split('data-since="', 1)[1].split('"', 1)[0]
        between = manage_publish(url, prefix, b, "between")
        stream = f"{second.url}/channels/?channel={b}&channel={a}&since={since}"
        with httpx.stream("GET", stream, timeout=10) as response:
            assert response.status_code == 200
            reader = StreamReader(response)
            reader.until(lambda result: len(result.events) == 1)
            after = manage_publish(url, prefix, a, "after")
            result = reader.until(lambda result: len(result.events) == 2)
        assert data_of(result) == ["between", "after"]
        # Its one channel's subscribers get the id the command printed.
        with subscriber(first, f"channel={a}") as reader:
            live = manage_publish(url, prefix, a, "live")
            [event] = reader.until(lambda result: len(result.events) == 1).events
        assert f": event id {event.last_event_id}." in live.stdout
        for done in (between, after):
            assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("persistent", [True, False])
def test_subscribers_outlive_a_redis_restart(token: str, persistent: bool) -> None:
    """With persistence nothing is lost; without it, the subscriber is told with a reset."""
    prefix = unique_prefix()
    with private_redis(persistent=persistent) as redis, worker(redis.url, prefix) as server:
        with subscriber(server, f"channel={token}") as reader:
            assert manage_publish(redis.url, prefix, token, "before").returncode == 0
            reader.until(lambda result: len(result.events) == 1)
            redis.stop()
            refused = manage_publish(redis.url, prefix, token, "while down")
            assert "Redis is unavailable" in refused.stderr  # never dropped quietly
            redis.start()
            # The worker resubscribes; until it has, an event would reach only the log, so
            # the subscriber catches up from there either way.
            assert manage_publish(redis.url, prefix, token, "after").returncode == 0
            result = reader.until(lambda result: "after" in data_of(result))
        kinds = [(event.type, event.data) for event in result.events]
        if persistent:
            assert kinds == [("message", "before"), ("message", "after")]
        else:
            assert kinds[0] == ("message", "before")
            assert kinds[1][0] == "reset"
            assert kinds[-1] == ("message", "after")
        cursors = [read_cursor(CursorKey([token]), event.last_event_id) for event in result.events]
        assert all(cursors)
