"""The channel log of ``RedisStore``: every worker's subscribers get every event.

Under the store's ``prefix``, each channel's keys under a hash tag of its own, its name (so a
cluster spreads the channels over its masters, each channel on the master of its slot):

* ``prefix:channel:{<name>}:head`` a hash of the channel's epoch (``e``, a random token) and
  its last number (``s``): one key, so that they vanish together (a Redis restarted without
  persistence, an eviction, the TTL), and a new epoch tells the cursors from before that
  their events are gone;
* ``prefix:channel:{<name>}`` a Redis Stream of the channel, entry ids ``<seq>-0`` (1, 2,
  3...: a missing number is a lost event), capped at ``MAX_LEN`` entries; it and the head
  expire ``TTL`` seconds after its last event; each entry holds the event's bytes (``d``) and
  when it was published (``t``, µs: its cursors carry it, in seconds, so every subscriber
  frames it alike, and replays merge channels by it);
* the pub/sub channel of the same name, on which each event is also published as
  ``<seq>.<sent>.<epoch> <bytes>`` (``SPUBLISH`` in a cluster: to the node of that slot only,
  not to every node).

One script does all of a publish, on the channel's slot, so events get their numbers in the
order they are stored and published. A process holds one pub/sub connection per event loop
for all the channels its subscribers read, whatever their number (``listener.py``; in a
cluster, one per master that has some); a replay reads the Redis Streams.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisClusterException, RedisError

from django_streaming.conf import get_config
from django_streaming.stores.base import NotReplicated
from django_streaming.stores.channel_log import (
    MAX_SEQ,
    Deliver,
    Entry,
    Head,
    Published,
    Replay,
    lost_numbers,
    merged,
    new_epoch,
    publish_time,
)

from . import clients, scripts
from .errors import classify, on_error
from .failover import retry, retry_sync
from .listener import Listener, as_it_is
from .presence import RedisPresence

if TYPE_CHECKING:
    from .store import RedisStore

__all__ = ["RedisChannelLog"]

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
        self._channel_prefix = f"{store.prefix}:channel:{{"
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
        self._heads: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _SharedHeads] = (
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
        """The Redis Stream of ``channel``, and its pub/sub channel (the channel's name is
        its hash tag)."""
        return f"{self._channel_prefix}{channel}}}"

    def head_key(self, channel: str) -> str:
        """The hash of ``channel``'s epoch and last number."""
        return self.key(channel) + ":head"

    def _arguments(self, channel: str, body: bytes) -> tuple[list[str], list[Any], int]:
        stream = self.key(channel)
        keys = [self.head_key(channel), stream, stream + ":published:" + secrets.token_urlsafe(12)]
        ttl_ms = int(self.ttl * 1000)
        token_ms = int(max(self.store.failover_timeout * 2, 1) * 1000)  # past the last retry
        publish = self._publish_command
        # Decided once, so that a publish sent again stores and returns the same time.
        sent = publish_time()
        arguments = [
            body, self.max_len, ttl_ms, stream, new_epoch(), token_ms, publish, sent, MAX_SEQ
        ]  # fmt: skip
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

    async def heads(self, channels: Sequence[str]) -> dict[str, Head]:
        # Thousands of subscribers arriving together share a few reads (each a read started
        # after its call), rather than queueing for the loop's connections.
        loop = asyncio.get_running_loop()
        shared = self._heads.get(loop)
        if shared is None:
            shared = self._heads[loop] = _SharedHeads(self._read_heads)
        return await shared(channels)

    @on_error
    async def _read_heads(self, channels: Sequence[str]) -> dict[str, Head]:
        # Reads only: a Redis out of memory, refusing writes, still answers.
        async with self.client().pipeline(transaction=False) as pipe:
            for channel in channels:
                pipe.hmget(self.head_key(channel), "e", "s")
            return _heads(channels, await pipe.execute())

    def sync_heads(self, channels: Sequence[str]) -> dict[str, Head]:
        def attempt() -> dict[str, Head]:
            with self._sync_client().pipeline(transaction=False) as pipe:
                for channel in channels:
                    pipe.hmget(self.head_key(channel), "e", "s")
                return _heads(channels, pipe.execute())

        try:
            return retry_sync(attempt, self.store.failover_timeout)
        except (RedisError, RedisClusterException, OSError) as error:
            raise classify(error) from error

    @on_error
    async def forget_epoch(self, channel: str, epoch: str) -> Head:
        client: Any = self.client()
        key = self.head_key(channel)
        now = await retry(
            lambda: client.eval(scripts.FORGET_EPOCH, 1, key, epoch, new_epoch()),
            self.store.failover_timeout,
        )
        return _heads([channel], [now])[channel]

    @asynccontextmanager
    async def listen(
        self, channels: Sequence[str], deliver: Deliver
    ) -> AsyncIterator[dict[str, Head]]:
        async with self.watch(channels, deliver):
            yield await self.heads(channels)  # once subscribed: what comes later arrives live

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
        if name.startswith(self._channel_prefix) and name.endswith("}"):
            return name[len(self._channel_prefix) : -1]
        return name

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
    async def replay(self, after: Mapping[str, int], heads: Mapping[str, Head]) -> Replay:
        wanted = [channel for channel, start in after.items() if heads[channel].seq > start]
        results = []
        if wanted:
            async with self.client().pipeline(transaction=False) as pipe:
                for channel in wanted:
                    start, until = after[channel] + 1, heads[channel].seq
                    pipe.xrange(self.key(channel), f"{start}-0", f"{until}-0")
                results = await pipe.execute()
        by_channel: dict[str, list[Entry]] = {}
        lost = set()
        for channel, events in zip(wanted, results, strict=True):
            epoch = heads[channel].epoch
            by_channel[channel] = entries = [
                Entry(int(entry_id.split(b"-")[0]), channel, fields[b"d"], _sent(fields), epoch)
                for entry_id, fields in events
            ]
            if lost_numbers(entries, after[channel], heads[channel].seq):
                lost.add(channel)
        return Replay(merged(by_channel), frozenset(lost))


def _heads(channels: Sequence[str], replies: list[Any]) -> dict[str, Head]:
    """The heads of ``channels`` from their hashes' ``e`` and ``s`` (None: no head)."""
    heads = {}
    for channel, (epoch, seq) in zip(channels, replies, strict=True):
        heads[channel] = Head("", 0) if epoch is None else Head(epoch.decode(), int(seq or 0))
    return heads


def _published(stored: list[Any], sent: int) -> Published:
    """What the publish script returned (the event's number and epoch), as ``Published``."""
    seq, epoch = stored
    return Published(epoch.decode(), int(seq), sent)


def _sent(fields: dict[bytes, bytes]) -> int | None:
    """When a stored entry was published, in µs (None for one stored before entries held it)."""
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


class _SharedHeads:
    """One read for the callers that come in the same turn of the event loop, of all the
    channels they ask for, started after all of them: each gets heads at least as recent as
    its call (what ``listen()`` needs: read once subscribed)."""

    def __init__(self, read: Callable[[Sequence[str]], Awaitable[dict[str, Head]]]) -> None:
        self._read = read
        self._next: asyncio.Future[dict[str, Head]] | None = None
        self._wanted: set[str] = set()

    async def __call__(self, channels: Sequence[str]) -> dict[str, Head]:
        if self._next is None:
            self._next = asyncio.ensure_future(self._run())
            # Retrieved even when every caller was cancelled meanwhile.
            self._next.add_done_callback(lambda read: read.cancelled() or read.exception())
        self._wanted.update(channels)
        heads = await asyncio.shield(self._next)
        return {channel: heads[channel] for channel in channels}

    async def _run(self) -> dict[str, Head]:
        await asyncio.sleep(0)  # the callers of this turn join
        # A caller from now on needs a read that starts after it.
        self._next, wanted, self._wanted = None, self._wanted, set()
        return await self._read(sorted(wanted))
