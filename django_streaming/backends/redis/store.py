"""``RedisStore``: resumable streams in Redis, shared by every worker and host.

Needs the ``redis`` extra (``pip install django-streaming[redis]``). Per stream, under the
namespace ``prefix``:

* ``{prefix}:stream:{id}`` a hash with the owner and the status (``active`` until it ends),
  and the view, the worker and the start time that ``running()`` shows;
* ``{prefix}:stream:{id}:events`` a Redis Stream, entry ids ``0-1``, ``0-2``, ... for the
  sequence numbers, capped at about ``max_len`` entries, and one last entry marking the end;
* ``{prefix}:stream:{id}:lease`` a key the generating worker renews; when it expires while the
  stream is active, that worker is gone, and a reader marks the stream ``interrupted``;
* ``{prefix}:stream:{id}:stop`` set when a stop is requested, also published on the channel
  ``{prefix}:stop`` that each process generating streams listens to;
* ``{prefix}:key:{key}`` the id of the stream active for a key (a chat);
* ``{prefix}:calls:{key}`` a chat's pending answer: ``message`` (JSON), and ``call:{id}`` for
  each of its tool calls that waits for the browser (``waiting``) or was answered
  (``answered``);
* ``{prefix}:owner:{owner}`` a sorted set of the owner's active streams, each scored with the
  time after which it no longer counts (its maximum duration), for ``max_active``;
* ``{prefix}:running`` a sorted set of the streams created and not ended, on every worker,
  each scored with the time (the creating worker's clock) after which it can no longer run
  (its maximum duration): ``running()`` reads it, and it is pruned of what is past that time
  at each create and each read, and of what ended or lost its lease at each read. Its own
  key, written by its own commands: in a cluster, no script or command spans two slots;
* the pub/sub channel ``{prefix}:channel:stream/{id}``, a wake-up for its readers after each
  append and at the end. Readers wait on the channels' listener (one pub/sub connection per
  event loop for every reader and subscriber), then read the Redis Stream: none holds a
  connection while it waits.

Every key expires ``ttl`` seconds after its last write.
"""

from __future__ import annotations

import asyncio
import functools
import time
import weakref
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from itertools import islice
from typing import Any

from redis.exceptions import RedisClusterException, RedisError, ResponseError

from django_streaming.stores.base import (
    END_STATUSES,
    EndStatus,
    Entry,
    NotReplicated,
    PendingAnswer,
    RunningStream,
    StoreUnavailable,
    StreamInfo,
    StreamReader,
    StreamStore,
    TooManyStreams,
    worker_id,
)
from django_streaming.stores.channel_log import FEED_LOST
from django_streaming.stores.channel_log import Entry as ChannelEntry

from . import clients, eviction, scripts
from .channel_log import RedisChannelLog
from .errors import classify, on_error, unavailable
from .failover import is_transient, retry, through_failover

__all__ = ["RedisStore"]


class RedisStore(StreamStore):
    """Streams in Redis, with Redis Streams for the events and pub/sub for stop requests.

    Where Redis is: ``url`` (one server, or a cluster with ``cluster=True`` or a
    ``redis+cluster://`` URL), or ``sentinels`` and ``service_name`` (Sentinel; the ``url``
    then gives the master's database and password), with ``sentinel_kwargs`` for the
    sentinels' own connections and ``client_kwargs`` for every client (TLS options, a
    password); or ``client_factory``, the dotted path of a callable ``(kind, options)`` that
    makes the clients (``clients.py``).
    """

    def __init__(
        self,
        *,
        url: str = "redis://127.0.0.1:6379/0",
        prefix: str = "django-streaming",
        ttl: float = 3600.0,
        max_len: int = 100_000,
        lease: float = 10.0,
        connect_timeout: float = 2.0,
        max_connections: int = 10_000,
        cluster: bool = False,
        sentinels: Sequence[tuple[str, int]] | None = None,
        service_name: str | None = None,
        sentinel_kwargs: dict[str, Any] | None = None,
        client_kwargs: dict[str, Any] | None = None,
        client_factory: str | None = None,
        failover_timeout: float = 6.0,
        wait_replicas: int = 0,
        wait_timeout: float = 1.0,
    ) -> None:
        self.topology = clients.topology(
            {
                "url": url,
                "prefix": prefix,
                "cluster": cluster,
                "sentinels": sentinels,
                "service_name": service_name,
                "sentinel_kwargs": sentinel_kwargs,
                "client_kwargs": client_kwargs,
                "client_factory": client_factory,
            }
        )
        self.url = url
        self.prefix = prefix
        self.ttl = int(ttl)
        self.max_len = max_len
        self.lease = lease
        self.liveness_interval = lease
        self.connect_timeout = connect_timeout
        self.max_connections = max_connections
        self.sharded = self.topology.is_cluster  # SPUBLISH, SSUBSCRIBE
        #: Seconds that idempotent calls keep trying through a failover before they raise
        #: ``StoreUnavailable`` (0: one attempt).
        self.failover_timeout = failover_timeout
        self._eviction_looked_at = False
        #: Replicas that must acknowledge each publish and append (Redis's ``WAIT``) within
        #: ``wait_timeout`` seconds, else ``NotReplicated``; 0 (the default) waits for none.
        self.wait_replicas = wait_replicas
        self.wait_timeout_ms = int(wait_timeout * 1000)
        # A client's connections belong to the loop that made them.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )
        self._appends: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Appends] = (
            weakref.WeakKeyDictionary()
        )

    channels_are_local = False

    @classmethod
    def check_options(cls, options: dict[str, Any]) -> list[str]:
        """What cannot work in ``options`` (the ``STORE`` setting's), for the system checks."""
        return clients.topology_problems(options)

    @functools.cached_property
    def channel_log(self) -> RedisChannelLog:
        return RedisChannelLog(self)

    def client(self) -> Any:
        """The Redis client of the running event loop (``redis.asyncio.Redis``, or its
        ``RedisCluster`` in a cluster)."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = clients.store_client(
                self.topology,
                lease=self.lease,
                connect_timeout=self.connect_timeout,
                max_connections=self.max_connections,
            )
        return client

    def eviction_problem(self) -> tuple[str | None, bool]:
        """What is wrong with Redis's ``maxmemory-policy`` for this store (or None), and
        whether it could be asked at all (no ACL forbids both ``CONFIG`` and ``INFO``). For
        the system check; a Redis that cannot be reached raises ``StoreUnavailable``."""
        try:
            policy = eviction.read_policy(self.channel_log._sync_client())
        except (RedisError, RedisClusterException, OSError) as error:
            raise classify(error) from error
        return (None, False) if policy is None else (eviction.policy_problem(policy), True)

    def close(self) -> None:
        loops = set(self._clients)
        if "channel_log" in self.__dict__:
            self.channel_log.close()
            loops |= self.channel_log.loops()
        for loop in loops:
            if loop.is_running():
                asyncio.run_coroutine_threadsafe(self.aclose(loop), loop)

    async def aclose(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Close the connections of ``loop`` (the running one by default)."""
        loop = loop or asyncio.get_running_loop()
        if "channel_log" in self.__dict__:
            await self.channel_log.aclose(loop)
        client = self._clients.pop(loop, None)
        if client is not None:
            await client.aclose()

    def _key(self, stream_id: str, suffix: str = "") -> str:
        # The stream's id is its keys' hash tag: one slot per stream, streams spread.
        return f"{self.prefix}:stream:{{{stream_id}}}{suffix}"

    def _chat_key(self, key: str) -> str:
        return f"{self.prefix}:key:{{{key}}}"

    def _owner_key(self, counted_as: str) -> str:
        return f"{self.prefix}:owner:{{{counted_as}}}"

    def _running_key(self) -> str:
        return f"{self.prefix}:running"

    def _calls_key(self, key: str) -> str:
        return f"{self.prefix}:calls:{{{key}}}"

    def wake_channel(self, stream_id: str) -> str:
        """The pub/sub channel that wakes ``stream_id``'s readers (in its slot)."""
        return self._key(stream_id, ":wake")

    def stop_channel(self, stream_id: str) -> str:
        """The pub/sub channel of ``stream_id``'s stop requests (in its slot)."""
        return self._key(stream_id, ":stopping")

    @on_error
    async def create(
        self,
        stream_id: str,
        *,
        owner: str,
        key: str | None = None,
        max_active: int | None = None,
        max_duration: float = 3600.0,
        counted_as: str | None = None,
        view: str = "",
    ) -> str | None:
        # Four slots in a cluster: the owner's active set (the cap, one script: atomic), the
        # stream's keys, and the chat's key (swapped in one SET ... GET). Only "the chat's
        # previous stream does not count" is read before the cap is decided: two creates for
        # one chat at once may count it twice (one may be refused), never let more through.
        counted_as = counted_as or owner
        client: Any = self.client()
        if not self._eviction_looked_at:  # once per store: the first stream started
            self._eviction_looked_at = True
            await eviction.warn_once(client)
        chat_key = self._chat_key(key) if key is not None else None
        previous: bytes | None = await client.get(chat_key) if chat_key else None
        owner_key = self._owner_key(counted_as)
        counted = await client.eval(
            scripts.COUNT,
            1,
            owner_key,
            max_active or 0,
            stream_id,
            int(max_duration) + 1,
            self.ttl,
            previous or "",
        )
        if counted == 0:
            raise TooManyStreams(f"{counted_as} has {max_active} active streams already.")
        now = time.time()
        running_key = self._running_key()
        try:
            async with client.pipeline(transaction=False) as pipe:
                pipe.hset(
                    self._key(stream_id),
                    mapping={
                        "owner": owner,
                        "status": "active",
                        "counted": counted_as,
                        "view": view,
                        "worker": worker_id(),
                        "started": repr(now),
                    },
                )
                pipe.expire(self._key(stream_id), self.ttl)
                pipe.set(self._key(stream_id, ":lease"), 1, px=int(self.lease * 1000))
                # The index of running streams, after the hash and the lease (in a cluster,
                # perhaps before them: running() then skips the stream until they are there).
                pipe.zremrangebyscore(running_key, "-inf", now)
                pipe.zadd(running_key, {stream_id: now + max_duration + 1})
                lifetime = max(self.ttl, int(max_duration) + 1)
                pipe.expire(running_key, lifetime, nx=True)  # new: no expiry, which GT ignores
                pipe.expire(running_key, lifetime, gt=True)
                await pipe.execute()
            if chat_key is None:
                return None
            superseded: bytes | None = await client.set(chat_key, stream_id, ex=self.ttl, get=True)
        except BaseException:
            await asyncio.shield(self._forget(client, owner_key, stream_id))
            raise
        return superseded.decode() if superseded else None

    async def append(self, stream_id: str, entries: Sequence[Entry]) -> None:
        loop = asyncio.get_running_loop()
        appends = self._appends.get(loop)
        if appends is None:
            appends = self._appends[loop] = _Appends(self)
        await appends.add(stream_id, entries)

    @on_error
    @through_failover
    async def finish(self, stream_id: str, status: EndStatus, *, key: str | None = None) -> None:
        client: Any = self.client()
        if key is not None:
            await client.eval(scripts.RELEASE, 1, self._chat_key(key), stream_id)
        keys = [self._key(stream_id, suffix) for suffix in ("", ":events", ":lease")]
        publish = "SPUBLISH" if self.sharded else "PUBLISH"
        wake = self.wake_channel(stream_id)
        counted = await client.eval(
            scripts.FINISH, len(keys), *keys, status, self.ttl, wake, publish
        )
        if counted:  # it ended here: it no longer counts, nor runs
            await self._forget(client, self._owner_key(counted.decode()), stream_id)

    async def _forget(self, client: Any, owner_key: str, stream_id: str) -> None:
        """Take ``stream_id`` off its owner's active set and off the running streams."""
        async with client.pipeline(transaction=False) as pipe:
            pipe.zrem(owner_key, stream_id)
            pipe.zrem(self._running_key(), stream_id)
            await pipe.execute()

    @on_error
    @through_failover
    async def running(self, limit: int = 1000) -> list[RunningStream]:
        client: Any = self.client()
        index = self._running_key()
        async with client.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(index, "-inf", time.time())
            pipe.zrange(index, 0, limit - 1)  # by deadline: about the oldest first
            _, members = await pipe.execute()
        stream_ids = [member.decode() for member in members]
        fields = ["owner", "status", "view", "worker", "started"]
        async with client.pipeline(transaction=False) as pipe:
            for stream_id in stream_ids:
                pipe.hmget(self._key(stream_id), fields)
                pipe.exists(self._key(stream_id, ":lease"))
                pipe.xlen(self._key(stream_id, ":events"))
            replies = iter(await pipe.execute())
        running, gone = [], []
        for stream_id in stream_ids:
            (owner, status, view, worker, started), alive, events = islice(replies, 3)
            if status is None:  # not created yet (a cluster's other node), or expired
                continue
            if status != b"active" or not alive:  # ended, or its worker went away
                gone.append(stream_id)
                continue
            running.append(
                RunningStream(
                    stream_id=stream_id,
                    view=(view or b"").decode(),
                    owner=owner.decode(),
                    started=float(started or 0),
                    worker=(worker or b"").decode(),
                    events=events,
                )
            )
        if gone:
            await client.zrem(index, *gone)
        running.sort(key=lambda stream: stream.started)
        return running

    @on_error
    @through_failover
    async def save_pending(
        self, key: str, message: str, waiting: Sequence[str], *, continued: bool = False
    ) -> None:
        client: Any = self.client()
        calls = self._calls_key(key)
        await client.eval(
            scripts.SAVE_PENDING, 1, calls, self.ttl, int(continued), message, *waiting
        )

    @on_error
    @through_failover
    async def load_pending(self, key: str) -> PendingAnswer | None:
        client: Any = self.client()
        fields: dict[bytes, bytes] = await client.hgetall(self._calls_key(key))
        message = fields.pop(b"message", None)
        if message is None:
            return None
        calls = {name[len(b"call:") :].decode(): state for name, state in fields.items()}
        return PendingAnswer(
            message=message.decode(),
            waiting=frozenset(call for call, state in calls.items() if state == b"waiting"),
            answered=frozenset(call for call, state in calls.items() if state == b"answered"),
        )

    @on_error
    async def claim(self, key: str, call_ids: Sequence[str]) -> str | None:
        client: Any = self.client()
        refused: bytes | None = await client.eval(scripts.CLAIM, 1, self._calls_key(key), *call_ids)
        return refused.decode() if refused else None

    @on_error
    @through_failover
    async def info(self, stream_id: str) -> StreamInfo | None:
        client: Any = self.client()
        owner, status = await client.hmget(self._key(stream_id), ["owner", "status"])
        if owner is None or status is None:
            return None
        return StreamInfo(owner=owner.decode(), status=status.decode())

    @on_error
    @through_failover
    async def active(self, key: str) -> str | None:
        client: Any = self.client()
        value: bytes | None = await client.get(self._chat_key(key))
        return value.decode() if value is not None else None

    @on_error
    @through_failover
    async def read(
        self, stream_id: str, after: int, *, timeout: float | None
    ) -> tuple[list[Entry], EndStatus | None]:
        # BLOCK 0 waits for ever; no BLOCK at all does not wait.
        block = 0 if timeout is None else int(timeout * 1000) or None
        events = self._key(stream_id, ":events")
        client: Any = self.client()
        reply = await client.xread({events: f"0-{after}"}, count=1000, block=block)
        entries: list[Entry] = []
        for _, items in reply or ():
            for entry_id, fields in items:
                if b"end" in fields:
                    status = fields[b"end"].decode()
                    return entries, status if status in END_STATUSES else "error"
                entries.append((int(entry_id.split(b"-")[1]), fields[b"d"]))
        return entries, None

    @asynccontextmanager
    async def follow(self, stream_id: str) -> AsyncIterator[StreamReader]:
        reader = _WokenReader(self, stream_id)
        async with self.channel_log.watch([self.wake_channel(stream_id)], reader.wake):
            yield reader

    @on_error
    @through_failover
    async def request_stop(self, stream_id: str) -> None:
        async with self.client().pipeline(transaction=False) as pipe:
            pipe.set(self._key(stream_id, ":stop"), 1, ex=self.ttl)
            self.publish_in(pipe, self.stop_channel(stream_id))
            await pipe.execute()

    def publish_in(self, pipe: Any, channel: str) -> None:
        """Queue a wake-up on ``channel`` in ``pipe``: ``SPUBLISH`` in a cluster (the node
        that owns the channel's slot, not every node; and never ``PUBLISH``, which a cluster
        pipeline refuses)."""
        if self.sharded:
            pipe.spublish(channel, "0 ")
        else:
            pipe.publish(channel, "0 ")

    def wait_in(self, pipe: Any, client: Any, keys: Iterable[str], replicas: int) -> int:
        """Queue in ``pipe`` (of ``client``) a ``WAIT`` for ``replicas`` after the writes
        queued to ``keys``, on the connection that carries them; how many replies it adds.
        In a cluster, one per master those keys are on, sent there: redis-py sends a lone
        ``WAIT`` to its default node, whose connection wrote nothing, and which answers at
        once with its replicas, acknowledged or not. (The cluster pipeline sends each node's
        commands on one connection, so the ``WAIT`` follows the writes it waits for.)"""
        if not self.sharded:
            pipe.wait(replicas, self.wait_timeout_ms)
            return 1
        nodes = {node.name: node for node in (client.get_node_from_key(key) for key in keys)}
        for node in nodes.values():
            pipe.execute_command("WAIT", replicas, self.wait_timeout_ms, target_nodes=node)
        return len(nodes)

    async def wait_for_stop(self, stream_id: str) -> None:
        # On the loop's one pub/sub connection, shared with the channels and the readers; the
        # stop key covers a stop requested before the subscription, or during a reconnect.
        loop = asyncio.get_running_loop()
        stopped = lost = False
        nudge: asyncio.Future[None] = loop.create_future()

        def deliver(entry: ChannelEntry | None) -> None:
            nonlocal stopped, lost
            if entry is FEED_LOST:  # the listener gave up: watch again, after a pause
                lost = True
            elif entry is not None:  # None: reconnected, check the key
                stopped = True
            if not nudge.done():
                nudge.set_result(None)

        delay = 0.05
        while True:
            lost = False
            try:
                async with self.channel_log.watch([self.stop_channel(stream_id)], deliver):
                    delay = 0.05
                    while not (stopped or lost):
                        nudge = loop.create_future()  # before the check: none is missed
                        if await self.is_stop_requested(stream_id):
                            return
                        await nudge
                    if stopped:
                        return
            except StoreUnavailable:  # the listener retries once subscribed; not before
                pass
            lost = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    @on_error
    @through_failover
    async def is_stop_requested(self, stream_id: str) -> bool:
        """Whether a stop of ``stream_id`` was requested (the key outlives a missed message)."""
        client: Any = self.client()
        return bool(await client.exists(self._key(stream_id, ":stop")))

    @on_error
    @through_failover
    async def keep_alive(self, stream_id: str) -> None:
        async with self.client().pipeline(transaction=False) as pipe:
            pipe.set(self._key(stream_id, ":lease"), 1, px=int(self.lease * 1000))
            pipe.expire(self._key(stream_id), self.ttl)
            pipe.expire(self._key(stream_id, ":events"), self.ttl)
            await pipe.execute()

    @on_error
    @through_failover
    async def is_alive(self, stream_id: str) -> bool:
        client: Any = self.client()
        return bool(await client.exists(self._key(stream_id, ":lease")))


class _WokenReader(StreamReader):
    """Reads the stream without blocking, and waits for a wake-up from the listener between
    reads: no connection is held while it waits."""

    def __init__(self, store: RedisStore, stream_id: str) -> None:
        super().__init__(store, stream_id)
        self.wakes = 0  # wake-ups so far; one that comes during a read is not lost
        self.waiter: asyncio.Future[None] | None = None

    def wake(self, entry: ChannelEntry | None) -> None:
        # An append or the end (or, None: the listener reconnected, and may have missed some).
        self.wakes += 1
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def read(
        self, after: int, *, timeout: float | None
    ) -> tuple[list[Entry], EndStatus | None]:
        while True:
            wakes = self.wakes
            entries, status = await self.store.read(self.stream_id, after, timeout=0)
            if entries or status is not None or timeout == 0:
                return entries, status
            if self.wakes != wakes:
                continue  # woken while reading: read again
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                # Not wait_for(), which may drop a cancellation before 3.12 (errors.py).
                await asyncio.wait((self.waiter,), timeout=timeout)
            finally:
                self.waiter = None
            if self.wakes == wakes:  # the time ran out
                return [], None


#: The name of the task that sends a turn's appends (a name shows in asyncio's debug output).
SENDING_TASK_NAME = "django_streaming: appends to Redis"

# An append waiting to be sent: the stream, its entries, and the future its generation awaits.
_Append = tuple[str, Sequence[Entry], asyncio.Future[None]]


class _Appends:
    """The appends of every generation on one event loop, sent as one pipeline per turn of the
    loop: a command on its own costs the client several times its share of a pipeline."""

    def __init__(self, store: RedisStore) -> None:
        self.store = store
        self.batch: list[_Append] | None = None

    def add(self, stream_id: str, entries: Sequence[Entry]) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        stored = loop.create_future()
        if self.batch is None:  # the first this turn: sent once the others ready now join it
            self.batch = []
            sending = loop.create_task(self._send(self.batch), name=SENDING_TASK_NAME)
            _running.add(sending)
            sending.add_done_callback(_running.discard)
            sending.add_done_callback(functools.partial(_fail_unsent, self.batch))
        self.batch.append((stream_id, entries, stored))
        return stored

    @on_error
    async def _send(self, batch: list[_Append]) -> None:
        self.batch = None  # appends from now on go in the next pipeline
        replies = iter(await retry(lambda: self._pipeline(batch), self.store.failover_timeout))
        for stream_id, entries, stored in batch:
            count = len(entries) + sum(seq == 1 for seq, _ in entries) + 1
            failed = [reply for reply in islice(replies, count) if isinstance(reply, Exception)]
            if failed and all(_stored_before(reply) for reply in failed):
                failed = await self._not_stored_before(stream_id, entries)
            if stored.done():  # the generation was cancelled meanwhile
                continue
            if failed:
                stored.set_exception(classify(failed[0]))
            else:
                stored.set_result(None)

    async def _not_stored_before(self, stream_id: str, entries: Sequence[Entry]) -> list[Exception]:
        """After Redis refused ids as not above its last: whether these entries are there
        already, as they are (the pipeline was sent again after its connection dropped, by
        us or by redis-py, perhaps after it ran), or it is a sequence number used twice."""
        client: Any = self.store.client()
        events = self.store._key(stream_id, ":events")
        for seq, data in entries:
            kept = await client.xrange(events, f"0-{seq}", f"0-{seq}")
            if not kept or kept[0][1].get(b"d") != data:
                return [ResponseError(f"Event {seq} of stream {stream_id} is stored already.")]
        return []

    async def _pipeline(self, batch: list[_Append]) -> list[Any]:
        """Send ``batch`` once. Safe to send again: each entry's id is its sequence number, so
        an append that was stored before the connection dropped is refused, not doubled."""
        store = self.store
        client: Any = store.client()
        if store.sharded:
            await client.initialize()  # its slots known, for wait_in() (once: then at once)
        waits = 0
        async with client.pipeline(transaction=False) as pipe:
            for stream_id, entries, _ in batch:
                events = store._key(stream_id, ":events")
                for seq, data in entries:
                    pipe.xadd(events, {"d": data}, id=f"0-{seq}", maxlen=store.max_len)
                    if seq == 1:
                        pipe.expire(events, store.ttl)  # renewed with the lease from then on
                store.publish_in(pipe, store.wake_channel(stream_id))  # once stored: wake up
            if store.wait_replicas:
                written = [store._key(stream_id, ":events") for stream_id, _, _ in batch]
                waits = store.wait_in(pipe, client, written, store.wait_replicas)
            replies: list[Any] = await pipe.execute(raise_on_error=False)
        for reply in replies:  # READONLY from a demoted master...: the whole batch again
            if isinstance(reply, Exception) and is_transient(reply):
                raise reply
        if waits:
            acknowledged = _fewest(replies[-waits:])
            del replies[-waits:]
            if isinstance(acknowledged, Exception) or acknowledged < store.wait_replicas:
                raise NotReplicated(
                    f"Appended, but {acknowledged} of the {store.wait_replicas} replicas asked "
                    f"for acknowledged it within {store.wait_timeout_ms} ms."
                )
        return replies


def _fewest(acknowledged: list[Any]) -> Any:
    """The first error among the replies of ``WAIT``s, else the fewest replicas."""
    errors = [reply for reply in acknowledged if isinstance(reply, Exception)]
    return errors[0] if errors else min(int(reply) for reply in acknowledged)


def _stored_before(reply: Exception) -> bool:
    """Whether ``reply`` to an append says an entry is there already with its id or a later
    one (sent again after a connection dropped, or a sequence number used twice)."""
    return isinstance(reply, ResponseError) and "equal or smaller" in str(reply)


def _fail_unsent(batch: list[_Append], sending: asyncio.Task[None]) -> None:
    """Redis went away, or the loop is closing: whoever still waits must not wait for ever."""
    error = None if sending.cancelled() else sending.exception()
    for _, _, stored in batch:
        if not stored.done():
            stored.set_exception(
                error
                if isinstance(error, StoreUnavailable)
                else classify_or_unavailable(error)
                if error
                else StoreUnavailable("Not sent: cancelled")
            )


def classify_or_unavailable(error: BaseException) -> BaseException:
    """``error`` as the store names it; anything it does not name, as unavailable."""
    classified = classify(error)
    return classified if isinstance(classified, StoreUnavailable) else unavailable(error)


# The loop holds tasks weakly: these must not be collected half way.
_running: set[asyncio.Task[None]] = set()
