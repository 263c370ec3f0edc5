"""The channel log of ``RedisStore``: every worker's subscribers get every event.

Under the store's ``prefix``, all with the hash tag ``{prefix}`` (one slot of a cluster: one
sequence orders every channel, so a publish touches the counter and its channel at once):

* ``prefix:channels:{prefix}:seq`` the sequence counter shared by all channels, and
  ``prefix:channels:{prefix}:epoch`` a random token set once: both vanish with a Redis that
  restarts without persistence, and the new epoch tells cursors from before that their events
  are gone;
* ``prefix:channel:{prefix}:<name>`` a Redis Stream per channel, entry ids ``<seq>-0``, capped
  at ``MAX_LEN`` entries (Redis remembers the last one it trimmed) and expiring ``TTL``
  seconds after its last event; each entry holds the event's bytes (``d``) and when it was
  published (``t``, seconds: its cursors carry it, so every subscriber frames it alike);
* the pub/sub channel of the same name, on which each event is also published as
  ``<seq>.<sent> <bytes>`` (``SPUBLISH`` in a cluster: to the node of that slot only, not to
  every node).

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

from redis.exceptions import RedisClusterException, RedisError

from django_streaming.conf import get_config
from django_streaming.stores.base import NotReplicated
from django_streaming.stores.channel_log import Deliver, Entry, Head, Published, Replay

from . import clients, scripts
from .errors import classify, on_error
from .failover import retry, retry_sync
from .listener import Listener, as_it_is
from .presence import RedisPresence

if TYPE_CHECKING:
    from .store import RedisStore

__all__ = ["RedisChannelLog"]

T = TypeVar("T")

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
        self._tag = f"{{{store.prefix}}}"
        self._seq_key = f"{store.prefix}:channels:{self._tag}:seq"
        self._epoch_key = f"{store.prefix}:channels:{self._tag}:epoch"
        self._publish_command = "SPUBLISH" if store.sharded else "PUBLISH"
        self._sync: Any = None
        self._sync_lock = threading.Lock()
        self._listeners: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Listener] = (
            weakref.WeakKeyDictionary()
        )
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )
        self._pubsub_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )
        self._heads: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _SharedRead[Head]] = (
            weakref.WeakKeyDictionary()
        )
        self.presence = RedisPresence(self)

    def client(self) -> Any:
        """The running loop's client for channels: at most ``MAX_CONNECTIONS`` connections."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = clients.channel_client(
                self.store.topology,
                connect_timeout=self.store.connect_timeout,
                max_connections=MAX_CONNECTIONS - 1,  # and the pub/sub one
                wait=CONNECTION_WAIT,
            )
        return client

    def key(self, channel: str) -> str:
        """The Redis Stream of ``channel``, and its pub/sub channel."""
        return f"{self.store.prefix}:channel:{self._tag}:{channel}"

    def _arguments(self, channel: str, body: bytes) -> tuple[list[str], list[Any], int]:
        token = self.key(channel) + ":published:" + secrets.token_urlsafe(12)
        keys = [
            self._seq_key,
            self._epoch_key,
            self.key(channel),
            self.key(channel) + ":trimmed",
            token,
        ]
        ttl_ms = int(self.ttl * 1000)
        token_ms = int(max(self.store.failover_timeout * 2, 1) * 1000)  # past the last retry
        epoch = secrets.token_urlsafe(6)
        publish = self._publish_command
        # Decided once, so that a publish sent again stores and returns the same time.
        sent = int(time.time())
        arguments = [body, self.max_len, ttl_ms, self.key(channel), epoch, token_ms, publish, sent]
        return keys, arguments, sent

    def publish(self, channel: str, body: bytes, *, wait_replicas: int | None = None) -> Published:
        keys, arguments, sent = self._arguments(channel, body)
        replicas = self.store.wait_replicas if wait_replicas is None else wait_replicas

        def attempt() -> Published:
            client = self._sync_client()
            if not replicas:
                return _published(client.eval(scripts.PUBLISH, len(keys), *keys, *arguments), sent)
            with client.pipeline(transaction=False) as pipe:
                # EVAL by name: redis-py's sync cluster pipeline has no eval().
                pipe.execute_command("EVAL", scripts.PUBLISH, len(keys), *keys, *arguments)
                self.store.wait_in(pipe, client, [self.key(channel)], replicas)
                stored, acknowledged = pipe.execute()
            return _replicated(_published(stored, sent), int(acknowledged), replicas, self.store)

        try:
            return retry_sync(attempt, self.store.failover_timeout)
        except (RedisError, RedisClusterException, OSError) as error:
            raise classify(error) from error

    @on_error
    async def apublish(
        self, channel: str, body: bytes, *, wait_replicas: int | None = None
    ) -> Published:
        keys, arguments, sent = self._arguments(channel, body)
        replicas = self.store.wait_replicas if wait_replicas is None else wait_replicas

        async def attempt() -> Published:
            client: Any = self.client()
            if not replicas:
                stored = await client.eval(scripts.PUBLISH, len(keys), *keys, *arguments)
                return _published(stored, sent)
            if self.store.sharded:
                await client.initialize()  # its slots known, for wait_in()
            async with client.pipeline(transaction=False) as pipe:
                pipe.eval(scripts.PUBLISH, len(keys), *keys, *arguments)
                self.store.wait_in(pipe, client, [self.key(channel)], replicas)
                stored, acknowledged = await pipe.execute()
            return _replicated(_published(stored, sent), int(acknowledged), replicas, self.store)

        return await retry(attempt, self.store.failover_timeout)

    def _sync_client(self) -> Any:
        with self._sync_lock:  # its pool is thread-safe; making it once is what needs a lock
            if self._sync is None:
                self._sync = clients.sync_client(
                    self.store.topology, connect_timeout=self.store.connect_timeout
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
        return set(self._clients) | set(self._listeners) | set(self._pubsub_clients)

    async def aclose(self, loop: asyncio.AbstractEventLoop) -> None:
        """Close the pub/sub connection of ``loop``'s subscribers, who are all gone."""
        listener = self._listeners.pop(loop, None)
        if listener is not None:
            await listener.aclose()
        for made in (self._clients, self._pubsub_clients):
            client = made.pop(loop, None)
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

    @on_error
    async def _read_head(self) -> Head:
        client = self.client()
        epoch, seq = await client.mget(self._epoch_key, self._seq_key)  # one slot
        if epoch is None:  # written only when missing: a Redis out of memory still reads
            await client.set(self._epoch_key, secrets.token_urlsafe(6), nx=True)
            epoch, seq = await client.mget(self._epoch_key, self._seq_key)
        assert isinstance(epoch, bytes)  # set just above, if it was not already
        return Head(epoch.decode(), int(seq or 0))

    def sync_head(self) -> Head:
        def attempt() -> Head:
            client = self._sync_client()
            epoch, seq = client.mget(self._epoch_key, self._seq_key)
            if epoch is None:  # as in _read_head()
                client.set(self._epoch_key, secrets.token_urlsafe(6), nx=True)
                epoch, seq = client.mget(self._epoch_key, self._seq_key)
            return Head(epoch.decode(), int(seq or 0))

        try:
            return retry_sync(attempt, self.store.failover_timeout)
        except (RedisError, RedisClusterException, OSError) as error:
            raise classify(error) from error

    @on_error
    async def forget_epoch(self, epoch: str) -> Head:
        client: Any = self.client()
        new = secrets.token_urlsafe(6)
        await retry(
            lambda: client.eval(scripts.FORGET_EPOCH, 1, self._epoch_key, epoch, new),
            self.store.failover_timeout,
        )
        return await self._read_head()

    @asynccontextmanager
    async def listen(self, channels: Sequence[str], deliver: Deliver) -> AsyncIterator[Head]:
        async with self.watch(channels, deliver):
            yield await self.head()  # once subscribed: what comes later arrives live

    @asynccontextmanager
    async def watch(self, channels: Sequence[str], deliver: Deliver) -> AsyncIterator[None]:
        """``deliver`` what is published on ``channels`` while in the block, on this loop's
        one pub/sub connection (for every subscriber, reader and stop of the loop). Each is a
        channel's name, or a pub/sub name of the store's (a stream's wake-up or stop: it holds
        a brace, which no channel's name can)."""
        loop = asyncio.get_running_loop()
        listener = self._listeners.get(loop)
        if listener is None:
            listener = self._listeners[loop] = Listener(self)
        await listener.add(channels, deliver)
        try:
            yield
        finally:
            listener.remove(channels, deliver)

    def pubsub_name(self, channel: str) -> str:
        """The pub/sub channel of ``channel`` (a store's own name stays as it is)."""
        return channel if "{" in channel else self.key(channel)

    def channel_of(self, name: str) -> str:
        """The channel whose pub/sub channel is ``name`` (``pubsub_name()`` undone)."""
        prefix = self.key("")
        return name[len(prefix) :] if name.startswith(prefix) else name

    def pubsub(self) -> Any:
        """A new pub/sub connection of the running loop's pub/sub client (a ``ClusterPubSub``
        in a cluster)."""
        loop = asyncio.get_running_loop()
        client = self._pubsub_clients.get(loop)
        if client is None:
            client = self._pubsub_clients[loop] = clients.pubsub_client(
                self.store.topology, connect_timeout=self.store.connect_timeout
            )
        return client.pubsub(push_handler_func=as_it_is)

    @on_error
    async def replay(self, channels: Sequence[str], after: int, until: int, since: int) -> Replay:
        if after >= until:
            return Replay([], lost=False)
        async with self.client().pipeline(transaction=False) as pipe:
            for channel in channels:
                pipe.exists(self.key(channel))
                pipe.get(self.key(channel) + ":trimmed")
                pipe.xrange(self.key(channel), f"{after + 1}-0", f"{until}-0")
            results = await pipe.execute()
        entries: list[Entry] = []
        lost = False
        rows = zip(channels, results[::3], results[1::3], results[2::3], strict=True)
        for channel, exists, trimmed, events in rows:
            if not exists:  # never written, or expired
                lost |= time.time() - since >= self.ttl
                continue
            lost |= trimmed is not None and int(trimmed.split(b"-")[0]) > after
            entries.extend(
                Entry(int(entry_id.split(b"-")[0]), channel, fields[b"d"], _sent(fields))
                for entry_id, fields in events
            )
        entries.sort(key=lambda entry: entry.seq)
        return Replay(entries, lost=lost)


def _published(stored: list[Any], sent: int) -> Published:
    """What the publish script returned (the event's number and the epoch), as ``Published``."""
    seq, epoch = stored
    return Published(epoch.decode(), int(seq), sent)


def _sent(fields: dict[bytes, bytes]) -> int | None:
    """When a stored entry was published (None for one stored before entries held it)."""
    sent = fields.get(b"t")
    return None if sent is None else int(sent)


def _replicated(
    published: Published, acknowledged: int, replicas: int, store: RedisStore
) -> Published:
    """``published``, once ``replicas`` replicas have it; else ``NotReplicated``."""
    if acknowledged < replicas:
        raise NotReplicated(
            f"Event {published.seq} is stored, but only {acknowledged} of the {replicas} "
            f"replicas asked for acknowledged it within {store.wait_timeout_ms} ms: a failover "
            "now could lose it."
        )
    return published


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
