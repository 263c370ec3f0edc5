"""The Redis pub/sub listener under the timings that break such code: a confirmation that
arrives while the process is paused, a connection lost between a subscribe and its
confirmation, a channel left and joined again in one turn of the loop, a Redis that never
answers. Through a real Redis, with a proxy in between where the timing is the test."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from django_streaming.backends.redis import RedisStore
from django_streaming.backends.redis.listener import Listener
from django_streaming.channels.log import Entry
from django_streaming.stores import StoreUnavailable
from tests.support.proxy import Proxy, proxy_to
from tests.support.redis_servers import shared_redis, shared_redis_port, unique_prefix
from tests.support.servers import until

pytestmark = pytest.mark.redis


@asynccontextmanager
async def listener_through(
    proxy: Proxy | None, connect_timeout: float = 1.0
) -> AsyncIterator[Listener]:
    url = shared_redis() if proxy is None else f"redis://127.0.0.1:{proxy.port}/0"
    store = RedisStore(url=url, prefix=unique_prefix(), connect_timeout=connect_timeout)
    listener = Listener(store.channel_log)
    try:
        yield listener
    finally:
        await listener.aclose()
        await store.aclose()
        store.close()


async def published(listener: Listener, channel: str, got: list[Entry | None]) -> None:
    """Publish on ``channel`` through Redis itself, and wait for ``got`` to have it."""
    await listener.log.apublish(channel, b"data: x\n\n")
    await until(lambda: any(entry is not None for entry in got), f"an event on {channel}")


async def test_a_confirmation_that_came_while_the_process_was_paused_still_counts() -> None:
    shared_redis()
    async with (
        proxy_to(shared_redis_port()) as proxy,
        listener_through(proxy, connect_timeout=0.3) as listener,
    ):
        await listener.add(["a"], lambda entry: None)  # connected: what is held is about x
        proxy.holding = True
        got: list[Entry | None] = []
        adding = asyncio.create_task(listener.add(["x"], got.append))
        await until(lambda: bool(proxy.held), "Redis to confirm the subscription")
        assert not adding.done()  # waiting for the confirmation the proxy holds
        proxy.release()
        # The whole process pauses (a stopped VM, a long collection) for longer than the
        # wait for a confirmation, while the confirmation reaches its socket.
        time.sleep(0.6)  # noqa: ASYNC251 - blocking the loop is the point
        await adding
        await published(listener, "x", got)


async def test_a_subscriber_waiting_while_the_connection_is_lost_is_confirmed_anew() -> None:
    shared_redis()
    async with proxy_to(shared_redis_port()) as proxy, listener_through(proxy) as listener:
        first: list[Entry | None] = []
        await listener.add(["a"], first.append)
        proxy.holding = True
        second: list[Entry | None] = []
        adding = asyncio.create_task(listener.add(["b"], second.append))
        await until(lambda: bool(proxy.held), "Redis to confirm the subscription")
        # The confirmation is lost with the connection, and redis-py's own reconnect fails:
        # the listener subscribes anew, once Redis can be reached again.
        proxy.refusing = True
        proxy.cut()
        await until(lambda: listener.catching_up, "the listener to subscribe anew")
        proxy.holding = proxy.refusing = False
        await adding  # confirmed by the subscription made anew
        await published(listener, "b", second)
        assert None in first  # the subscriber already there catches up from the log


async def test_a_subscriber_cancelled_while_waiting_leaves_the_others_waiting() -> None:
    """A client that goes away during the wait cancels its own wait, not the confirmation
    that the others joining the same channel wait for."""
    shared_redis()
    async with proxy_to(shared_redis_port()) as proxy, listener_through(proxy) as listener:
        await listener.add(["a"], lambda entry: None)  # connected: what is held is about x
        proxy.holding = True
        leaving: list[Entry | None] = []
        staying: list[Entry | None] = []
        first = asyncio.create_task(listener.add(["x"], leaving.append))
        second = asyncio.create_task(listener.add(["x"], staying.append))
        await until(lambda: bool(proxy.held), "Redis to confirm the subscription")
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        assert listener.delivers["x"] == {staying.append}  # the one cancelled is gone
        proxy.release()
        await second
        await published(listener, "x", staying)


async def test_subscribers_queueing_for_a_new_channel_subscribe_it_once() -> None:
    shared_redis()
    async with proxy_to(shared_redis_port()) as proxy, listener_through(proxy) as listener:
        got: list[list[Entry | None]] = [[], [], []]
        # The first holds the lock on z while the two for x queue behind it.
        await asyncio.gather(*(
            listener.add([channel], into.append)
            for channel, into in zip(["z", "x", "x"], got, strict=True)
        ))  # fmt: skip
        assert proxy.sent.count(listener.log.key("x").encode()) == 1
        await published(listener, "x", got[2])


async def test_a_channel_left_is_unsubscribed_and_one_still_read_stays() -> None:
    async with listener_through(None) as listener:
        redis = listener.log.client()

        async def subscribers(channel: str) -> int:
            [(_, count)] = await redis.pubsub_numsub(listener.log.key(channel))
            return int(count)

        await listener.add(["y"], lambda entry: None)
        leaving: list[Entry | None] = []
        await listener.add(["x"], leaving.append)
        assert await subscribers("x") == 1
        listener.remove(["x"], leaving.append)

        async def x_is_gone() -> bool:
            return await subscribers("x") == 0

        await until(x_is_gone, "Redis to unsubscribe x")
        assert await subscribers("y") == 1


async def test_a_channel_left_and_joined_again_in_one_turn_stays_subscribed() -> None:
    async with listener_through(None) as listener:
        staying: list[Entry | None] = []
        await listener.add(["y"], staying.append)  # keeps the connection open
        leaving: list[Entry | None] = []
        await listener.add(["x"], leaving.append)
        listener.remove(["x"], leaving.append)  # its unsubscribe is on its way...
        joining: list[Entry | None] = []
        await listener.add(["x"], joining.append)  # ...as x is subscribed again
        await published(listener, "x", joining)


async def test_a_redis_that_never_confirms_is_unavailable_after_the_timeout() -> None:
    shared_redis()
    async with (
        proxy_to(shared_redis_port()) as proxy,
        listener_through(proxy, connect_timeout=0.3) as listener,
    ):
        await listener.add(["a"], lambda entry: None)  # connected
        proxy.holding = True
        got: list[Entry | None] = []
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="no confirmation"):
            await listener.add(["x"], got.append)
        assert time.monotonic() - started >= 0.3
        assert "x" not in listener.delivers  # the subscriber is gone with its error


async def test_a_number_not_above_the_last_in_its_epoch_means_the_store_went_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Its subscribers then catch up from the log (``None``); a new epoch is theirs to judge
    (its first number follows without a reset)."""
    store = RedisStore(url=shared_redis(), prefix=unique_prefix())
    listener = Listener(store.channel_log)
    assert not listener._went_back("x", Entry(0, "x", b"", epoch=""))  # a wake-up
    assert not listener._went_back("x", Entry(7, "x", b"", epoch="first!"))
    assert listener._went_back("x", Entry(6, "x", b"", epoch="first!"))
    assert "the store went backwards" in caplog.text
    assert not listener._went_back("x", Entry(1, "x", b"", epoch="second"))
    assert not listener._went_back("y", Entry(1, "y", b"", epoch="first!"))
    store.close()
