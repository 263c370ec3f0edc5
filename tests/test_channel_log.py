"""The channel logs of both stores and one subscriber's stream, in this process: replay,
trimming, expiry, a subscriber that falls behind, Redis going away and coming back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from django_streaming import apublish
from django_streaming.backends.memory import MemoryChannelLog
from django_streaming.backends.redis import RedisStore
from django_streaming.channels import subscription
from django_streaming.channels.log import ChannelLog, Cursor, Entry, Head
from django_streaming.channels.signing import CursorKey, sign_cursor
from django_streaming.channels.subscription import read_cursor, subscribe
from django_streaming.stores import StoreUnavailable
from django_streaming.stores.channel_log import EPOCH_LENGTH, MAX_SEQ, merged
from tests.support.redis_servers import private_redis, shared_redis, unique_prefix
from tests.support.servers import until
from tests.support.sse_parser import parse


@pytest.fixture(
    params=[
        "memory",
        "redis",
        pytest.param("cluster", marks=[pytest.mark.redis, pytest.mark.topology]),
    ]
)
async def log(request: pytest.FixtureRequest) -> AsyncIterator[ChannelLog]:
    if request.param == "memory":
        yield MemoryChannelLog(max_len=3, ttl=60)
        return
    url = shared_redis()
    if request.param == "cluster":
        url = request.getfixturevalue("cluster").url.replace("redis:", "redis+cluster:")
    with override_settings(DJANGO_STREAMING={"CHANNELS": {"MAX_LEN": 3, "TTL": 60}}):
        store = RedisStore(url=url, prefix=unique_prefix())
        yield store.channel_log
        store.close()
        await store.aclose()


@asynccontextmanager
async def redis_channels(url: str, **options: Any) -> AsyncIterator[RedisStore]:
    """A Redis store with the default channel retention, closed however the test ends."""
    with override_settings(DJANGO_STREAMING={"CHANNELS": {}}):
        store = RedisStore(url=url, prefix=unique_prefix(), **options)
    try:
        yield store
    finally:
        await store.aclose()
        store.close()


async def next_chunk(stream: AsyncIterator[bytes]) -> bytes:
    return await asyncio.wait_for(anext(stream), 5)


def signed(channels: list[str], cursor: Cursor) -> str:
    """``cursor`` as the server sends it to a subscriber of ``channels``."""
    return sign_cursor(CursorKey(channels), cursor.encode())


def events(chunk: bytes) -> list[tuple[str, str]]:
    return [(event.type, event.data) for event in parse(chunk).events]


async def test_each_channel_has_its_own_sequence_and_epoch(log: ChannelLog) -> None:
    assert await log.heads(["a", "b"]) == {"a": Head("", 0), "b": Head("", 0)}
    first = await log.apublish("a", b"data: 1\n\n")
    other = await log.apublish("b", b"data: 2\n\n")
    assert (first.seq, other.seq) == (1, 1)
    assert first.epoch != other.epoch
    assert len(first.epoch) == EPOCH_LENGTH
    assert (await log.apublish("a", b"data: 3\n\n")).seq == 2
    assert await log.heads(["a", "b"]) == {"a": Head(first.epoch, 2), "b": Head(other.epoch, 1)}


async def test_replay_merges_channels_by_publish_time_and_is_bounded(log: ChannelLog) -> None:
    first = await log.apublish("a", b"data: 1\n\n")
    await log.apublish("b", b"data: 2\n\n")
    third = await log.apublish("a", b"data: 3\n\n")
    await log.apublish("c", b"data: not asked for\n\n")
    heads = await log.heads(["a", "b"])
    await log.apublish("a", b"data: after the heads\n\n")
    replay = await log.replay({"a": 0, "b": 0}, heads)
    assert not replay.lost
    assert [(entry.channel, entry.body) for entry in replay.entries] == [
        ("a", b"data: 1\n\n"),
        ("b", b"data: 2\n\n"),
        ("a", b"data: 3\n\n"),
    ]
    epochs = [entry.epoch for entry in replay.entries]
    assert epochs == [first.epoch, heads["b"].epoch, first.epoch]
    assert (await log.replay({"a": third.seq}, heads)).entries == []
    assert [e.seq for e in (await log.replay({"a": first.seq}, heads)).entries] == [third.seq]


def test_a_merge_keeps_each_channels_order_whatever_the_publishers_clocks() -> None:
    late, early = Entry(1, "a", b"1", 20), Entry(2, "a", b"2", 10)  # a clock set back
    entries = merged({"a": [late, early], "b": [Entry(1, "b", b"b", 15)]})
    assert [(entry.channel, entry.seq) for entry in entries] == [("b", 1), ("a", 1), ("a", 2)]


async def test_a_trimmed_channel_is_lost_to_a_cursor_before_the_trim(log: ChannelLog) -> None:
    for number in range(5):  # MAX_LEN is 3: two trimmed
        await log.apublish("t", f"data: {number}\n\n".encode())
    heads = await log.heads(["t"])
    assert (await log.replay({"t": 0}, heads)).lost == {"t"}
    assert not (await log.replay({"t": 2}, heads)).lost


async def test_a_stream_gone_while_its_head_says_events_were_published_is_lost(
    log: ChannelLog,
) -> None:
    """Evicted, or lost in a failover: the head counts events the log no longer has, and no
    TTL explains it (they expire together)."""
    await log.apublish("gone", b"data: 1\n\n")
    await log.apublish("gone", b"data: 2\n\n")
    heads = await log.heads(["gone"])
    assert not (await log.replay({"gone": 1}, heads)).lost
    if isinstance(log, MemoryChannelLog):
        log._channels["gone"].entries.clear()
    else:
        await log.client().delete(log.key("gone"))  # type: ignore[attr-defined]
    assert (await log.replay({"gone": 1}, heads)).lost == {"gone"}
    assert not (await log.replay({"gone": 2}, heads)).lost  # nothing it needed


async def test_a_stream_gone_gives_its_subscriber_a_reset(log: ChannelLog) -> None:
    opening = (await log.heads(["gone"]))["gone"]
    await log.apublish("gone", b"data: seen\n\n")
    seen = (await log.heads(["gone"]))["gone"]
    await log.apublish("gone", b"data: missed\n\n")
    if isinstance(log, MemoryChannelLog):
        log._channels["gone"].entries.clear()
    else:
        await log.client().delete(log.key("gone"))  # type: ignore[attr-defined]
    stream = subscribe(log, ["gone"], signed(["gone"], Cursor.now((seen,))))
    assert events(await next_chunk(stream))[0][0] == "reset"
    await stream.aclose()
    assert opening == Head("", 0)


async def test_an_expired_memory_channel_is_forgotten() -> None:
    log = MemoryChannelLog(max_len=10, ttl=0.05)
    log.publish("old", b"data: x\n\n")
    await asyncio.sleep(0.1)  # past its TTL: what is measured here
    log._forget_expired()
    assert "old" not in log._channels
    log.publish("old", b"data: y\n\n")  # a new log under the same name
    assert [entry.body for entry in log._channels["old"].entries] == [b"data: y\n\n"]


def test_a_publish_from_a_thread_without_a_loop_reaches_a_listener_on_a_closed_loop() -> None:
    log = MemoryChannelLog(max_len=10, ttl=60)
    loop = asyncio.new_event_loop()
    got: list[Entry | None] = []

    async def listen() -> None:
        async with log.listen(["x"], got.append):
            log.publish("x", b"data: same loop\n\n")  # delivered at once, on this loop

    loop.run_until_complete(listen())
    loop.close()
    assert [entry.body for entry in got if entry] == [b"data: same loop\n\n"]


async def test_a_subscriber_that_falls_behind_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subscription, "MAX_BACKLOG", 3)
    log = MemoryChannelLog(max_len=100, ttl=60)
    stream = subscribe(log, ["x"], None)
    await next_chunk(stream)  # subscribed
    for number in range(5):  # more than it may hold before it reads
        log.publish("x", f"data: {number}\n\n".encode())
    with pytest.raises(StopAsyncIteration):
        await next_chunk(stream)


async def test_a_cursor_ahead_of_the_log_or_past_a_trim_gets_a_reset() -> None:
    log = MemoryChannelLog(max_len=1, ttl=60)
    epoch = log.publish("x", b"data: 1\n\n").epoch
    ahead = signed(["x"], Cursor(int(time.time()), (Head(epoch, 100),)))
    stream = subscribe(log, ["x"], ahead)
    assert events(await next_chunk(stream))[0][0] == "reset"
    await stream.aclose()
    log.publish("x", b"data: 2\n\n")
    log.publish("x", b"data: 3\n\n")  # 2 is trimmed
    stream = subscribe(log, ["x"], signed(["x"], Cursor.now((Head(epoch, 1),))))
    assert events(await next_chunk(stream))[0][0] == "reset"
    await stream.aclose()


async def test_a_cursor_from_before_a_channel_had_a_counter_resumes_within_its_ttl() -> None:
    """Made when the channel had no counter: everything of its epoch since is after it,
    unless one came and went meanwhile, which takes its TTL."""
    log = MemoryChannelLog(max_len=10, ttl=60)
    none = signed(["x", "y"], Cursor.now((Head("", 0), Head("", 0))))
    old = signed(["x", "y"], Cursor(int(time.time()) - 61, (Head("", 0), Head("", 0))))
    log.publish("x", b"data: 1\n\n")
    stream = subscribe(log, ["y", "x"], none)
    assert events(await next_chunk(stream)) == [("message", "1")]
    await stream.aclose()
    stream = subscribe(log, ["x", "y"], old)
    assert events(await next_chunk(stream))[0][0] == "reset"
    await stream.aclose()


def deliveries_of(log: MemoryChannelLog) -> list[Callable[[Entry | None], None]]:
    """The deliver callbacks of the subscribers that listen to ``log`` from now on, for a
    test to hand them what the feed would."""
    delivers: list[Callable[[Entry | None], None]] = []
    original = log.listen

    def spying(channels: Any, deliver: Callable[[Entry | None], None]) -> Any:
        delivers.append(deliver)
        return original(channels, deliver)

    log.listen = spying  # type: ignore[method-assign]
    return delivers


def cut_the_feed(log: MemoryChannelLog) -> None:
    """What is published from now on reaches the log only, as while the live feed is down."""
    with log._lock:
        log._listeners.clear()


async def test_an_interrupted_feed_is_caught_up_from_the_log() -> None:
    log = MemoryChannelLog(max_len=100, ttl=60)
    delivers = deliveries_of(log)
    stream = subscribe(log, ["x"], None)
    await next_chunk(stream)
    cut_the_feed(log)  # published while the feed was down: only the log has it
    log.publish("x", b"data: missed\n\n")
    delivers[0](None)  # the feed is back: catch up
    assert events(await next_chunk(stream)) == [("message", "missed")]
    await stream.aclose()


async def test_a_live_event_past_a_missing_number_is_caught_up_from_the_log() -> None:
    """A live feed that skipped a number (one lost in transit): the subscriber reads the log
    rather than go on past a silent gap."""
    log = MemoryChannelLog(max_len=100, ttl=60)
    delivers = deliveries_of(log)
    stream = subscribe(log, ["x"], None)
    await next_chunk(stream)
    cut_the_feed(log)  # published while the feed was down: only the log has it
    epoch = log.publish("x", b"data: missed\n\n").epoch
    log.publish("x", b"data: next\n\n")
    delivers[0](Entry(2, "x", b"data: next\n\n", epoch=epoch))  # 1 never came live
    assert events(await next_chunk(stream)) == [("message", "missed"), ("message", "next")]
    await stream.aclose()


async def test_a_channel_that_expired_while_listened_to_starts_again_without_a_reset() -> None:
    """Live all along, its subscriber had every event of the old epoch: the first of the new
    one follows without a reset; a cursor of the old epoch gets one."""
    log = MemoryChannelLog(max_len=100, ttl=0.05)
    log.publish("x", b"data: old\n\n")
    stream = subscribe(log, ["x"], None)
    opening = (await next_chunk(stream)).decode().removeprefix("id: ").strip()
    await asyncio.sleep(0.1)  # past its TTL: what is measured here
    renewed = log.publish("x", b"data: new\n\n")
    assert renewed.seq == 1
    assert events(await next_chunk(stream)) == [("message", "new")]
    await stream.aclose()
    log.ttl = 60
    stream = subscribe(log, ["x"], opening)
    assert events(await next_chunk(stream))[0][0] == "reset"
    await stream.aclose()


async def test_a_new_epoch_seen_live_past_its_first_number_gives_a_reset() -> None:
    log = MemoryChannelLog(max_len=100, ttl=60)
    delivers = deliveries_of(log)
    log.publish("x", b"data: seen\n\n")
    stream = subscribe(log, ["x", "y"], None)
    await next_chunk(stream)
    with log._lock:  # the channel lost its counter and its events: only later ones remain
        del log._channels["x"]
        log._listeners.clear()
    log.publish("x", b"data: 1\n\n")
    second = log.publish("x", b"data: 2\n\n")
    delivers[0](Entry(2, "x", b"data: 2\n\n", epoch=second.epoch))
    chunk = await next_chunk(stream)
    assert events(chunk) == [
        ("reset", '{"reason":"The store lost events."}'),
        ("message", "1"),
        ("message", "2"),
    ]
    [reset, *_] = parse(chunk).events
    cursor = read_cursor(CursorKey(["x", "y"]), reset.last_event_id)
    assert cursor is not None
    assert cursor.positions == (Head(second.epoch, 0), Head("", 0))  # before what follows
    await stream.aclose()


async def test_a_channel_past_the_highest_number_starts_again_under_a_new_epoch(
    log: ChannelLog,
) -> None:
    first = await log.apublish("x", b"data: 1\n\n")
    if isinstance(log, MemoryChannelLog):
        log._channels["x"].seq = MAX_SEQ
    else:
        await log.client().hset(log.head_key("x"), "s", MAX_SEQ)  # type: ignore[attr-defined]
    again = await log.apublish("x", b"data: again\n\n")
    assert (again.seq, again.epoch != first.epoch) == (1, True)
    replay = await log.replay({"x": 0}, await log.heads(["x"]))
    assert [entry.body for entry in replay.entries] == [b"data: again\n\n"]


@pytest.mark.redis
async def test_redis_a_channels_epoch_and_counter_are_one_key(token: str) -> None:
    """They vanish together: a head evicted alone leaves no epoch beside a counter that
    starts again. Numbers go on after what the stream keeps, under a new epoch, and a cursor
    of the old one gets a reset."""
    async with redis_channels(shared_redis()) as store:
        log = store.channel_log
        first = await log.apublish(token, b"data: 1\n\n")
        await log.apublish(token, b"data: 2\n\n")
        client = log.client()
        assert await client.hgetall(log.head_key(token)) == {
            b"e": first.epoch.encode(),
            b"s": b"2",
        }
        assert await client.pttl(log.head_key(token)) > 0  # it expires with the stream
        keys = {key.decode() for key in await client.keys(f"{store.prefix}:*")}
        assert {key for key in keys if ":published:" not in key} == {  # (publish tokens)
            log.head_key(token),
            log.key(token),
        }
        await client.delete(log.head_key(token))  # evicted
        third = await log.apublish(token, b"data: 3\n\n")
        assert (third.seq, third.epoch != first.epoch) == (3, True)
        stream = subscribe(log, [token], signed([token], Cursor.now((Head(first.epoch, 1),))))
        assert events(await next_chunk(stream))[0][0] == "reset"
        await stream.aclose()


async def test_apublish_and_the_command_on_the_memory_store() -> None:
    event_id = await apublish("news", {"n": 1}, event="update")
    assert read_cursor(CursorKey.of(["news"]), event_id) is not None
    out = StringIO()
    call_command("publish", "news", '{"n": 2}', "--json", stdout=out)
    assert "Published to news: event id " in out.getvalue()
    with pytest.raises(CommandError, match="not JSON"):
        call_command("publish", "news", "{", "--json")
    with pytest.raises(CommandError, match="Invalid channel name"):
        call_command("publish", "no spaces")


@pytest.mark.redis
async def test_redis_down_is_store_unavailable_for_every_call() -> None:
    down = "redis://127.0.0.1:1/0"
    async with redis_channels(down, connect_timeout=0.5, failover_timeout=0.2) as store:
        log = store.channel_log
        with pytest.raises(StoreUnavailable):
            log.publish("x", b"data: x\n\n")
        with pytest.raises(StoreUnavailable):
            await log.apublish("x", b"data: x\n\n")
        with pytest.raises(StoreUnavailable):
            await log.heads(["x"])
        with pytest.raises(StoreUnavailable):
            await log.forget_epoch("x", "gone")
        with pytest.raises(StoreUnavailable):
            await log.replay({"x": 0}, {"x": Head("epoch!", 10)})
        with pytest.raises(StoreUnavailable):
            async with log.listen(["x"], lambda entry: None):
                pass  # pragma: no cover - never entered
        with (
            override_settings(
                DJANGO_STREAMING={
                    "STORE": {
                        "BACKEND": "django_streaming.stores.redis.RedisStore",
                        "OPTIONS": {"url": "redis://127.0.0.1:1/0", "failover_timeout": 0.2},
                    }
                }
            ),
            pytest.raises(CommandError, match="Redis is unavailable"),
        ):
            call_command("publish", "x", "y")


@pytest.mark.redis
async def test_redis_one_connection_serves_many_subscribers_and_channels() -> None:
    with private_redis() as redis:
        async with redis_channels(redis.url) as store:
            await one_connection_for_all(store)


async def one_connection_for_all(store: RedisStore) -> None:
    log = store.channel_log
    streams = [subscribe(log, [f"c{n % 3}", "all"], None) for n in range(6)]
    for stream in streams:
        await next_chunk(stream)
    pubsubs = [
        c for c in await store.client().client_list() if c["name"] == "" and int(c.get("sub", 0))
    ]
    assert len(pubsubs) == 1  # one pub/sub connection for all six and their four channels
    await log.apublish("all", b"data: everyone\n\n")
    for stream in streams:
        assert events(await next_chunk(stream)) == [("message", "everyone")]
    alone = subscribe(log, ["alone", "all"], None)
    await next_chunk(alone)
    await alone.aclose()  # "alone" is unsubscribed, "all" stays
    for stream in streams[:3]:
        await stream.aclose()  # c0, c1 and c2 keep a subscriber each
    await log.apublish("c0", b"data: c0\n\n")
    assert events(await next_chunk(streams[3])) == [("message", "c0")]
    for stream in streams[3:]:
        await stream.aclose()


@pytest.mark.redis
async def test_redis_a_subscriber_catches_up_after_redis_restarts(token: str) -> None:
    with private_redis(persistent=True) as redis:
        async with redis_channels(redis.url, connect_timeout=0.5) as store:
            log = store.channel_log
            stream = subscribe(log, [token], None)
            await next_chunk(stream)
            redis.stop()
            redis.start()
            # Published whether or not the listener has noticed the restart yet: either it gets
            # the event live, or it catches up from the log once it is subscribed again.
            await log.apublish(token, b"data: after\n\n")
            assert events(await next_chunk(stream)) == [("message", "after")]
            await stream.aclose()


@pytest.mark.redis
@pytest.mark.parametrize("persistent", [True, False])
async def test_redis_a_subscriber_outlives_redis_being_down(token: str, persistent: bool) -> None:
    """Down long enough for the listener to see it: it subscribes again once Redis is back,
    and the subscriber catches up (or, with its events gone, gets a reset first)."""
    with private_redis(persistent=persistent) as redis:
        async with redis_channels(redis.url, connect_timeout=0.5) as store:
            log = store.channel_log
            stream = subscribe(log, [token], None)
            await next_chunk(stream)
            await log.apublish(token, b"data: before\n\n")
            assert events(await next_chunk(stream)) == [("message", "before")]
            listener = log._listeners[asyncio.get_running_loop()]
            redis.stop()

            async def noticed() -> bool:
                return bool(listener.catching_up)

            await until(noticed, "the listener to notice Redis is gone")

            async def failed_to_resubscribe() -> bool:
                return bool(listener.reconnects >= 2)  # the first attempt found Redis still down

            await until(failed_to_resubscribe, "an attempt to subscribe again")
            redis.start()
            await log.apublish(token, b"data: after\n\n")
            chunks = b""
            while b"after" not in chunks:
                chunks += await next_chunk(stream)
            kinds = [kind for kind, _ in events(chunks)]
            assert kinds == (["message"] if persistent else ["reset", "message"])
            await stream.aclose()


@pytest.mark.redis
async def test_redis_a_subscriber_catches_up_after_redis_py_reconnects_on_its_own(
    token: str,
) -> None:
    """Redis closes the pub/sub connection and redis-py reconnects at once, subscribing
    again by itself: what was published in between still reaches the subscriber."""
    async with redis_channels(shared_redis()) as store:
        log = store.channel_log
        stream = subscribe(log, [token], None)
        await next_chunk(stream)
        observer = RedisStore(url=shared_redis(), prefix=store.prefix)
        listener = log._listeners[asyncio.get_running_loop()]
        assert listener.pubsub is not None
        assert listener.pubsub.connection is not None
        host, port = listener.pubsub.connection._writer.get_extra_info("sockname")[:2]
        await observer.client().client_kill(f"{host}:{port}")
        await log.apublish(token, b"data: meanwhile\n\n")
        assert events(await next_chunk(stream)) == [("message", "meanwhile")]
        await stream.aclose()
        await observer.aclose()


async def test_a_live_event_already_replayed_is_not_sent_twice() -> None:
    log = MemoryChannelLog(max_len=100, ttl=60)
    delivers = deliveries_of(log)
    epoch = log.publish("x", b"data: before\n\n").epoch
    log.publish("x", b"data: once\n\n")
    stream = subscribe(log, ["x"], signed(["x"], Cursor.now((Head(epoch, 1),))))
    assert events(await next_chunk(stream)) == [("message", "once")]  # replayed
    delivers[0](Entry(2, "x", b"data: once\n\n", epoch=epoch))  # and then live: skipped
    log.publish("x", b"data: next\n\n")
    assert events(await next_chunk(stream)) == [("message", "next")]
    await stream.aclose()


async def test_a_reconnect_that_missed_nothing_waits_for_the_next_event() -> None:
    log = MemoryChannelLog(max_len=100, ttl=60)
    heads = await log.heads(["x"])
    stream = subscribe(log, ["x"], signed(["x"], Cursor.now((heads["x"],))))
    waiting = asyncio.ensure_future(next_chunk(stream))

    async def listening() -> bool:
        return "x" in log._listeners

    await until(listening, "the subscriber to listen")
    log.publish("x", b"data: new\n\n")
    assert events(await waiting) == [("message", "new")]
    await stream.aclose()


def test_a_listener_on_a_loop_that_is_gone_is_skipped() -> None:
    log = MemoryChannelLog(max_len=10, ttl=60)
    loop = asyncio.new_event_loop()
    got: list[Entry | None] = []
    listening = log.listen(["x"], got.append)
    loop.run_until_complete(listening.__aenter__())
    loop.close()
    log.publish("x", b"data: nobody\n\n")  # its loop is closed: nothing to call
    assert got == []


async def test_two_listeners_on_one_channel_each_leave_alone() -> None:
    log = MemoryChannelLog(max_len=10, ttl=60)
    first: list[Entry | None] = []
    second: list[Entry | None] = []
    async with log.listen(["x"], first.append):
        async with log.listen(["x"], second.append):
            log.publish("x", b"data: both\n\n")
        log.publish("x", b"data: first only\n\n")
    assert [len(first), len(second)] == [2, 1]
    assert "x" not in log._listeners


async def test_expired_channels_are_swept_as_publishing_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django_streaming.backends.memory import channel_log as memory

    monkeypatch.setattr(memory, "SWEEP_EVERY", 2)
    log = MemoryChannelLog(max_len=10, ttl=0.05)
    log.publish("idle", b"data: x\n\n")
    await asyncio.sleep(0.1)  # past its TTL: what is measured here
    log.publish("busy", b"data: y\n\n")  # the second publish sweeps
    assert list(log._channels) == ["busy"]


async def test_with_history_a_new_subscriber_first_gets_what_is_kept() -> None:
    log = MemoryChannelLog(max_len=2, ttl=60)
    for number in range(3):  # the first is no longer kept
        log.publish("job", f"data: {number}\n\n".encode())
    log.publish("other", b"data: not this\n\n")
    stream = subscribe(log, ["job"], None, history=True)
    assert events(await next_chunk(stream)) == [("message", "1"), ("message", "2")]
    log.publish("job", b"data: 3\n\n")
    assert events(await next_chunk(stream)) == [("message", "3")]
    await stream.aclose()


@pytest.mark.redis
async def test_redis_a_burst_of_subscribers_and_publishes_holds_at_most_ten_connections() -> None:
    from django_streaming.backends.redis.channel_log import MAX_CONNECTIONS

    with private_redis() as redis:
        async with redis_channels(redis.url) as store:
            log = store.channel_log
            streams = [subscribe(log, [f"c{n}", "all"], None) for n in range(300)]
            await asyncio.gather(*(next_chunk(stream) for stream in streams))  # all at once
            await asyncio.gather(*(log.apublish(f"c{n}", b"data: x\n\n") for n in range(300)))
            await asyncio.gather(*(next_chunk(stream) for stream in streams))
            observer = RedisStore(url=redis.url, prefix=store.prefix)
            connections = len(await observer.client().client_list()) - 1  # not the observer's
            assert connections <= MAX_CONNECTIONS
            await observer.aclose()
            for stream in streams:
                await stream.aclose()


@pytest.mark.redis
async def test_redis_subscribers_arriving_together_share_reads_of_the_head_and_miss_nothing() -> (
    None
):
    with private_redis() as redis:
        async with redis_channels(redis.url) as store:
            log = store.channel_log
            publishing = True

            async def publish_all_along() -> None:
                while publishing:
                    await log.apublish("news", b"data: x\n\n")

            publisher = asyncio.create_task(publish_all_along())

            async def published() -> bool:
                return (await log.heads(["news"]))["news"].seq > 0

            await until(published, "the first publish")
            streams = [subscribe(log, ["news"], None) for _ in range(1000)]
            openings = await asyncio.gather(*(next_chunk(stream) for stream in streams))
            publishing = False
            await publisher
            last = (await log.heads(["news"]))["news"].seq
            for opening, stream in zip(openings, streams, strict=True):
                # Each subscriber gets every event after the head it was given, none missing.
                key = CursorKey(["news"])
                cursor = read_cursor(key, opening.split(b"id: ")[1].split(b"\n")[0].decode())
                assert cursor is not None
                [head] = cursor.positions
                seqs: list[int] = []
                while head.seq + len(seqs) < last:
                    chunk = await next_chunk(stream)
                    cursors = [
                        read_cursor(key, event.last_event_id) for event in parse(chunk).events
                    ]
                    seqs += [c.positions[0].seq for c in cursors if c is not None]
                assert seqs == list(range(head.seq + 1, last + 1))
                await stream.aclose()
            observer = RedisStore(url=redis.url, prefix=store.prefix)
            reads = (await observer.client().info("commandstats"))["cmdstat_hmget"]["calls"]
            await observer.aclose()
            assert reads < 100  # not one per subscriber
