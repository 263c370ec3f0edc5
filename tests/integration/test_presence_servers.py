"""Presence and revocation across processes: two uvicorn workers sharing a real Redis, the
test process asking ``presence()`` and calling ``disconnect()``, and a worker killed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.test import override_settings

from django_streaming import Presence, disconnect, presence, publish
from tests.support.reader import StreamReader
from tests.support.redis_servers import shared_redis, unique_prefix
from tests.support.servers import Worker, wait_until, worker
from tests.support.sse_parser import ParseResult

pytestmark = pytest.mark.redis

LEASE = 1.0


@contextmanager
def redis_store(url: str, prefix: str) -> Iterator[None]:
    """This process on the workers' store, for ``presence()``, ``disconnect()``, ``publish()``."""
    store = {"BACKEND": "django_streaming.backends.redis.RedisStore"}
    options = {"url": url, "prefix": prefix, "lease": LEASE}
    with override_settings(DJANGO_STREAMING={"STORE": {**store, "OPTIONS": options}}):
        yield


@contextmanager
def subscriber(server: Worker, channel: str, user: str) -> Iterator[StreamReader]:
    url = f"{server.url}/channels/presence/?channel={channel}"
    headers = {"X-Test-User": user}
    with httpx.stream("GET", url, headers=headers, timeout=10) as response:
        assert response.status_code == 200
        reader = StreamReader(response)
        reader.until(lambda result: "id: " in reader.body.decode())
        yield reader


def events(result: ParseResult, kind: str) -> list[Any]:
    return [json.loads(event.data)["user"] for event in result.events if event.type == kind]


def test_presence_and_a_revocation_reach_every_worker(token: str, tmp_path: Path) -> None:
    url, prefix = shared_redis(), unique_prefix()
    env = {"TEST_REVOKED_DIR": str(tmp_path)}
    with (
        worker(url, prefix, LEASE, **env) as first,
        worker(url, prefix, LEASE, **env) as second,
        redis_store(url, prefix),
        subscriber(first, token, "ann") as ann,
        subscriber(second, token, "bob") as bob,
    ):
        ann.until(lambda result: events(result, "join") == ["ann", "bob"])  # across workers
        assert presence(token) == Presence({"ann": 1, "bob": 1})
        asked = httpx.get(f"{first.url}/channels/presence/{token}/", timeout=10).json()
        assert asked == {"members": {"ann": 1, "bob": 1}, "anonymous": 0}
        (tmp_path / token).mkdir()
        (tmp_path / token / "ann").touch()  # ann may no longer read it
        disconnect(user="ann")
        ann.to_end()
        assert ann.body.endswith(b": disconnected\n\n")
        again = httpx.get(
            f"{second.url}/channels/presence/?channel={token}",
            headers={"X-Test-User": "ann"},
            timeout=10,
        )
        assert again.status_code == 403
        publish(token, "for bob")
        result = bob.until_data("for bob")
        assert events(result, "leave") == ["ann"]
        assert presence(token) == Presence({"bob": 1})


def test_the_entries_of_a_worker_that_died_expire_within_its_lease(token: str) -> None:
    url, prefix = shared_redis(), unique_prefix()
    with (
        worker(url, prefix, LEASE) as first,
        worker(url, prefix, LEASE) as second,
        redis_store(url, prefix),
        subscriber(second, token, "bob") as bob,
    ):
        with subscriber(first, token, "ann"):
            bob.until(lambda result: events(result, "join") == ["bob", "ann"])
            first.process.kill()  # no leave from it: its lease ends
            first.process.wait()
        wait_until(lambda: presence(token) == Presence({"bob": 1}), 2 * LEASE, "ann to expire")
        # The survivor's next renewal finds it gone, and says so.
        bob.until(lambda result: events(result, "leave") == ["ann"])
