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
import logging
import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisClusterException, RedisError

from django_streaming import metrics
from django_streaming.stores.channel_log import FEED_LOST, Deliver, Entry

from .errors import cancellations_kept, classify

if TYPE_CHECKING:
    from .channel_log import RedisChannelLog

__all__ = ["Listener", "as_it_is"]

logger = logging.getLogger("django_streaming")

#: Seconds between attempts to subscribe again after the connection to Redis was lost.
RECONNECT_DELAYS = (0.05, 0.1, 0.2, 0.5, 1.0)

#: Seconds of one wait for a sharded message (a cluster's nodes are polled in turn, a share of
#: this each): the most a message waits for its node's turn.
SHARDED_POLL = 0.05

#: The wait for Redis to confirm a subscription is counted in waits of this many seconds.
CONFIRMATION_SLICE = 0.25


async def as_it_is(message: Any) -> Any:
    """A pub/sub message as it came. (redis-py's default handler formats each one for a debug
    log, whatever the level: 80 µs a message, most of a message's cost here.)"""
    return message


class Listener:
    """One pub/sub connection per event loop for all the channels its subscribers read."""

    def __init__(self, log: RedisChannelLog) -> None:
        self.log = log
        # In a cluster: SSUBSCRIBE, each channel on the node of its slot (redis-py's
        # ClusterPubSub routes them, one connection per node that has some).
        self.sharded = log.store.sharded
        # By channel (or a stream's wake-up or stop: ``RedisChannelLog.pubsub_name()``).
        self.delivers: dict[str, set[Deliver]] = {}
        # A future per channel, done once Redis confirmed the subscription.
        self.subscribed: dict[str, asyncio.Future[None]] = {}
        self.pubsub: Any = None  # redis-py's PubSub, or ClusterPubSub in a cluster
        self.task: asyncio.Task[None] | None = None
        self.catching_up = False  # resubscribed after a lost connection: confirmations pending
        self.reconnects = 0  # attempts since the connection was lost
        self.lost_since: float | None = None  # when (monotonic), if it is lost now
        # The epoch and highest number each channel's live events had: one not above it, in
        # the same epoch, means the store went backwards (a failover to a replica that was
        # behind).
        self.highest: dict[str, tuple[str, int]] = {}
        self.commands = asyncio.Lock()  # one command at a time on the connection, in order
        self.closing: set[asyncio.Future[Any]] = set()

    async def add(self, channels: Sequence[str], deliver: Deliver) -> None:
        for channel in channels:
            self.delivers.setdefault(channel, set()).add(deliver)
        metrics.listener_channels(self, len(self.delivers))
        try:
            with cancellations_kept():  # redis-py may drop one (errors.py)
                # Only a new channel needs the lock: the thousands who join a channel that is
                # subscribed (or being subscribed) wait for its confirmation together.
                if any(channel not in self.subscribed for channel in channels):
                    async with self.commands:
                        new = [channel for channel in channels if channel not in self.subscribed]
                        if new:  # not subscribed anew while this waited for the lock
                            if self.pubsub is None:
                                self.pubsub = self.log.pubsub()
                            for channel in new:
                                self._subscription(channel)
                            await self._subscribe(self.pubsub, new)
                            self._start_reading()
                waiting = [self.subscribed[channel] for channel in channels]
                await _confirmations(waiting, self.log.store.connect_timeout)
        except (RedisError, RedisClusterException, OSError, TimeoutError) as error:
            self.remove(channels, deliver)
            raise classify(error) from error
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
                self.highest.pop(channel, None)
                gone.append(channel)
        metrics.listener_channels(self, len(self.delivers))
        if not self.delivers:
            self._close()
        elif gone and self.pubsub is not None:
            _in_background(self._unsubscribe(self.pubsub, gone))

    async def _unsubscribe(self, pubsub: Any, channels: list[str]) -> None:
        async with self.commands:
            # A channel joined again meanwhile stays; a connection replaced has nothing to undo.
            left = [channel for channel in channels if channel not in self.delivers]
            if left and pubsub is self.pubsub:
                names = [self.log.pubsub_name(channel) for channel in left]
                if self.sharded:
                    await pubsub.sunsubscribe(*names)
                else:
                    await pubsub.unsubscribe(*names)

    async def _subscribe(self, pubsub: Any, channels: list[str]) -> None:
        names = [self.log.pubsub_name(channel) for channel in channels]
        if self.sharded:
            await pubsub.ssubscribe(*names)
        else:
            await pubsub.subscribe(*names)

    async def _next_message(self, pubsub: Any) -> dict[str, Any]:
        """The next message (or confirmation) on the connection; an error when it is lost."""
        if not self.sharded:
            response = await pubsub.parse_response(block=True)
            message: dict[str, Any] = await pubsub.handle_message(response)
            return message
        sharded = None
        while sharded is None:  # redis-py polls the nodes in turn, a slice of the timeout each
            sharded = await pubsub.get_sharded_message(timeout=SHARDED_POLL)
        return dict(sharded)

    async def aclose(self) -> None:
        task, pubsub = self.task, self.pubsub
        self._close(in_background=False)
        if task is not None:
            await asyncio.wait((task,))
        if pubsub is not None:
            with contextlib.suppress(RedisError, RedisClusterException, OSError):
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

    async def _aclose(self, pubsub: Any) -> None:
        async with self.commands:
            await pubsub.aclose()

    async def _read(self) -> None:
        while True:
            pubsub = self.pubsub
            if pubsub is None:  # pragma: no cover - closed while it subscribed again (its last
                return  # subscriber left; redis-py may swallow the cancellation that came too)
            try:
                # Not pubsub.listen(), which ends when redis-py counts no subscription left
                # (an unsubscribe confirmed just before a subscribe is sent): this ends only
                # with an error, or with the last subscriber's leaving, which cancels it.
                while True:
                    message = await self._next_message(pubsub)
                    self.reconnects = 0
                    self.lost_since = None
                    channel = self.log.channel_of(message["channel"].decode())
                    kind = message["type"]
                    if kind in ("message", "smessage"):
                        # <seq>.<sent>.<epoch> <bytes> (a stream's wake-up or stop: "0 ")
                        number, _, body = message["data"].partition(b" ")
                        seq, _, stamp = number.partition(b".")
                        sent, _, epoch = stamp.partition(b".")
                        entry = Entry(
                            int(seq), channel, body, int(sent) if sent else None, epoch.decode()
                        )
                        went_back = self._went_back(channel, entry)
                        for deliver in list(self.delivers.get(channel, ())):
                            deliver(None if went_back else entry)
                    elif kind in ("subscribe", "ssubscribe"):
                        self._confirmed(channel)
            except (RedisError, RedisClusterException, OSError):
                pass
            # The connection was lost: subscribe anew; once Redis confirms, every subscriber
            # catches up from the log, since what was published meanwhile never came.
            self.catching_up = True
            self.lost_since = time.monotonic() if self.lost_since is None else self.lost_since
            metrics.pubsub_reconnect()
            while True:
                if time.monotonic() - self.lost_since > self.log.store.failover_timeout:
                    await self._give_up(pubsub)
                    return
                delay = RECONNECT_DELAYS[min(self.reconnects, len(RECONNECT_DELAYS) - 1)]
                self.reconnects += 1
                await asyncio.sleep(delay)
                async with self.commands:
                    with contextlib.suppress(RedisError, RedisClusterException, OSError):
                        await pubsub.aclose()
                    pubsub = self.pubsub = self.log.pubsub()
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
                        await self._subscribe(pubsub, channels)
                        break
                    except (RedisError, RedisClusterException, OSError):
                        continue

    def _went_back(self, channel: str, entry: Entry) -> bool:
        """Whether ``entry`` is not above the last live number of ``channel`` in its epoch
        (numbered ones: the resumable streams' wake-ups are 0). Its subscribers then catch up
        from the log, which tells them what the store lost (``reset``). (A new epoch is the
        subscribers' to judge: ``channels/subscription.py``.)"""
        if entry.seq <= 0:
            return False
        epoch, highest = self.highest.get(channel, ("", 0))
        self.highest[channel] = (entry.epoch, entry.seq)
        if entry.epoch != epoch or entry.seq > highest:
            return False
        logger.warning(
            "Channel %s got event %s after %s: the store went backwards (data lost).",
            channel,
            entry.seq,
            highest,
        )
        return True

    async def _give_up(self, pubsub: Any) -> None:
        """Redis stayed away past the failover window: every subscriber's stream ends (its
        client reconnects, and resumes from its cursor or gets ``reset``), rather than staying
        open with nothing coming. A subscriber from now on starts a connection anew."""
        logger.warning(
            "Redis could not be reached again within %s s: ending %s channel subscriptions.",
            self.log.store.failover_timeout,
            len(self.delivers),
        )
        delivers = {deliver for delivers in self.delivers.values() for deliver in delivers}
        self.delivers.clear()
        self.subscribed.clear()
        self.task = None  # this one, ending
        self.pubsub = None
        self.lost_since = None
        self.reconnects = 0
        self.catching_up = False
        for deliver in delivers:
            deliver(FEED_LOST)
        async with self.commands:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()

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
