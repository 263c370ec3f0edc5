"""Redis under memory pressure: a policy that may evict the backend's keys is a system check
warning (W030, or W031 where an ACL hides the policy); keys that were evicted anyway give
``reset``, never a silent gap; under ``noeviction``, a full Redis still lets clients
subscribe, and its errors say OOM."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.core.checks import run_checks
from django.test import override_settings

from django_streaming.backends.redis import RedisStore
from django_streaming.channels.subscription import subscribe
from django_streaming.stores import StoreUnavailable
from tests.support.redis_servers import PrivateRedis, private_redis, unique_prefix
from tests.support.servers import until
from tests.test_redis_failover import Collector

pytestmark = pytest.mark.redis


def _store_settings(url: str, **options: Any) -> dict[str, Any]:
    return {
        "STORE": {
            "BACKEND": "django_streaming.backends.redis.RedisStore",
            "OPTIONS": {"url": url, "prefix": unique_prefix(), **options},
        }
    }


def check_ids() -> list[str]:
    return [message.id for message in run_checks() if message.id and "streaming" in message.id]


@pytest.fixture
def lru_redis() -> Iterator[PrivateRedis]:
    with private_redis(arguments=["--maxmemory", "3mb", "--maxmemory-policy", "allkeys-lru"]) as s:
        yield s


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("allkeys-lru", ["django_streaming.W030"]), ("noeviction", []), ("volatile-lru", [])],
)
def test_w030_a_policy_that_may_evict_any_key_is_a_warning(
    policy: str, expected: list[str]
) -> None:
    with (
        private_redis(arguments=["--maxmemory-policy", policy]) as server,
        override_settings(DJANGO_STREAMING=_store_settings(server.url)),
    ):
        assert check_ids() == expected


def test_w031_a_policy_an_acl_hides_is_a_warning() -> None:
    with private_redis(arguments=["--maxmemory-policy", "allkeys-lru"]) as server:
        url = server.limited_user("config", "info")
        with override_settings(DJANGO_STREAMING=_store_settings(url)):
            assert check_ids() == ["django_streaming.W031"]


def test_a_redis_that_is_down_is_not_checked() -> None:
    with override_settings(DJANGO_STREAMING=_store_settings("redis://127.0.0.1:1/0")):
        assert check_ids() == []


async def test_the_first_connection_warns_of_eviction(
    lru_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisStore(url=lru_redis.url, prefix=unique_prefix())
    await store.create("first", owner="me")
    await until(lambda: "maxmemory-policy is 'allkeys-lru'" in caplog.text, "the warning")
    await store.aclose()


async def test_an_evicted_counter_gives_reset_not_a_silent_gap(
    lru_redis: PrivateRedis, token: str
) -> None:
    """Big events fill a 3 MB Redis that evicts any key: the channel's head (its epoch and
    counter, together: numbers go on after what its stream keeps, under a new epoch) or its
    stream goes. The live subscriber gets every event in order, or ``reset``: never a silent
    gap (it drops numbers it has seen)."""
    with override_settings(DJANGO_STREAMING={"CHANNELS": {"MAX_LEN": 1000}}):
        store = RedisStore(url=lru_redis.url, prefix=unique_prefix())
    log = store.channel_log
    collector = Collector(subscribe(log, [token], None))
    await until(lambda: b"id:" in collector.body, "the opening id")
    epoch = None
    padding = "x" * 20_000
    published = 0
    evicted = False
    while not evicted or published % 10:  # then a few more
        published += 1
        assert published < 3000, "neither the head nor the stream was ever evicted"
        try:
            stored = await log.apublish(token, f"data: {published} {padding}\n\n".encode())
        except StoreUnavailable:  # Valkey may refuse a script as OOM all the same: visibly
            published -= 1
            break
        epoch = epoch or stored.epoch
        kept = await log.client().xlen(log.key(token))
        evicted = evicted or stored.epoch != epoch or kept < min(published, 1000)
    await until(
        lambda: collector.resets() > 0 or published in collector.numbers(), "the last event", 10
    )
    before_reset = collector.body.split(b"event: reset")[0]
    numbers = [
        int(line.split()[1]) for line in before_reset.split(b"\n") if line.startswith(b"data: ")
    ]
    assert numbers == list(range(1, len(numbers) + 1))  # all, in order, up to the reset
    if not collector.resets():
        assert len(numbers) == published
    await collector.aclose()
    await store.aclose()
    store.close()


async def test_under_noeviction_a_full_redis_still_lets_clients_subscribe(token: str) -> None:
    with private_redis(arguments=["--maxmemory", "2mb", "--maxmemory-policy", "noeviction"]) as s:
        store = RedisStore(url=s.url, prefix=unique_prefix(), failover_timeout=0.2)
        log = store.channel_log
        await log.apublish(token, b"data: before\n\n")  # the epoch exists
        filler = redis.Redis.from_url(s.url)
        for size in (10_000, 100):  # full: not even a small write fits
            with pytest.raises(redis.exceptions.OutOfMemoryError):  # noqa: PT012 - until full
                for number in range(10_000):
                    filler.set(f"filler:{size}:{number}", "x" * size)
        filler.close()
        heads = await log.heads([token])  # reads only: a Redis refusing writes still answers
        assert heads[token].seq == 1
        with pytest.raises(StoreUnavailable, match="out of memory"):  # noqa: PT012
            for _ in range(1000):  # (the first, unless a client's buffers just shrank)
                await log.apublish(token, b"data: after " + b"x" * 1000 + b"\n\n")
        with pytest.raises(StoreUnavailable, match="out of memory"):  # noqa: PT012
            for _ in range(1000):
                await asyncio.to_thread(log.publish, token, b"data: " + b"x" * 1000 + b"\n\n")
        await store.aclose()
        store.close()
        await asyncio.sleep(0)
