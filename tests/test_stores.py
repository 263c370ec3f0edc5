"""The stores' contract, on MemoryStore and on a RedisStore against the shared Redis."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from django_streaming.backends.memory import MemoryStore
from django_streaming.backends.redis import RedisStore
from django_streaming.resumable import StreamGap, event_id, new_stream_id, parse_event_id, tail
from django_streaming.resumable.ids import MAX_SEQUENCE, is_stream_id
from django_streaming.sse import Event
from django_streaming.stores import StreamInfo, StreamStore, TooManyStreams
from django_streaming.stores.channel_log import Entry
from tests.support.redis_servers import private_redis, shared_redis, unique_prefix
from tests.support.redis_topologies import SERVICE_NAME
from tests.support.servers import until

TOPOLOGY = pytest.mark.topology


@pytest.fixture(
    params=[
        "memory",
        "redis",
        pytest.param("cluster", marks=[pytest.mark.redis, TOPOLOGY]),
        pytest.param("sentinel", marks=[pytest.mark.redis, TOPOLOGY]),
    ]
)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[StreamStore]:
    if request.param == "memory":
        yield MemoryStore(max_len=10)
        return
    topology: dict[str, Any] = {"url": shared_redis()}
    if request.param == "cluster":  # 3 masters with a replica each
        cluster = request.getfixturevalue("cluster")
        topology = {"url": cluster.url.replace("redis://", "redis+cluster://")}
    elif request.param == "sentinel":  # 1 master, 1 replica, 3 sentinels
        group = request.getfixturevalue("sentinels")
        topology = {
            "url": "redis:///0",
            "sentinels": group.sentinel_addresses,
            "service_name": SERVICE_NAME,
        }
    redis = RedisStore(**topology, prefix=unique_prefix(), max_len=10, lease=0.3)
    yield redis
    await redis.aclose()


async def blocked_readers(store: StreamStore) -> int:
    """Readers waiting for news: in the memory store's lists, or Redis clients blocked in XREAD."""
    if isinstance(store, MemoryStore):
        return sum(len(stream.readers) for stream in store._streams.values())
    assert isinstance(store, RedisStore)
    clients = await store.client().client_list()
    return sum("b" in client["flags"] and client["cmd"] == "xread" for client in clients)


async def until_the_stop_listener_subscribes(store: RedisStore, stream_id: str) -> None:
    async def subscribed() -> bool:
        channel = store.stop_channel(stream_id)
        return bool((await store.client().pubsub_numsub(channel))[0][1])

    await until(subscribed, "the stop listener to subscribe")


async def test_a_stream_from_creation_to_its_end(store: StreamStore) -> None:
    assert await store.create("s1", owner="me", key="chat") is None
    assert await store.active("chat") == "s1"
    info = await store.info("s1")
    assert info is not None
    assert (info.owner, info.status) == ("me", "active")
    await store.append("s1", [(1, b"a"), (2, b"b")])
    assert await store.read("s1", 0, timeout=0) == ([(1, b"a"), (2, b"b")], None)
    assert await store.read("s1", 1, timeout=0) == ([(2, b"b")], None)
    assert await store.read("s1", 2, timeout=0.05) == ([], None)
    await store.finish("s1", "completed", key="chat")
    await store.finish("s1", "error")  # the first end wins
    assert await store.read("s1", 2, timeout=None) == ([], "completed")
    assert await store.active("chat") is None
    assert (await store.info("s1")).status == "completed"  # type: ignore[union-attr]
    assert await store.info("nothing") is None


async def test_a_reader_wakes_for_new_entries_and_for_the_end(store: StreamStore) -> None:
    await store.create("s2", owner="me")
    already = await blocked_readers(store)

    async def a_reader_blocks() -> bool:
        return await blocked_readers(store) > already

    # The test is that a reader that already waits wakes.
    reading = asyncio.ensure_future(store.read("s2", 0, timeout=None))
    await until(a_reader_blocks, "the reader to block")
    await store.append("s2", [(1, b"x")])
    assert await asyncio.wait_for(reading, 5) == ([(1, b"x")], None)
    ending = asyncio.ensure_future(store.read("s2", 1, timeout=None))
    await until(a_reader_blocks, "the reader to block")
    await store.finish("s2", "cancelled")
    assert await asyncio.wait_for(ending, 5) == ([], "cancelled")


async def test_a_new_stream_for_a_key_returns_the_one_it_replaces(store: StreamStore) -> None:
    await store.create("old", owner="me", key="k")
    assert await store.create("new", owner="me", key="k") == "old"
    await store.finish("old", "cancelled", key="k")  # no longer the key's stream: kept
    assert await store.active("k") == "new"


async def test_stop_requests_reach_the_waiting_generation(store: StreamStore) -> None:
    await store.create("s3", owner="me")
    waiting = asyncio.ensure_future(store.wait_for_stop("s3"))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    await store.request_stop("s3")
    await asyncio.wait_for(waiting, 5)
    # A stop asked before anyone waits is not lost.
    await store.create("s4", owner="me")
    await store.request_stop("s4")
    await asyncio.wait_for(store.wait_for_stop("s4"), 5)


async def test_only_the_last_entries_are_kept_and_a_gap_is_an_error(store: StreamStore) -> None:
    await store.create("long", owner="me")
    for seq in range(1, 251):  # Redis trims whole nodes of 100 entries
        await store.append("long", [(seq, f"data: {seq}\n\n".encode())])
    await store.finish("long", "completed")
    entries, _ = await store.read("long", 0, timeout=0)
    assert entries[0][0] > 1
    with pytest.raises(StreamGap, match="no longer stored"):
        async for _ in tail(store, "long", after=0, ending=lambda status: []):
            pass


async def test_memory_forgets_ended_streams_after_their_ttl() -> None:
    store = MemoryStore(ttl=0)
    await store.create("gone", owner="me")
    await store.request_stop("nothing")  # no such stream: nothing to do
    await store.append("nothing", [(1, b"x")])
    await store.finish("gone", "completed")
    await store.create("next", owner="me")
    assert await store.info("gone") is None
    assert await store.read("gone", 0, timeout=0) == ([], "interrupted")
    await asyncio.wait_for(store.wait_for_stop("gone"), 1)  # gone: nothing will ever stop it


async def test_redis_lease_lapses_without_renewal() -> None:
    store = RedisStore(url=shared_redis(), prefix=unique_prefix(), lease=0.2)
    await store.create("leased", owner="me")
    assert await store.is_alive("leased")
    await store.keep_alive("leased")
    await asyncio.sleep(0.3)  # the lease is the thing measured here: it must lapse by itself
    assert not await store.is_alive("leased")
    entries: list[object] = []
    async for item in tail(store, "leased", after=0, ending=lambda status: [status]):
        entries.append(item)
    assert entries == ["interrupted"]
    await store.aclose()


def test_event_ids_round_trip() -> None:
    stream_id = new_stream_id()
    assert len(stream_id) == 24
    assert is_stream_id(stream_id)
    assert parse_event_id(event_id(stream_id, 12)) == (stream_id, 12)
    assert parse_event_id(event_id(stream_id, MAX_SEQUENCE)) == (stream_id, MAX_SEQUENCE)
    for bad in ["", "abc", "abc:", ":3", "abc:-1", "abc:1.5", "abc:٣", "abc-_x:12"]:
        assert parse_event_id(bad) is None
    for bad_number in ["", "-1", "+1", "1.5", "٣", "1_0", " 1", "1\n", str(MAX_SEQUENCE + 1)]:
        assert parse_event_id(f"{stream_id}:{bad_number}") is None
    for bad_id in [stream_id[:-1], stream_id + "A", stream_id[:-1] + "=", stream_id[:-1] + "é"]:
        assert not is_stream_id(bad_id)
        assert parse_event_id(f"{bad_id}:1") is None


def test_events_keep_their_type_and_get_the_stores_id() -> None:
    from django_streaming.resumable.generation import _encode_with_id

    assert _encode_with_id(Event(data="x", event="tick", id="mine"), "s", 3) == (
        b"id: s:3\nevent: tick\ndata: x\n\n"
    )
    with pytest.raises(TypeError, match="ready-made bytes"):
        _encode_with_id(b"data: x\n\n", "s", 1)


async def test_a_running_generation_renews_its_lease() -> None:
    from django_streaming.resumable import Generation

    store = RedisStore(url=shared_redis(), prefix=unique_prefix(), lease=0.3)
    release = asyncio.Event()

    async def slow() -> AsyncIterator[str]:
        yield "first"
        await release.wait()

    await store.create("renewed", owner="me")
    generation = Generation(
        store, "renewed", slow(), key=None, max_duration=10, on_error=lambda error: Event()
    )
    task = generation.start()
    await asyncio.sleep(0.6)  # two lease periods: only renewals keep it alive
    assert await store.is_alive("renewed")
    release.set()
    await task
    assert generation.status == "completed"
    assert not await store.is_alive("renewed")  # the end removes the lease
    await store.aclose()


async def test_a_chat_whose_store_fails_mid_answer_ends_with_an_error_part() -> None:
    from django_streaming.chat.views import _chat_errors

    async def failing() -> AsyncIterator[str]:
        yield "data: first\n\n"
        raise StreamGap("gone")

    parts = [part async for part in _chat_errors(failing())]
    assert parts[1:] == [
        {"type": "error", "errorText": "The answer failed on the server."},
        "[DONE]",
    ]


async def test_a_generation_whose_redis_goes_away_ends_without_hanging(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from django_streaming.resumable import Generation

    with private_redis() as server:
        store = RedisStore(url=server.url, prefix=unique_prefix(), lease=0.3, failover_timeout=0.3)
        redis_gone = asyncio.Event()

        async def tokens() -> AsyncIterator[str]:
            yield "before"
            await redis_gone.wait()
            yield "after"  # cannot be stored

        await store.create("doomed", owner="me")
        generation = Generation(
            store, "doomed", tokens(), key=None, max_duration=10, on_error=lambda e: Event()
        )
        task = generation.start()

        async def renewal_failed() -> bool:
            return "Could not renew the lease of stream doomed" in caplog.text

        await until_the_stop_listener_subscribes(store, "doomed")
        await asyncio.to_thread(server.stop)
        await until(renewal_failed, "a lease renewal to fail while Redis is down")
        redis_gone.set()
        await asyncio.wait_for(task, 10)
        assert generation.status == "error"
        assert "Could not store the end of stream doomed" in caplog.text
        await store.aclose()


def test_memory_wakes_a_reader_waiting_on_another_loop() -> None:
    import threading

    from tests.support.servers import wait_until

    store = MemoryStore()
    asyncio.run(store.create("shared", owner="me"))
    got: list[object] = []
    reader = threading.Thread(
        target=lambda: got.append(asyncio.run(store.read("shared", 0, timeout=None)))
    )
    reader.start()
    wait_until(lambda: bool(store._streams["shared"].readers), what="the reader to wait")
    asyncio.run(store.append("shared", [(1, b"x")]))  # another thread, another loop
    reader.join(5)
    assert got == [([(1, b"x")], None)]


async def test_a_generation_cancelled_from_outside_lets_the_cancel_through(
    store: StreamStore,
) -> None:
    from django_streaming.resumable import Generation

    started = asyncio.Event()

    async def forever() -> AsyncIterator[str]:
        yield "first"
        started.set()
        await asyncio.Event().wait()

    await store.create("outside", owner="me")
    generation = Generation(
        store, "outside", forever(), key=None, max_duration=10, on_error=lambda e: Event()
    )
    task = generation.start()
    await started.wait()
    task.cancel()  # as asyncio.run() does with the tasks left when its loop ends
    with pytest.raises(asyncio.CancelledError):
        await task
    assert generation.status == "interrupted"
    assert await store.read("outside", 1, timeout=0) == ([], "interrupted")
    generation.cancel("cancelled")  # too late: nothing to stop
    assert generation.status == "interrupted"


async def test_a_memory_stream_is_alive_while_this_process_runs() -> None:
    store = MemoryStore()
    await store.create("here", owner="me")
    assert await store.is_alive("here")


async def test_redis_sends_the_appends_of_one_loop_turn_together() -> None:
    with private_redis() as server:
        store = RedisStore(url=server.url, prefix=unique_prefix())
        for n in range(100):
            await store.create(f"s{n}", owner="me")
        client = store.client()
        connections = (await client.info("stats"))["total_connections_received"]
        # A hundred generations append at once: one pipeline, so one connection, not a hundred.
        await asyncio.gather(*(store.append(f"s{n}", [(1, b"x"), (2, b"y")]) for n in range(100)))
        assert (await client.info("stats"))["total_connections_received"] == connections
        assert await store.read("s99", 0, timeout=0) == ([(1, b"x"), (2, b"y")], None)
        await store.aclose()


async def test_redis_fails_only_the_append_that_failed() -> None:
    from redis.exceptions import ResponseError

    store = RedisStore(url=shared_redis(), prefix=unique_prefix())
    await store.create("twice", owner="me")
    await store.create("once", owner="me")
    await store.append("twice", [(1, b"x")])
    twice, once = await asyncio.gather(
        store.append("twice", [(1, b"again")]),  # Redis refuses an id it has
        store.append("once", [(1, b"x")]),
        return_exceptions=True,
    )
    assert isinstance(twice, ResponseError)
    assert once is None
    assert await store.read("once", 0, timeout=0) == ([(1, b"x")], None)
    await store.aclose()


async def test_redis_appends_cut_short_fail_instead_of_hanging() -> None:
    from django_streaming.backends.redis import store as redis_store
    from django_streaming.stores import StoreUnavailable

    store = RedisStore(url=shared_redis(), prefix=unique_prefix())
    await store.create("cut", owner="me")
    appending = asyncio.ensure_future(store.append("cut", [(1, b"x")]))
    await asyncio.sleep(0)  # the append is queued and its sending task created
    (sending,) = [
        task for task in redis_store._running if task.get_name() == redis_store.SENDING_TASK_NAME
    ]
    sending.cancel()  # as when the loop closes
    with pytest.raises(StoreUnavailable, match="cancelled"):
        await asyncio.wait_for(appending, 5)
    await store.aclose()


async def test_redis_an_append_given_up_on_leaves_the_others_alone() -> None:
    store = RedisStore(url=shared_redis(), prefix=unique_prefix())
    await store.create("left", owner="me")
    await store.create("kept", owner="me")
    left = asyncio.ensure_future(store.append("left", [(1, b"x")]))
    kept = asyncio.ensure_future(store.append("kept", [(1, b"y")]))
    await asyncio.sleep(0)  # both queued for the same pipeline
    left.cancel()  # its generation was stopped meanwhile
    await kept
    assert await store.read("kept", 0, timeout=0) == ([(1, b"y")], None)
    await store.aclose()


async def test_a_stop_reaches_its_generation_across_a_redis_restart() -> None:
    with private_redis() as server:
        store = RedisStore(url=server.url, prefix=unique_prefix())
        await store.create("restarted", owner="me")
        waiting = asyncio.ensure_future(store.wait_for_stop("restarted"))

        await until_the_stop_listener_subscribes(store, "restarted")
        await asyncio.to_thread(server.stop)
        await asyncio.to_thread(server.start)  # empty: no persistence
        await store.request_stop("restarted")  # the listener may not be back yet: the key waits
        await asyncio.wait_for(waiting, 5)
        await store.aclose()


async def test_max_active_refuses_an_owners_stream_beyond_the_limit(store: StreamStore) -> None:
    for number in range(3):
        await store.create(f"mine-{number}", owner="me", max_active=3)
    with pytest.raises(TooManyStreams):
        await store.create("one-too-many", owner="me", max_active=3)
    assert await store.info("one-too-many") is None  # refused: nothing registered
    await store.create("theirs", owner="someone else", max_active=3)
    await store.finish("mine-0", "completed")
    await store.create("mine-3", owner="me", max_active=3)  # one ended: room for one


async def test_max_active_does_not_count_the_stream_a_new_one_supersedes(
    store: StreamStore,
) -> None:
    await store.create("other", owner="me", max_active=2)
    await store.create("first answer", owner="me", key="chat", max_active=2)
    # A new question in the same chat replaces its answer in progress: still two.
    assert await store.create("second answer", owner="me", key="chat", max_active=2) == (
        "first answer"
    )
    with pytest.raises(TooManyStreams):
        await store.create("third", owner="me", key="another chat", max_active=2)


async def test_a_stream_whose_worker_died_stops_counting_after_its_maximum_duration() -> None:
    redis = RedisStore(url=shared_redis(), prefix=unique_prefix())
    try:
        await redis.create("orphan", owner="me", max_active=1, max_duration=0)
        # Never finished (its worker died): it counts for max_duration (+1 s) at most.
        with pytest.raises(TooManyStreams):
            await redis.create("refused", owner="me", max_active=1)
        owners = redis._owner_key("me")
        score = await redis.client().zscore(owners, "orphan")
        now = (await redis.client().time())[0]
        assert score is not None
        assert now <= score <= now + 1
    finally:
        await redis.aclose()


async def test_memory_a_stop_after_its_waiter_was_cancelled_is_no_error() -> None:
    """The waiter's future is cancelled at once, its ``finally`` (which unlists it) runs later:
    a stop requested in between must skip it, not fail to resolve it."""
    store = MemoryStore()
    await store.create("s", owner="me")
    waiting = asyncio.ensure_future(store.wait_for_stop("s"))

    async def registered() -> bool:
        return bool(store._streams["s"].stoppers)

    await until(registered, "the waiter")
    waiting.cancel()
    await store.request_stop("s")
    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_a_generation_reads_a_plain_async_iterator_to_its_end(store: StreamStore) -> None:
    """A source with no ``aclose()`` (an async iterator, not a generator) is read the same."""
    from django_streaming.resumable import Generation

    class Countdown:
        def __init__(self) -> None:
            self.left = 3

        def __aiter__(self) -> Countdown:
            return self

        async def __anext__(self) -> str:
            if not self.left:
                raise StopAsyncIteration
            self.left -= 1
            return str(self.left)

    await store.create("plain", owner="me")
    generation = Generation(
        store, "plain", Countdown(), key=None, max_duration=10, on_error=lambda e: Event()
    )
    await generation.start()
    assert generation.status == "completed"
    entries, status = await store.read("plain", 0, timeout=0)
    assert [data for _, data in entries] == [
        f"id: plain:{n}\ndata: {left}\n\n".encode() for n, left in [(1, 2), (2, 1), (3, 0)]
    ]
    assert status == "completed"


async def test_a_lease_renewal_that_hangs_is_not_piled_up_on() -> None:
    """A store slow to renew gets one renewal at a time, not one per period."""
    from django_streaming.resumable import Generation

    class SlowToRenew(MemoryStore):
        liveness_interval = 0.06  # a renewal every 20 ms
        renewals = 0
        renewed = asyncio.Event()

        async def keep_alive(self, stream_id: str) -> None:
            self.renewals += 1
            await self.renewed.wait()

    store = SlowToRenew()
    await store.create("slow", owner="me")
    release = asyncio.Event()

    async def waits() -> AsyncIterator[str]:
        yield "first"
        await release.wait()

    generation = Generation(
        store, "slow", waits(), key=None, max_duration=10, on_error=lambda e: Event()
    )
    task = generation.start()
    await asyncio.sleep(0.2)  # ten renewal periods while the first renewal hangs
    assert store.renewals == 1
    store.renewed.set()

    async def renewed_again() -> bool:
        return store.renewals > 1

    await until(renewed_again, "the next renewal, once the first is done")
    release.set()
    await task


def parked(waiter: asyncio.Task[None]) -> bool:
    """Whether ``waiter`` (``wait_for_stop()``) waits for a message (a future of its own,
    pending), not for a command (a coroutine) nor to go on: on Python 3.10 a cancellation
    that falls in a command can be lost (``cancellations_kept()``), which is not what the
    tests that cancel one are about. (Python 3.10's ``get_stack()`` shows only the outer
    frame, so the awaited object is asked; ``_fut_waiter`` is the future the task waits for.)"""
    waiting_for = getattr(waiter, "_fut_waiter", None)
    return (
        not asyncio.iscoroutine(waiter.get_coro().cr_await)  # type: ignore[union-attr]
        and waiting_for is not None
        and not waiting_for.done()
    )


@pytest.mark.redis
async def test_redis_stop_waiters_share_the_listener_and_leave_it_when_done() -> None:
    store = RedisStore(url=shared_redis(), prefix=unique_prefix())
    first_a, second_a, b = (
        asyncio.ensure_future(store.wait_for_stop(stream_id)) for stream_id in ["a", "a", "b"]
    )
    await until_the_stop_listener_subscribes(store, "a")
    await until_the_stop_listener_subscribes(store, "b")
    listener = store.channel_log._listeners[asyncio.get_running_loop()]
    stop_a, stop_b = store.stop_channel("a"), store.stop_channel("b")

    async def all_waiting() -> bool:
        return len(listener.delivers.get(stop_a, ())) == 2 and stop_b in listener.delivers

    await until(all_waiting, "the three waiters")
    await until(lambda: parked(first_a), "the first waiter to be done with its first check")
    first_a.cancel()
    assert (await asyncio.wait([first_a], timeout=5))[0]
    assert len(listener.delivers[stop_a]) == 1  # a's other waiter stays
    await store.request_stop("b")
    await asyncio.wait_for(b, 5)  # b is stopped and leaves
    assert stop_b not in listener.delivers
    assert listener.task is not None  # a still waits: so does the subscription
    await until(lambda: parked(second_a), "the second waiter to be done with its first check")
    second_a.cancel()
    assert (await asyncio.wait([second_a], timeout=5))[0]
    assert listener.task is None  # the last waiter left: unsubscribed
    await asyncio.wait_for(store.aclose(), 5)


@pytest.mark.redis
@pytest.mark.skipif(
    sys.version_info < (3, 11), reason="Python 3.10 has no Task.cancelling() to see it by"
)
async def test_redis_a_stop_waiter_ends_wherever_its_cancellation_falls() -> None:
    """Cancelled at every turn of the loop in its first steps (subscribing, asking Redis,
    waiting): it ends each time. Before Python 3.12 ``asyncio.wait_for()``, which redis-py
    sends commands through, drops a cancellation that falls in the turn its send finished,
    and the waiter then waited for ever (a generation's end left it pending)."""
    store = RedisStore(url=shared_redis(), prefix=unique_prefix())
    for turns in range(60):
        waiting = asyncio.ensure_future(store.wait_for_stop(f"s{turns}"))
        for _ in range(turns):
            await asyncio.sleep(0)
        waiting.cancel()
        done, _ = await asyncio.wait([waiting], timeout=5)
        assert done, f"a waiter cancelled after {turns} turns still waits"
    await store.aclose()


@pytest.mark.redis
async def test_redis_a_reader_cancelled_as_it_is_woken_ends() -> None:
    """Woken and cancelled in one turn, a reader waiting with a timeout raises the
    cancellation (``asyncio.wait_for()`` returned instead before Python 3.12)."""
    store = RedisStore(url=shared_redis(), prefix=unique_prefix())
    await store.create("s", owner="")
    async with store.follow("s") as reader:
        reading = asyncio.ensure_future(reader.read(0, timeout=30))
        await until(lambda: reader.waiter is not None, "the reader waiting")  # type: ignore[attr-defined]
        reader.wake(None)  # type: ignore[attr-defined]
        reading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(reading, 5)
    await store.aclose()


@pytest.mark.redis
async def test_redis_a_stop_for_a_waiter_being_cancelled_is_no_error() -> None:
    store = RedisStore(url=shared_redis(), prefix=unique_prefix())
    waiting = asyncio.ensure_future(store.wait_for_stop("s"))
    await until_the_stop_listener_subscribes(store, "s")
    listener = store.channel_log._listeners[asyncio.get_running_loop()]
    waiting.cancel()  # its finally (leaving the listener) runs on the next turn
    for deliver in list(listener.delivers[store.stop_channel("s")]):
        deliver(Entry(0, store.stop_channel("s"), b""))
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await store.aclose()


@pytest.mark.redis
async def test_redis_a_reconnect_and_a_stop_in_one_turn_end_the_waiter() -> None:
    """Told twice before it wakes (the listener back after a lost connection, then the
    stop): it wakes once and sees the stop."""
    store = RedisStore(url=shared_redis(), prefix=unique_prefix())
    waiting = asyncio.ensure_future(store.wait_for_stop("s"))
    await until_the_stop_listener_subscribes(store, "s")
    listener = store.channel_log._listeners[asyncio.get_running_loop()]
    for deliver in list(listener.delivers[store.stop_channel("s")]):
        deliver(None)
        deliver(Entry(0, store.stop_channel("s"), b""))
    await asyncio.wait_for(waiting, 5)
    await store.aclose()


@pytest.mark.redis
async def test_redis_aclose_ends_the_stop_subscription() -> None:
    store = RedisStore(url=shared_redis(), prefix=unique_prefix())
    waiting = asyncio.ensure_future(store.wait_for_stop("s"))
    await until_the_stop_listener_subscribes(store, "s")
    await store.aclose()
    observer = RedisStore(url=shared_redis(), prefix=store.prefix)
    assert (await observer.client().pubsub_numsub(store.stop_channel("s")))[0][1] == 0
    await observer.aclose()
    waiting.cancel()
    await asyncio.wait([waiting])


@pytest.mark.redis
def test_redis_close_leaves_the_clients_of_a_loop_that_is_not_running() -> None:
    """``close()`` (on a settings change) closes clients on the loops that run them; a loop
    that is not running could not run the closing, so its client is left to its owner."""
    store = RedisStore(url=shared_redis(), prefix=unique_prefix())
    loop = asyncio.new_event_loop()
    try:

        async def ping() -> bool:
            return bool(await store.client().ping())

        assert loop.run_until_complete(ping())
        store.close()
        assert loop in store._clients
        loop.run_until_complete(store.aclose(loop))
        assert loop not in store._clients
    finally:
        loop.close()


async def test_redis_readers_on_another_worker_wait_on_the_listener_not_in_xread() -> None:
    from django_streaming.resumable import Generation

    with private_redis() as server:
        prefix = unique_prefix()
        generating = RedisStore(url=server.url, prefix=prefix)
        # Another worker's store: no local copy of the generations, so its readers read Redis.
        reading = RedisStore(url=server.url, prefix=prefix)
        gate = asyncio.Event()

        async def tokens() -> AsyncIterator[str]:
            yield "first"
            await gate.wait()
            yield "second"

        ids = [f"s{number}" for number in range(50)]
        for stream_id in ids:
            await generating.create(stream_id, owner="me")
            Generation(
                generating,
                stream_id,
                tokens(),
                key=None,
                max_duration=10,
                on_error=lambda e: Event(),
            ).start()
        tails = [
            tail(reading, stream_id, after=0, ending=lambda status: [status]) for stream_id in ids
        ]
        assert all(b"first" in chunk for chunk in await asyncio.gather(*map(anext, tails)))
        waiting = [asyncio.ensure_future(anext(each)) for each in tails]

        async def all_subscribed() -> bool:
            channels = [reading.wake_channel(stream_id) for stream_id in ids]
            counts = await reading.client().pubsub_numsub(*channels)
            return all(count == 1 for _, count in counts)

        await until(all_subscribed, "the readers to wait on the listener")
        assert await blocked_readers(reading) == 0  # it was one blocking XREAD per reader
        gate.set()
        assert all(b"second" in chunk for chunk in await asyncio.gather(*waiting))
        assert await asyncio.gather(*map(anext, tails)) == ["completed"] * len(ids)
        for each in tails:
            await each.aclose()
        await generating.aclose()
        await reading.aclose()


async def test_redis_a_reader_woken_while_it_reads_reads_again_rather_than_waiting() -> None:
    from django_streaming.backends.redis.store import _WokenReader

    with private_redis() as server:
        store = RedisStore(url=server.url, prefix=unique_prefix())
        await store.create("woken", owner="me")
        async with store.follow("woken") as reader:
            assert isinstance(reader, _WokenReader)
            reading = asyncio.ensure_future(reader.read(0, timeout=5))
            await asyncio.sleep(0)  # the reader's first XREAD is on its way
            reader.wake(None)  # as the listener would: during that read
            await store.append("woken", [(1, b"data: x\n\n")])
            # It reads again at once, rather than waiting out its timeout.
            assert await asyncio.wait_for(reading, 2) == ([(1, b"data: x\n\n")], None)
        await store.aclose()


# Pending tool calls (issue 20): what a continuation may answer.


async def test_pending_calls_are_claimed_once_all_or_none(store: StreamStore) -> None:
    assert await store.load_pending("chat") is None
    await store.save_pending("chat", '{"m": 1}', ["a", "b"])
    pending = await store.load_pending("chat")
    assert pending is not None
    assert (pending.message, pending.waiting, pending.answered) == (
        '{"m": 1}',
        frozenset({"a", "b"}),
        frozenset(),
    )
    assert await store.claim("chat", ["a", "nope"]) == "nope"  # nothing claimed
    assert await store.claim("chat", ["a"]) is None
    assert await store.claim("chat", ["a", "b"]) == "a"  # answered already: b stays waiting
    assert await store.claim("chat", ["b"]) is None
    pending = await store.load_pending("chat")
    assert pending is not None
    assert (pending.waiting, pending.answered) == (frozenset(), frozenset({"a", "b"}))
    assert await store.claim("other chat", ["a"]) == "a"


async def test_a_new_answer_replaces_what_waited_and_forgets_what_was_answered(
    store: StreamStore,
) -> None:
    await store.save_pending("chat", "first", ["a", "b"])
    assert await store.claim("chat", ["a"]) is None
    # The same message gone on: a stays answered, b no longer waits, c does.
    await store.save_pending("chat", "first, continued", ["c"], continued=True)
    pending = await store.load_pending("chat")
    assert pending is not None
    assert (pending.message, pending.waiting, pending.answered) == (
        "first, continued",
        frozenset({"c"}),
        frozenset({"a"}),
    )
    # A new message: ids are unique within a message only, so "a" may wait again.
    await store.save_pending("chat", "second", ["a"])
    pending = await store.load_pending("chat")
    assert pending is not None
    assert (pending.waiting, pending.answered) == (frozenset({"a"}), frozenset())
    assert await store.claim("chat", ["a"]) is None


async def test_memory_store_keeps_at_most_max_finished_streams_dropping_the_oldest(
    settings: SettingsWrapper,
) -> None:
    """Without a bound, every finished stream stayed for its TTL, whatever their number: 300
    finished chats of 2,000 parts took a process from 108 to 234 MiB."""
    settings.DJANGO_STREAMING = {**settings.DJANGO_STREAMING, "MAX_FINISHED_STREAMS": 5}
    store = MemoryStore()
    await store.create("running", owner="me")  # active: never counted, never dropped
    finished = [new_stream_id() for _ in range(5 + 3)]
    for stream_id in finished:
        await store.create(stream_id, owner="me")
        await store.append(stream_id, [(1, b"data: x\n\n")])
        await store.finish(stream_id, "completed")
    for gone in finished[:3]:
        assert await store.info(gone) is None
        assert await store.read(gone, 0, timeout=0) == ([], "interrupted")
    for kept in finished[3:]:
        assert await store.info(kept) == StreamInfo(owner="me", status="completed")
        assert await store.read(kept, 0, timeout=0) == ([(1, b"data: x\n\n")], "completed")
    assert await store.info("running") == StreamInfo(owner="me", status="active")
    assert len(store._streams) == 1 + 5
    assert len(store._ended) == 5


async def test_memory_store_keeps_the_pending_calls_of_its_newest_chats_for_ttl() -> None:
    store = MemoryStore(max_pending=2)
    for chat in ("a", "b", "c"):
        await store.save_pending(chat, chat, ["call"])
    assert await store.load_pending("a") is None  # the oldest went first
    assert [await store.load_pending(chat) is not None for chat in ("b", "c")] == [True, True]
    expired = MemoryStore(ttl=0)
    await expired.save_pending("a", "a", ["call"])
    assert await expired.load_pending("a") is None
    assert await expired.claim("a", ["call"]) == "call"


@pytest.mark.redis
async def test_redis_stops_readers_and_subscribers_share_one_pubsub_connection() -> None:
    """Issue 23: the stop listener was a second pub/sub connection (and reconnect loop) per
    worker beside the channels' one."""
    from django_streaming.channels.subscription import subscribe

    name = unique_prefix()
    store = RedisStore(url=shared_redis(), prefix=name, client_kwargs={"client_name": name})
    for stream_id in ("one", "two"):
        await store.create(stream_id, owner="me")
    stops = [asyncio.ensure_future(store.wait_for_stop(each)) for each in ("one", "two")]
    async with store.follow("one") as reader, store.follow("two"):
        subscriber = subscribe(store.channel_log, ["news", "sport"], None)
        await asyncio.wait_for(anext(subscriber), 5)  # subscribed
        reading = asyncio.ensure_future(reader.read(0, timeout=5))

        async def all_subscribed() -> bool:
            channels = [store.stop_channel("one"), store.stop_channel("two")]
            return all(count == 1 for _, count in await store.client().pubsub_numsub(*channels))

        await until(all_subscribed, "the stops to subscribe")
        clients = await store.client().client_list()
        ours = [each for each in clients if each["name"] == name]
        pubsub = [each for each in ours if "P" in each["flags"]]
        assert len(pubsub) == 1  # stops, readers and subscribers: one connection
        assert int(pubsub[0]["sub"]) == 6  # 2 stops, 2 wake-ups, 2 channels
        await store.append("one", [(1, b"x")])
        assert await reading == ([(1, b"x")], None)
        await subscriber.aclose()
    for stop in stops:
        stop.cancel()
    await asyncio.wait(stops)
    await store.aclose()
