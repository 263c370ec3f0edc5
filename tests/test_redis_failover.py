"""Failover of a real Sentinel group (``tests/support/redis_topologies.py``): its master
SIGKILLed while a resumable generation appends, or while channels publish; a replica frozen
behind and promoted. Nothing acknowledged is lost in silence: calls retry through the failover
window, and what the store lost shows as ``reset``, a gap or ``lost``."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff

from django_streaming.backends.redis import RedisStore
from django_streaming.backends.redis.channel_log import RedisChannelLog
from django_streaming.resumable import Generation
from django_streaming.resumable.tail import tail
from django_streaming.sse import Event
from tests.support.redis_servers import unique_prefix
from tests.support.redis_topologies import SentinelGroup, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.topology]


class _SentinelChannelLog(RedisChannelLog):
    store: SentinelStore

    def client(self) -> Any:
        return self.store.client()

    def _sync_client(self) -> Any:
        with self._sync_lock:
            if self._sync is None:
                sentinel = redis.sentinel.Sentinel(self.store.sentinels, socket_timeout=1)
                self._sync = sentinel.master_for(
                    self.store.service_name, socket_connect_timeout=self.store.connect_timeout
                )
            return self._sync


class SentinelStore(RedisStore):
    """A ``RedisStore`` whose clients ask the sentinels where the master is (until the store
    has options of its own for Sentinel)."""

    def __init__(self, group: SentinelGroup, **options: Any) -> None:
        super().__init__(url="redis://sentinel-managed/0", **options)
        self.sentinels = group.sentinel_addresses
        self.service_name = group.service_name
        self._sentinel_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def channel_log(self) -> RedisChannelLog:
        log = self.__dict__.get("channel_log")
        if log is None:
            log = self.__dict__["channel_log"] = _SentinelChannelLog(self)
        return log

    def client(self) -> Any:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            sentinel = Sentinel(self.sentinels, socket_timeout=1, socket_connect_timeout=1)
            self._sentinel_clients[loop] = sentinel
            client = self._clients[loop] = sentinel.master_for(
                self.service_name,
                retry=Retry(NoBackoff(), 1),
                socket_connect_timeout=self.connect_timeout,
                socket_timeout=self.lease + self.connect_timeout + 1,
            )
        return client

    async def aclose(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        await super().aclose(loop)
        sentinel = self._sentinel_clients.pop(loop or asyncio.get_running_loop(), None)
        if sentinel is not None:
            for connection in sentinel.sentinels:
                await connection.aclose()


def _event(number: int) -> Event:
    return Event(data=str(number))


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
