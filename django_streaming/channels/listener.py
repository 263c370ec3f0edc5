"""The pub/sub side of ``RedisChannelLog``: one connection per event loop for all the channels
its subscribers read, whatever their number. When the connection is lost, it subscribes anew
and has every subscriber catch up from the log, since what was published meanwhile never came
(redis-py may also reconnect by itself: a subscription confirmed again is taken as such).

Every command on the connection (subscribe, unsubscribe, close, subscribe anew) takes one
lock, so they reach Redis in the order they were decided: an unsubscribe decided before a new
subscriber came for the same channel can never land after its subscribe."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from django_streaming.stores.base import StoreUnavailable
from django_streaming.stores.redis import as_it_is

from .log import Deliver, Entry

if TYPE_CHECKING:
    from .redis import RedisChannelLog

__all__ = ["Listener"]

#: Seconds between attempts to subscribe again after the connection to Redis was lost.
RECONNECT_DELAYS = (0.05, 0.1, 0.2, 0.5, 1.0)

#: The wait for Redis to confirm a subscription is counted in waits of this many seconds.
CONFIRMATION_SLICE = 0.25


class Listener:
    """One pub/sub connection per event loop for all the channels its subscribers read."""

    def __init__(self, log: RedisChannelLog) -> None:
        self.log = log
        self.delivers: dict[str, set[Deliver]] = {}
        # A future per channel, done once Redis confirmed the subscription.
        self.subscribed: dict[str, asyncio.Future[None]] = {}
        self.pubsub: PubSub | None = None
        self.task: asyncio.Task[None] | None = None
        self.catching_up = False  # resubscribed after a lost connection: confirmations pending
        self.reconnects = 0  # attempts since the connection was lost
        self.commands = asyncio.Lock()  # one command at a time on the connection, in order
        self.closing: set[asyncio.Future[Any]] = set()

    async def add(self, channels: Sequence[str], deliver: Deliver) -> None:
        for channel in channels:
            self.delivers.setdefault(channel, set()).add(deliver)
        try:
            # Only a new channel needs the lock: the thousands who join a channel that is
            # subscribed (or being subscribed) wait for its confirmation together.
            if any(channel not in self.subscribed for channel in channels):
                async with self.commands:
                    new = [channel for channel in channels if channel not in self.subscribed]
                    if new:  # not subscribed anew while this waited for the lock
                        if self.pubsub is None:
                            self.pubsub = self.log.client().pubsub(push_handler_func=as_it_is)
                        for channel in new:
                            self._subscription(channel)
                        await self.pubsub.subscribe(*(self.log.key(channel) for channel in new))
                        self._start_reading()
            waiting = [self.subscribed[channel] for channel in channels]
            await _confirmations(waiting, self.log.store.connect_timeout)
        except (RedisError, OSError, TimeoutError) as error:
            self.remove(channels, deliver)
            raise StoreUnavailable(f"Redis is unavailable: {error}") from error
        except asyncio.CancelledError:  # its client went away while it waited
            self.remove(channels, deliver)
            raise

    def _start_reading(self) -> None:
        if self.task is None:  # once subscribed: there is a connection to read
            self.task = asyncio.get_running_loop().create_task(self._read())

    def _subscription(self, channel: str) -> asyncio.Future[None]:
        future = self.subscribed.get(channel)
        if future is None:
            future = self.subscribed[channel] = asyncio.get_running_loop().create_future()
        return future

    def remove(self, channels: Sequence[str], deliver: Deliver) -> None:
        gone = []
        for channel in channels:
            delivers = self.delivers.get(channel, set())
            delivers.discard(deliver)
            if not delivers:
                self.delivers.pop(channel, None)
                self.subscribed.pop(channel, None)
                gone.append(channel)
        if not self.delivers:
            self._close()
        elif gone and self.pubsub is not None:
            _in_background(self._unsubscribe(self.pubsub, gone))

    async def _unsubscribe(self, pubsub: PubSub, channels: list[str]) -> None:
        async with self.commands:
            # A channel joined again meanwhile stays; a connection replaced has nothing to undo.
            left = [channel for channel in channels if channel not in self.delivers]
            if left and pubsub is self.pubsub:
                await pubsub.unsubscribe(*(self.log.key(channel) for channel in left))

    async def aclose(self) -> None:
        task, pubsub = self.task, self.pubsub
        self._close(in_background=False)
        if task is not None:
            await asyncio.wait((task,))
        if pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()
        if self.closing:  # the last subscriber's leaving started closing its connection
            await asyncio.wait(self.closing)

    def _close(self, *, in_background: bool = True) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task = None
        if self.pubsub is not None and in_background:
            closing = _in_background(self._aclose(self.pubsub))
            self.closing.add(closing)
            closing.add_done_callback(self.closing.discard)
        self.pubsub = None
        self.subscribed.clear()

    async def _aclose(self, pubsub: PubSub) -> None:
        async with self.commands:
            await pubsub.aclose()

    async def _read(self) -> None:
        prefix = len(self.log.key(""))
        while True:
            pubsub = self.pubsub
            assert pubsub is not None
            try:
                # Not pubsub.listen(), which ends when redis-py counts no subscription left
                # (an unsubscribe confirmed just before a subscribe is sent): this ends only
                # with an error, or with the last subscriber's leaving, which cancels it.
                while True:
                    response = await pubsub.parse_response(block=True)
                    message = await pubsub.handle_message(response)  # type: ignore[no-untyped-call]
                    self.reconnects = 0
                    channel = message["channel"].decode()[prefix:]
                    if message["type"] == "message":
                        seq, _, body = message["data"].partition(b" ")
                        entry = Entry(int(seq), channel, body)
                        for deliver in list(self.delivers.get(channel, ())):
                            deliver(entry)
                    elif message["type"] == "subscribe":
                        self._confirmed(channel)
            except (RedisError, OSError):
                pass
            # The connection was lost: subscribe anew; once Redis confirms, every subscriber
            # catches up from the log, since what was published meanwhile never came.
            self.catching_up = True
            while True:
                delay = RECONNECT_DELAYS[min(self.reconnects, len(RECONNECT_DELAYS) - 1)]
                self.reconnects += 1
                await asyncio.sleep(delay)
                async with self.commands:
                    with contextlib.suppress(RedisError, OSError):
                        await pubsub.aclose()
                    pubsub = self.pubsub = self.log.client().pubsub(push_handler_func=as_it_is)
                    # A subscriber still waiting for its confirmation keeps its future: the
                    # subscription anew confirms it.
                    self.subscribed = {
                        channel: future
                        for channel, future in self.subscribed.items()
                        if not future.done() and channel in self.delivers
                    }
                    channels = list(self.delivers)
                    for channel in channels:
                        self._subscription(channel)
                    try:
                        await pubsub.subscribe(*(self.log.key(channel) for channel in channels))
                        break
                    except (RedisError, OSError):
                        continue

    def _confirmed(self, channel: str) -> None:
        future = self.subscribed.get(channel)
        if future is not None and future.done() and not self.catching_up:
            # Subscribed again without our asking: redis-py reconnected on its own, and what
            # was published meanwhile never came. The channel's subscribers catch up.
            for deliver in list(self.delivers.get(channel, ())):
                deliver(None)
        if future is not None and not future.done():
            future.set_result(None)
        if self.catching_up and all(future.done() for future in self.subscribed.values()):
            self.catching_up = False
            for deliver in {deliver for delivers in self.delivers.values() for deliver in delivers}:
                deliver(None)


async def _confirmations(futures: list[asyncio.Future[None]], seconds: float) -> None:
    """Wait for ``futures`` for ``seconds`` of the loop's own time, in short waits: a pause of
    the whole process (a stopped VM, a long collection) ends one of them, not all, so that a
    confirmation which arrived during the pause is still read before the wait gives up."""
    if all(future.done() for future in futures):
        return
    # One callback on each shared future for the whole wait (thousands may wait on one), and
    # never cancelled: asyncio.wait() leaves what it waits for alone.
    confirmed = asyncio.gather(*futures)
    for _ in range(max(1, math.ceil(seconds / CONFIRMATION_SLICE))):
        done, _ = await asyncio.wait((confirmed,), timeout=CONFIRMATION_SLICE)
        if done:
            return
    raise TimeoutError(f"no confirmation of the subscription in {seconds:g} s")


_background: set[asyncio.Future[Any]] = set()


def _in_background(work: Any) -> asyncio.Future[Any]:
    """Run ``work`` (an unsubscribe, a close) without waiting: errors mean the connection is
    gone anyway."""
    future: asyncio.Future[Any] = asyncio.ensure_future(work)
    _background.add(future)
    future.add_done_callback(_background.discard)
    future.add_done_callback(_ignore_errors)
    return future


def _ignore_errors(future: asyncio.Future[Any]) -> None:
    _ = future.cancelled() or future.exception()  # retrieved: the connection is gone anyway
