"""The channel log of ``RedisStore``: every worker's subscribers get every event.

Under the store's ``prefix``:

* ``{prefix}:channels:seq`` the sequence counter shared by all channels, and
  ``{prefix}:channels:epoch`` a random token set once: both vanish with a Redis that restarts
  without persistence, and the new epoch tells cursors from before that their events are gone;
* ``{prefix}:channel:{name}`` a Redis Stream per channel, entry ids ``<seq>-0``, capped at
  ``MAX_LEN`` entries (Redis remembers the last one it trimmed) and expiring ``TTL`` seconds
  after its last event;
* the pub/sub channel ``{prefix}:channel:{name}``, on which each event is also published.

One script does all of a publish, so events get their numbers in the order they are stored and
published. A process holds one pub/sub connection per event loop for all the channels its
subscribers read, whatever their number (``listener.py``); a replay reads the Redis Streams.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import redis
from redis.asyncio import BlockingConnectionPool
from redis.asyncio import Redis as AsyncRedis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from django_streaming.conf import get_config
from django_streaming.stores.base import StoreUnavailable

from .listener import Listener
from .log import Deliver, Entry, Head, Replay

if TYPE_CHECKING:
    from django_streaming.stores.redis import RedisStore

__all__ = ["RedisChannelLog"]

T = TypeVar("T")

# KEYS: the counter, the epoch, the channel's stream, its trimmed marker. ARGV: the event's
# bytes, max_len, the TTL in ms, the pub/sub channel, an epoch to set if there is none. The
# marker holds the id of the last entry trimmed away, for replays to know what is gone.
# Returns the event's number.
_PUBLISH = """
redis.call('SET', KEYS[2], ARGV[5], 'NX')
local seq = redis.call('INCR', KEYS[1])
local excess = redis.call('XLEN', KEYS[3]) + 1 - tonumber(ARGV[2])
if excess > 0 then
  local trimmed = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', excess)
  redis.call('SET', KEYS[4], trimmed[#trimmed][1])
end
redis.call('XADD', KEYS[3], 'MAXLEN', ARGV[2], seq .. '-0', 'd', ARGV[1])
redis.call('PEXPIRE', KEYS[3], ARGV[3])
redis.call('PEXPIRE', KEYS[4], ARGV[3])
redis.call('PUBLISH', ARGV[4], seq .. ' ' .. ARGV[1])
return seq
"""
#: Connections to Redis per event loop for channels, whatever the number of subscribers and
#: channels: the pub/sub one, and the rest for publishing, replays and cursors (a request waits
#: for one rather than opening more).
MAX_CONNECTIONS = 10
#: Seconds a request for a connection waits when all are busy.
CONNECTION_WAIT = 5.0


class RedisChannelLog:
    def __init__(self, store: RedisStore) -> None:
        self.store = store
        retention = get_config()["CHANNELS"]
        self.max_len = retention["MAX_LEN"]
        self.ttl = retention["TTL"]
        self._seq_key = f"{store.prefix}:channels:seq"
        self._epoch_key = f"{store.prefix}:channels:epoch"
        self._sync: redis.Redis | None = None
        self._sync_lock = threading.Lock()
        self._listeners: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Listener] = (
            weakref.WeakKeyDictionary()
        )
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncRedis] = (
            weakref.WeakKeyDictionary()
        )
        self._heads: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _SharedRead[Head]] = (
            weakref.WeakKeyDictionary()
        )

    def client(self) -> AsyncRedis:
        """The running loop's client for channels: at most ``MAX_CONNECTIONS`` connections."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            pool = BlockingConnectionPool.from_url(
                self.store.url,
                max_connections=MAX_CONNECTIONS,
                timeout=CONNECTION_WAIT,
                socket_connect_timeout=self.store.connect_timeout,
                retry=Retry(NoBackoff(), 1),
            )
            client = self._clients[loop] = AsyncRedis.from_pool(pool)  # closes it with itself
        return client

    def key(self, channel: str) -> str:
        return f"{self.store.prefix}:channel:{channel}"

    def _arguments(self, channel: str, body: bytes) -> tuple[list[str], list[Any]]:
        keys = [self._seq_key, self._epoch_key, self.key(channel), self.key(channel) + ":trimmed"]
        ttl_ms = int(self.ttl * 1000)
        return keys, [body, self.max_len, ttl_ms, self.key(channel), secrets.token_urlsafe(6)]

    def publish(self, channel: str, body: bytes) -> int:
        keys, arguments = self._arguments(channel, body)
        try:
            return int(self._sync_client().eval(_PUBLISH, len(keys), *keys, *arguments))
        except (RedisError, OSError) as error:
            raise StoreUnavailable(f"Redis is unavailable: {error}") from error

    async def apublish(self, channel: str, body: bytes) -> int:
        keys, arguments = self._arguments(channel, body)
        try:
            return int(await self.client().eval(_PUBLISH, len(keys), *keys, *arguments))
        except (RedisError, OSError) as error:
            raise StoreUnavailable(f"Redis is unavailable: {error}") from error

    def _sync_client(self) -> redis.Redis:
        with self._sync_lock:  # its pool is thread-safe; making it once is what needs a lock
            if self._sync is None:
                self._sync = redis.Redis.from_url(
                    self.store.url, socket_connect_timeout=self.store.connect_timeout
                )
            return self._sync

    def close(self) -> None:
        """Close the connections of ``publish()``, which belong to no event loop."""
        with self._sync_lock:
            if self._sync is not None:
                self._sync.close()
                self._sync = None

    def loops(self) -> set[asyncio.AbstractEventLoop]:
        """The event loops that have connections of this log's."""
        return set(self._clients) | set(self._listeners)

    async def aclose(self, loop: asyncio.AbstractEventLoop) -> None:
        """Close the pub/sub connection of ``loop``'s subscribers, who are all gone."""
        listener = self._listeners.pop(loop, None)
        if listener is not None:
            await listener.aclose()
        client = self._clients.pop(loop, None)
        if client is not None:
            await client.aclose()

    async def head(self) -> Head:
        # Thousands of subscribers arriving together share a few reads (each a read started
        # after its call), rather than queueing for the loop's connections.
        loop = asyncio.get_running_loop()
        shared = self._heads.get(loop)
        if shared is None:
            shared = self._heads[loop] = _SharedRead(self._read_head)
        return await shared()

    async def _read_head(self) -> Head:
        try:
            client = self.client()
            await client.set(self._epoch_key, secrets.token_urlsafe(6), nx=True)
            epoch, seq = await client.mget(self._epoch_key, self._seq_key)
        except (RedisError, OSError) as error:
            raise StoreUnavailable(f"Redis is unavailable: {error}") from error
        assert isinstance(epoch, bytes)  # set just above, if it was not already
        return Head(epoch.decode(), int(seq or 0))

    @asynccontextmanager
    async def listen(self, channels: Sequence[str], deliver: Deliver) -> AsyncIterator[Head]:
        async with self.watch(channels, deliver):
            yield await self.head()  # once subscribed: what comes later arrives live

    @asynccontextmanager
    async def watch(self, channels: Sequence[str], deliver: Deliver) -> AsyncIterator[None]:
        """``deliver`` what is published on the pub/sub ``channels`` (raw names: the resumable
        streams' wake-ups too) while in the block, on this loop's one connection."""
        loop = asyncio.get_running_loop()
        listener = self._listeners.get(loop)
        if listener is None:
            listener = self._listeners[loop] = Listener(self)
        await listener.add(channels, deliver)
        try:
            yield
        finally:
            listener.remove(channels, deliver)

    async def replay(self, channels: Sequence[str], after: int, until: int, since: int) -> Replay:
        if after >= until:
            return Replay([], lost=False)
        try:
            async with self.client().pipeline(transaction=False) as pipe:
                for channel in channels:
                    pipe.exists(self.key(channel))
                    pipe.get(self.key(channel) + ":trimmed")
                    pipe.xrange(self.key(channel), f"{after + 1}-0", f"{until}-0")
                results = await pipe.execute()
        except (RedisError, OSError) as error:
            raise StoreUnavailable(f"Redis is unavailable: {error}") from error
        entries: list[Entry] = []
        lost = False
        rows = zip(channels, results[::3], results[1::3], results[2::3], strict=True)
        for channel, exists, trimmed, events in rows:
            if not exists:  # never written, or expired
                lost |= time.time() - since >= self.ttl
                continue
            lost |= trimmed is not None and int(trimmed.split(b"-")[0]) > after
            entries.extend(
                Entry(int(entry_id.split(b"-")[0]), channel, fields[b"d"])
                for entry_id, fields in events
            )
        entries.sort(key=lambda entry: entry.seq)
        return Replay(entries, lost=lost)


class _SharedRead(Generic[T]):
    """One read for the callers that come in the same turn of the event loop, started after all
    of them: each gets a result at least as recent as its call (what ``listen()`` needs of the
    head: read once subscribed)."""

    def __init__(self, read: Callable[[], Awaitable[T]]) -> None:
        self._read = read
        self._next: asyncio.Future[T] | None = None

    async def __call__(self) -> T:
        if self._next is None:
            self._next = asyncio.ensure_future(self._run())
            # Retrieved even when every caller was cancelled meanwhile.
            self._next.add_done_callback(lambda read: read.cancelled() or read.exception())
        return await asyncio.shield(self._next)

    async def _run(self) -> T:
        await asyncio.sleep(0)  # the callers of this turn join
        self._next = None  # a caller from now on needs a read that starts after it
        return await self._read()
