"""``StreamStore.running()``, the index of running streams behind the admin's live answers: on
MemoryStore, on a RedisStore against the shared Redis, and on a Redis cluster."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from django_streaming.backends.memory import MemoryStore
from django_streaming.backends.redis import RedisStore
from django_streaming.resumable import Generation
from django_streaming.sse import Event
from django_streaming.stores import StoreMisconfigured, StreamStore, worker_id
from tests.support.redis_servers import private_redis, shared_redis, unique_prefix
from tests.support.servers import until


@pytest.fixture(
    params=[
        "memory",
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("cluster", marks=[pytest.mark.redis, pytest.mark.topology]),
    ]
)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[StreamStore]:
    if request.param == "memory":
        yield MemoryStore(max_len=10)
        return
    topology: dict[str, Any] = {"url": shared_redis()}
    if request.param == "cluster":
        cluster = request.getfixturevalue("cluster")
        topology = {"url": cluster.url.replace("redis://", "redis+cluster://")}
    # A lease no loaded machine outlasts within a test: the lapsed lease has its own test.
    redis = RedisStore(**topology, prefix=unique_prefix(), max_len=10, lease=30)
    yield redis
    await redis.aclose()


def test_the_worker_id_is_this_host_and_process() -> None:
    assert worker_id() == f"{socket.gethostname()}:{os.getpid()}"


async def test_a_stream_runs_from_its_creation_to_its_end(store: StreamStore) -> None:
    before = time.time()
    await store.create("s1", owner="user:1", view="chat")
    await store.create("s2", owner="user:2", view="count", key="chat-2")
    await store.append("s1", [(1, b"a"), (2, b"b"), (3, b"c")])
    first, second = await store.running()
    assert (first.stream_id, first.view, first.owner, first.events) == ("s1", "chat", "user:1", 3)
    assert (second.stream_id, second.view, second.owner, second.events) == (
        "s2",
        "count",
        "user:2",
        0,
    )
    assert first.worker == second.worker == worker_id()
    assert before <= first.started <= second.started <= time.time()
    assert [stream.stream_id for stream in await store.running(limit=1)] == ["s1"]
    await store.finish("s1", "cancelled")
    assert [stream.stream_id for stream in await store.running()] == ["s2"]
    await store.finish("s2", "completed", key="chat-2")
    assert await store.running() == []


async def test_a_generation_is_running_until_it_is_stopped(store: StreamStore) -> None:
    async def slow() -> AsyncIterator[str]:
        yield "one"
        await asyncio.Event().wait()

    await store.create("g1", owner="me", view="slow")
    generation = Generation(
        store, "g1", slow(), key=None, max_duration=60, on_error=lambda error: Event(data="x")
    )
    task = generation.start()

    async def one_event() -> bool:
        return [stream.events for stream in await store.running()] == [1]

    await until(one_event, "the running stream's first event")
    await store.request_stop("g1")
    await task
    assert generation.status == "cancelled"
    assert await store.running() == []


@pytest.mark.redis
async def test_redis_a_stream_whose_worker_died_is_not_listed_once_its_lease_lapses() -> None:
    store = RedisStore(url=shared_redis(), prefix=unique_prefix(), lease=0.2)
    try:
        await store.create("dead", owner="me", view="chat")  # and its worker never renews
        assert [stream.stream_id for stream in await store.running()] == ["dead"]

        async def lapsed() -> bool:
            return not await store.is_alive("dead")

        await until(lapsed, "the lease to lapse")
        assert await store.running() == []
        # Pruned from the index, not only hidden.
        assert await store.client().zrange(store._running_key(), 0, -1) == []
    finally:
        await store.aclose()


@pytest.mark.redis
async def test_redis_the_index_forgets_what_is_past_its_maximum_duration_and_expires() -> None:
    store = RedisStore(url=shared_redis(), prefix=unique_prefix(), ttl=60)
    client = store.client()
    index = store._running_key()
    try:
        await store.create("old", owner="me", max_duration=0)  # its deadline: a second from now
        await client.zadd(index, {"old": time.time() - 1})  # as if that second had passed
        await store.create("new", owner="me", max_duration=600)
        assert await client.zrange(index, 0, -1) == [b"new"]  # pruned at the create
        assert 600 < await client.ttl(index) <= 601  # as long as its longest stream may run
        await store.create("short", owner="me", max_duration=10)
        assert 600 - 5 < await client.ttl(index) <= 601  # never shortened
        await client.zadd(index, {"new": time.time() - 1})
        assert [stream.stream_id for stream in await store.running()] == ["short"]
        assert await client.zrange(index, 0, -1) == [b"short"]  # pruned at the read
    finally:
        await store.aclose()


@pytest.mark.redis
async def test_redis_a_stream_leaves_the_index_when_it_ends() -> None:
    store = RedisStore(url=shared_redis(), prefix=unique_prefix())
    try:
        await store.create("s1", owner="me")
        await store.finish("s1", "completed")
        assert await store.client().zrange(store._running_key(), 0, -1) == []  # not left to a read
    finally:
        await store.aclose()


@pytest.mark.redis
async def test_redis_an_indexed_stream_not_created_yet_is_skipped_not_pruned() -> None:
    # In a cluster the index (its own slot) may be written before the stream's hash.
    store = RedisStore(url=shared_redis(), prefix=unique_prefix())
    client = store.client()
    try:
        await client.zadd(store._running_key(), {"coming": time.time() + 60})
        assert await store.running() == []
        assert await client.zrange(store._running_key(), 0, -1) == [b"coming"]
    finally:
        await store.aclose()


@pytest.mark.redis
async def test_redis_a_create_that_fails_leaves_nothing_running() -> None:
    with private_redis() as server:
        # No SET: the create's pipeline fails at the lease, after the index was written.
        store = RedisStore(url=server.limited_user("set"))
        with pytest.raises(StoreMisconfigured):
            await store.create("s1", owner="me")
        assert await store.client().zrange(store._running_key(), 0, -1) == []
        await store.aclose()
