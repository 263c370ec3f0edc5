"""Failover of a real Sentinel group (``tests/support/redis_topologies.py``): its master
SIGKILLed while a resumable generation appends, or while channels publish; a replica frozen
behind and promoted. Nothing acknowledged is lost in silence: calls retry through the failover
window, and what the store lost shows as ``reset``, a gap or ``lost``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from django.test import override_settings

from django_streaming.backends.redis import RedisStore
from django_streaming.backends.redis.channel_log import RedisChannelLog
from django_streaming.channels.subscription import subscribe
from django_streaming.resumable import Generation
from django_streaming.resumable.tail import tail
from django_streaming.sse import Event
from django_streaming.stores import NotReplicated, StoreUnavailable
from tests.support.proxy import proxy_to
from tests.support.redis_servers import (
    private_redis,
    shared_redis,
    shared_redis_port,
    unique_prefix,
)
from tests.support.redis_topologies import SentinelGroup, client, wait_for
from tests.support.servers import until
from tests.support.sse_parser import parse

pytestmark = [pytest.mark.redis]


def SentinelStore(group: SentinelGroup, **options: Any) -> RedisStore:
    """A store whose clients ask the group's sentinels where the master is."""
    return RedisStore(
        sentinels=group.sentinel_addresses, service_name=group.service_name, **options
    )


def _event(number: int) -> Event:
    return Event(data=str(number))


@pytest.mark.topology
async def test_a_generation_survives_a_sentinel_failover_and_completes(
    sentinels: SentinelGroup,
) -> None:
    prefix = unique_prefix()
    writer = SentinelStore(sentinels, prefix=prefix, connect_timeout=0.5, failover_timeout=8)
    reader = SentinelStore(sentinels, prefix=prefix, connect_timeout=0.5, failover_timeout=8)
    await writer.create("failover", owner="me")
    killed_at: list[float] = []

    async def tokens() -> AsyncIterator[Event]:
        for number in range(1, 41):
            if number == 11:  # ten stored and on the replica: the master dies now
                await asyncio.to_thread(wait_for, sentinels.in_sync, 10, "the replica")
                await asyncio.to_thread(sentinels.kill_master)
                killed_at.append(time.monotonic())
            yield _event(number)

    before = sentinels.master_address()
    generation = Generation(
        writer, "failover", tokens(), key=None, max_duration=60, on_error=lambda e: Event()
    )
    task = generation.start()
    seen = [item async for item in tail(reader, "failover", after=0, ending=lambda s: [s])]
    await asyncio.wait_for(task, 30)
    took = time.monotonic() - killed_at[0]
    assert sentinels.master_address() != before  # it did fail over meanwhile
    assert generation.status == "completed"
    assert seen[-1] == "completed"
    data = b"".join(item for item in seen[:-1])
    assert [line for line in data.split(b"\n") if line.startswith(b"data:")] == [
        f"data: {number}".encode() for number in range(1, 41)
    ]
    assert took > 0.5, f"the failover took {took:.2f} s: no window was crossed"
    for store in (writer, reader):
        await store.aclose()
        store.close()


class Collector:
    """Reads a subscriber's stream in the background, into ``body``."""

    def __init__(self, stream: AsyncIterator[bytes]) -> None:
        self.stream = stream
        self.body = b""
        self.ended = False
        self.task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for chunk in self.stream:
            self.body += chunk
        self.ended = True

    def events(self) -> list[tuple[str, str]]:
        return [(event.type, event.data) for event in parse(self.body).events]

    def numbers(self) -> list[int]:
        return [int(data.split()[0]) for kind, data in self.events() if kind == "message"]

    def resets(self) -> int:
        return sum(kind == "reset" for kind, _ in self.events())

    async def aclose(self) -> None:
        self.task.cancel()
        await asyncio.wait((self.task,))
        await self.stream.aclose()  # type: ignore[attr-defined]


async def _subscribed(log: RedisChannelLog, channel: str) -> Collector:
    collector = Collector(subscribe(log, [channel], None))
    await until(lambda: b"id:" in collector.body, "the subscriber's opening id")
    return collector


@pytest.mark.topology
async def test_publishing_through_a_sentinel_failover_loses_nothing_in_silence(
    sentinels: SentinelGroup, token: str
) -> None:
    """Publishes at about 100/s; the master is SIGKILLed after the 20th (replicated): every
    publish returns once the replica is promoted, each event is stored once, and the
    subscriber (on another store) gets them all in order."""
    prefix = unique_prefix()
    publisher = SentinelStore(sentinels, prefix=prefix, connect_timeout=0.5, failover_timeout=8)
    watcher = SentinelStore(sentinels, prefix=prefix, connect_timeout=0.5, failover_timeout=8)
    collector = await _subscribed(watcher.channel_log, token)
    for number in range(1, 61):
        if number == 21:
            await asyncio.to_thread(wait_for, sentinels.in_sync, 10, "the replica")
            await asyncio.to_thread(sentinels.kill_master)
        await publisher.channel_log.apublish(token, f"data: {number}\n\n".encode())
        await asyncio.sleep(0.01)  # a publisher's pace, not a synchronisation
    await until(lambda: 60 in collector.numbers() or collector.resets() > 0, "event 60", 20)
    numbers = collector.numbers()
    assert len(numbers) == len(set(numbers)), "an event was stored twice"
    if collector.resets() == 0:
        assert numbers == list(range(1, 61))
    await collector.aclose()
    for store in (publisher, watcher):
        await store.aclose()
        store.close()


@pytest.mark.topology
async def test_a_stale_replica_promoted_gives_reset_not_a_silent_gap(
    sentinels: SentinelGroup, token: str
) -> None:
    """The replica is frozen (SIGSTOP) and cut off while 20 events are published, the master
    killed, the replica thawed and promoted without them: numbers are given out again. The
    subscriber who saw them gets ``reset``, and a cursor from before the loss is reset too,
    never served the new events under old numbers."""
    prefix = unique_prefix()
    store = SentinelStore(sentinels, prefix=prefix, connect_timeout=0.5, failover_timeout=10)
    log: RedisChannelLog = store.channel_log
    collector = await _subscribed(log, token)
    for number in range(1, 11):
        await log.apublish(token, f"data: {number}\n\n".encode())
    await asyncio.to_thread(wait_for, sentinels.in_sync, 10, "the replica")
    await until(lambda: 10 in collector.numbers(), "events 1 to 10")
    cursor_at_5 = parse(collector.body).events[4].last_event_id
    replica = sentinels.current_replica()
    replica.freeze()
    # Cut its link too: what the master sent before the kill would still reach a frozen
    # replica through its socket's buffer once thawed.
    with client(sentinels.master_address()) as master:
        master.client_kill_filter(_type="replica")
    for number in range(11, 31):
        await log.apublish(token, f"data: {number}\n\n".encode())
    await until(lambda: 30 in collector.numbers(), "events 11 to 30")
    before = sentinels.master_address()
    await asyncio.to_thread(sentinels.kill_master)
    replica.thaw()
    await asyncio.to_thread(sentinels.wait_for_promotion, before, 30)
    for number in range(31, 36):
        await log.apublish(token, f"data: {number}\n\n".encode())
    await until(lambda: collector.resets() > 0, "a reset", 15)
    after_reset = collector.body.split(b"event: reset")[1]
    assert all(line != b"data: 11" for line in after_reset.split(b"\n"))
    late = Collector(subscribe(log, [token], cursor_at_5))
    await until(lambda: b"\n\n" in late.body, "the late subscriber's first event")
    assert late.events()[0][0] == "reset"  # not 6.. from the new master as if nothing happened
    for reader in (collector, late):
        await reader.aclose()
    await store.aclose()
    store.close()


async def test_a_listener_that_cannot_reconnect_ends_its_subscribers_streams(token: str) -> None:
    """Redis gone for longer than the failover window: the subscriber's stream ends (its
    EventSource reconnects and resumes), rather than staying open with nothing coming."""
    with private_redis() as server:
        store = RedisStore(url=server.url, prefix=unique_prefix(), connect_timeout=0.3,
                           failover_timeout=1.0)  # fmt: skip
        collector = await _subscribed(store.channel_log, token)
        await asyncio.to_thread(server.stop)
        await until(lambda: collector.ended, "the subscriber's stream to end", 10)
        await collector.aclose()
        await store.aclose()
        store.close()


@pytest.mark.topology
async def test_wait_replicas_returns_once_the_replica_has_it_and_refuses_without(
    sentinels: SentinelGroup, token: str
) -> None:
    # A replica in sync acknowledges in a few ms; a loaded machine (or a replica resyncing
    # after the previous test's failover) may take longer: the bound is liveness, not speed.
    store = SentinelStore(sentinels, prefix=unique_prefix(), wait_timeout=10)
    log = store.channel_log
    first = await log.apublish(token, b"data: 1\n\n", wait_replicas=1)
    second = await asyncio.to_thread(log.publish, token, b"data: 2\n\n", wait_replicas=1)
    assert second.seq > first.seq
    store.wait_timeout_ms = 300  # the frozen replica's refusals, sooner
    replica = sentinels.current_replica()
    replica.freeze()
    try:
        with pytest.raises(NotReplicated, match="0 of the 1 replicas"):
            await log.apublish(token, b"data: 3\n\n", wait_replicas=1)
        with pytest.raises(NotReplicated):
            await asyncio.to_thread(log.publish, token, b"data: 4\n\n", wait_replicas=1)
        assert (await log.apublish(token, b"data: 5\n\n")).seq > first.seq  # not asked: no wait
    finally:
        replica.thaw()
    await store.aclose()
    store.close()


@pytest.mark.topology
async def test_wait_replicas_for_every_append(sentinels: SentinelGroup) -> None:
    store = SentinelStore(sentinels, prefix=unique_prefix(), wait_replicas=1, wait_timeout=10)
    await store.create("durable", owner="me")
    await store.append("durable", [(1, b"data: 1\n\n")])
    store.wait_timeout_ms = 300
    replica = sentinels.current_replica()
    replica.freeze()
    try:
        with pytest.raises(StoreUnavailable, match="acknowledged"):
            await store.append("durable", [(2, b"data: 2\n\n")])
    finally:
        replica.thaw()
    await store.aclose()


async def test_an_append_sent_again_after_its_reply_was_lost_is_stored_once() -> None:
    """Redis ran the append but its reply was lost with the connection: the append is sent
    again, Redis refuses its id as already there, and that counts as stored."""
    async with proxy_to(shared_redis_port()) as proxy:
        store = RedisStore(url=f"redis://127.0.0.1:{proxy.port}/0", prefix=unique_prefix())
        await store.create("again", owner="me")
        proxy.holding = True
        appending = asyncio.ensure_future(store.append("again", [(1, b"data: 1\n\n")]))
        await until(lambda: b"XADD" in proxy.sent and bool(proxy.held), "the reply, held back")
        proxy.holding = False
        proxy.cut()
        await asyncio.wait_for(appending, 10)
        assert await store.read("again", 0, timeout=0) == ([(1, b"data: 1\n\n")], None)
        await store.aclose()


async def test_a_demoted_masters_readonly_is_retried_until_the_window_ends() -> None:
    with (
        private_redis() as primary,
        private_redis(arguments=["--replicaof", "127.0.0.1", str(primary.port)]) as replica,
    ):
        prefix = unique_prefix()
        writer = RedisStore(url=primary.url, prefix=prefix)
        await writer.create("readonly", owner="me")
        demoted = RedisStore(url=replica.url, prefix=prefix, failover_timeout=0.3)
        with pytest.raises(StoreUnavailable, match=r"^Redis is unavailable for 0.3 s: .*read only"):
            await demoted.append("readonly", [(1, b"data: 1\n\n")])
        await demoted.aclose()
        await writer.aclose()


async def test_a_catch_up_that_finds_events_trimmed_sends_reset(token: str) -> None:
    """Live events held back, more published than a channel keeps, the connection cut: the
    listener subscribes again and the subscriber's catch-up finds some gone."""
    async with proxy_to(shared_redis_port()) as proxy:
        prefix = unique_prefix()
        with override_settings(DJANGO_STREAMING={"CHANNELS": {"MAX_LEN": 2}}):
            watcher = RedisStore(url=f"redis://127.0.0.1:{proxy.port}/0", prefix=prefix)
            publisher = RedisStore(url=shared_redis(), prefix=prefix)
            logs = (watcher.channel_log, publisher.channel_log)  # made with MAX_LEN 2
        collector = await _subscribed(logs[0], token)
        proxy.holding = True
        for number in range(1, 6):
            await logs[1].apublish(token, f"data: {number}\n\n".encode())
        proxy.holding = False
        proxy.cut()
        await until(lambda: 5 in collector.numbers(), "event 5")
        assert [kind for kind, _ in collector.events()] == ["reset", "message", "message"]
        assert collector.numbers() == [4, 5]
        await collector.aclose()
        for store in (watcher, publisher):
            await store.aclose()
            store.close()
