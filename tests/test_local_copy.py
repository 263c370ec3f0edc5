"""A generation's copy of its latest events, which readers in its own process tail instead of
Redis: counted with Redis's own command statistics, on a private server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from django_streaming.backends.redis import RedisStore
from django_streaming.resumable import LOCAL_COPY_LEN, Generation, tail
from django_streaming.sse import Event
from tests.support.redis_servers import PrivateRedis, private_redis, unique_prefix
from tests.support.servers import until


@pytest.fixture(scope="module")
def redis() -> Iterator[PrivateRedis]:
    with private_redis() as server:
        yield server


@pytest.fixture
async def store(redis: PrivateRedis) -> AsyncIterator[RedisStore]:
    store = RedisStore(url=redis.url, prefix=unique_prefix(), lease=0.3)
    yield store
    await store.aclose()


async def xreads(store: RedisStore) -> int:
    stats = await store.client().info("commandstats")
    return int(stats.get("cmdstat_xread", {"calls": 0})["calls"])


def start(store: RedisStore, stream_id: str, source: AsyncIterator[str]) -> Generation:
    generation = Generation(
        store, stream_id, source, key=None, max_duration=10, on_error=lambda error: Event()
    )
    generation.start()
    return generation


async def read_all(store: RedisStore, stream_id: str) -> list[bytes | str]:
    items: list[bytes | str] = []
    async for item in tail(store, stream_id, after=0, ending=lambda status: [status]):
        items.append(item)
    return items


def numbers(items: list[bytes | str]) -> list[int]:
    """The data of every event in ``items``, which each hold one or more."""
    joined = b"".join(item for item in items if isinstance(item, bytes))
    return [int(line.removeprefix(b"data: ")) for line in joined.split(b"\n") if b"data" in line]


async def test_a_reader_in_the_generations_process_does_not_read_redis(
    store: RedisStore,
) -> None:
    async def counting() -> AsyncIterator[str]:
        for n in range(1, 51):
            yield str(n)
            await asyncio.sleep(0)  # the reader keeps up, event by event

    await store.create("here", owner="me")
    before = await xreads(store)
    generation = start(store, "here", counting())
    items = await read_all(store, "here")
    assert numbers(items) == list(range(1, 51))
    assert items[-1] == "completed"
    assert await xreads(store) == before
    # A reader that comes once the generation is over reads the store.
    assert generation.task is not None
    await generation.task
    assert numbers(await read_all(store, "here")) == list(range(1, 51))
    assert await xreads(store) > before


async def test_a_reader_behind_the_copy_catches_up_from_redis(store: RedisStore) -> None:
    release = asyncio.Event()
    total = LOCAL_COPY_LEN * 3

    async def burst() -> AsyncIterator[str]:
        for n in range(1, total + 1):
            yield str(n)
        await release.wait()
        for n in range(total + 1, total + 11):
            yield str(n)

    await store.create("behind", owner="me")
    start(store, "behind", burst())
    while (await store.read("behind", total - 1, timeout=1))[0] == []:
        pass  # until the burst is stored (a blocking read: no busy loop)
    before = await xreads(store)
    reading = asyncio.ensure_future(read_all(store, "behind"))

    async def went_to_redis() -> bool:
        return reading.done() or await xreads(store) > before

    await until(went_to_redis, "the reader to read from Redis what the copy lacks")
    release.set()
    items = await asyncio.wait_for(reading, 10)
    assert numbers(items) == list(range(1, total + 11))
    assert items[-1] == "completed"


async def test_a_generation_cancelled_before_it_ran_leaves_no_reader_waiting(
    store: RedisStore,
) -> None:
    async def never() -> AsyncIterator[str]:
        yield "never"

    await store.create("stillborn", owner="me")
    generation = start(store, "stillborn", never())
    generation.cancel("cancelled")  # before the loop ran it: its clean-up never runs
    # The reader starts on the copy, finds the generation gone, and learns from Redis, once
    # the lease lapses, that nobody generates this stream.
    assert await asyncio.wait_for(read_all(store, "stillborn"), 5) == ["interrupted"]
