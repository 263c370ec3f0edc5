"""``RedisStore``: resumable streams in Redis, shared by every worker and host.

Needs the ``redis`` extra (``pip install django-streaming[redis]``). Per stream, under the
namespace ``prefix``:

* ``{prefix}:stream:{id}`` a hash with the owner and the status (``active`` until it ends);
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
* the pub/sub channel ``{prefix}:channel:stream/{id}``, a wake-up for its readers after each
  append and at the end. Readers wait on the channels' listener (one pub/sub connection per
  event loop for every reader and subscriber), then read the Redis Stream: none holds a
  connection while it waits.

Every key expires ``ttl`` seconds after its last write.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from itertools import islice
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError, RedisError, TimeoutError

from .base import (
    END_STATUSES,
    EndStatus,
    Entry,
    PendingAnswer,
    StoreUnavailable,
    StreamInfo,
    StreamReader,
    StreamStore,
    TooManyStreams,
)

if TYPE_CHECKING:
    from django_streaming.channels.log import Entry as ChannelEntry
    from django_streaming.channels.redis import RedisChannelLog

__all__ = ["RedisStore"]

#: The wake-up channel of a stream's readers is this and the stream's id (no channel name
#: holds a "/").
WAKE_CHANNEL_PREFIX = "stream/"

P = ParamSpec("P")
R = TypeVar("R")

# Registers a stream (ARGV[4]) of an owner (ARGV[1]) unless who it counts as (ARGV[8], set
# KEYS[4]) already has ARGV[5] active ones (0: no limit), not counting the one active for the
# key (KEYS[3], when ARGV[7] is 1), which it supersedes; returns {1, the key's previous stream
# or ''}, or {0} when refused.
_CREATE = """
local now = tonumber(redis.call('TIME')[1])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
local count = redis.call('ZCARD', KEYS[4])
local previous = false
local keyed = ARGV[7] == '1'
if keyed then previous = redis.call('GET', KEYS[3]) end
if previous and redis.call('ZSCORE', KEYS[4], previous) then count = count - 1 end
local limit = tonumber(ARGV[5])
if limit > 0 and count >= limit then return {0} end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'status', 'active', 'counted', ARGV[8])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], 1, 'PX', ARGV[3])
if keyed then redis.call('SET', KEYS[3], ARGV[4], 'EX', ARGV[2]) end
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[6]), ARGV[4])
redis.call('EXPIRE', KEYS[4], math.max(tonumber(ARGV[2]), tonumber(ARGV[6])))
return {1, previous or ''}
"""

# Sets the status once, so that a worker's own end and a reader's "interrupted" cannot both win;
# clears the key (KEYS[4], when given) if it still points at this stream (ARGV[3]); and takes
# the stream off the active set it counts in (named from ARGV[4] and who it counts as).
_FINISH = """
if KEYS[4] and redis.call('GET', KEYS[4]) == ARGV[3] then redis.call('DEL', KEYS[4]) end
if redis.call('HGET', KEYS[1], 'status') ~= 'active' then return 0 end
local counted = redis.call('HGET', KEYS[1], 'counted') or redis.call('HGET', KEYS[1], 'owner')
if counted then redis.call('ZREM', ARGV[4] .. counted, ARGV[3]) end
redis.call('HSET', KEYS[1], 'status', ARGV[1])
redis.call('XADD', KEYS[2], '*', 'end', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[3])
redis.call('PUBLISH', ARGV[5], '0 ')
return 1
"""


# Makes ARGV[3] (JSON) the pending answer of the chat (KEYS[1]), whose calls ARGV[4...] wait:
# the previous answer's calls that still wait no longer do; answered ones stay answered when
# ARGV[2] is 1 (the same message gone on), and are forgotten otherwise.
_SAVE_PENDING = """
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  if fields[i + 1] == 'waiting' or ARGV[2] ~= '1' then redis.call('HDEL', KEYS[1], fields[i]) end
end
redis.call('HSET', KEYS[1], 'message', ARGV[3])
for i = 4, #ARGV do
  if redis.call('HGET', KEYS[1], 'call:' .. ARGV[i]) ~= 'answered' then
    redis.call('HSET', KEYS[1], 'call:' .. ARGV[i], 'waiting')
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
"""

# Marks the calls ARGV[...] of the chat (KEYS[1]) answered if every one waits, and returns
# false; else marks nothing and returns the first that does not wait.
_CLAIM = """
for i = 1, #ARGV do
  if redis.call('HGET', KEYS[1], 'call:' .. ARGV[i]) ~= 'waiting' then return ARGV[i] end
end
for i = 1, #ARGV do redis.call('HSET', KEYS[1], 'call:' .. ARGV[i], 'answered') end
return false
"""


def _unavailable_on_error(
    method: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except (ConnectionError, TimeoutError, OSError) as error:
            raise _unavailable(error) from error

    return wrapper


def _unavailable(error: BaseException) -> StoreUnavailable:
    """What a store call raises when Redis cannot be reached, caused by ``error``."""
    unavailable = StoreUnavailable(f"Redis is unavailable: {error}")
    unavailable.__cause__ = error
    return unavailable


class RedisStore(StreamStore):
    """Streams in Redis, with Redis Streams for the events and pub/sub for stop requests."""

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
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.ttl = int(ttl)
        self.max_len = max_len
        self.lease = lease
        self.liveness_interval = lease
        self.connect_timeout = connect_timeout
        self.max_connections = max_connections
        # A client's connections belong to the loop that made them.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Redis] = (
            weakref.WeakKeyDictionary()
        )
        self._listeners: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _StopListener] = (
            weakref.WeakKeyDictionary()
        )
        self._appends: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Appends] = (
            weakref.WeakKeyDictionary()
        )

    channels_are_local = False

    @functools.cached_property
    def channel_log(self) -> RedisChannelLog:
        from django_streaming.channels.redis import RedisChannelLog  # it imports the views

        return RedisChannelLog(self)

    def client(self) -> Redis:
        """The Redis client of the running event loop."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            # One immediate retry: a pooled connection may be dead after a Redis restart, and a
            # fresh one works; a Redis that is down fails fast instead of backing off for seconds.
            # A read() that waits blocks its connection in an XREAD of up to ``lease`` seconds
            # (tail() waits on the listener instead): such a read may take that long before it
            # counts as timed out.
            client = Redis.from_url(
                self.url,
                retry=Retry(NoBackoff(), 1),
                socket_connect_timeout=self.connect_timeout,
                socket_timeout=self.lease + self.connect_timeout + 1,
                max_connections=self.max_connections,
            )
            self._clients[loop] = client
        return client

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
        listener = self._listeners.pop(loop, None)
        if listener is not None and listener.task is not None:
            listener.task.cancel()
            await asyncio.wait((listener.task,))
        client = self._clients.pop(loop, None)
        if client is not None:
            await client.aclose()

    def _key(self, stream_id: str, suffix: str = "") -> str:
        return f"{self.prefix}:stream:{stream_id}{suffix}"

    def _wake_channel(self, stream_id: str) -> str:
        # The channels' pub/sub name, under a name no channel can have (it holds a "/").
        return self.channel_log.key(WAKE_CHANNEL_PREFIX + stream_id)

    @_unavailable_on_error
    async def create(
        self,
        stream_id: str,
        *,
        owner: str,
        key: str | None = None,
        max_active: int | None = None,
        max_duration: float = 3600.0,
        counted_as: str | None = None,
    ) -> str | None:
        counted_as = counted_as or owner
        keys = [
            self._key(stream_id),
            self._key(stream_id, ":lease"),
            f"{self.prefix}:key:{key or ''}",
            f"{self.prefix}:owner:{counted_as}",
        ]
        client: Any = self.client()
        created = await client.eval(
            _CREATE,
            len(keys),
            *keys,
            owner,
            self.ttl,
            int(self.lease * 1000),
            stream_id,
            max_active or 0,
            int(max_duration) + 1,
            int(key is not None),
            counted_as,
        )
        if created[0] == 0:
            raise TooManyStreams(f"{counted_as} has {max_active} active streams already.")
        return created[1].decode() or None

    async def append(self, stream_id: str, entries: Sequence[Entry]) -> None:
        loop = asyncio.get_running_loop()
        appends = self._appends.get(loop)
        if appends is None:
            appends = self._appends[loop] = _Appends(self)
        await appends.add(stream_id, entries)

    @_unavailable_on_error
    async def finish(self, stream_id: str, status: EndStatus, *, key: str | None = None) -> None:
        client: Any = self.client()
        keys = [self._key(stream_id, suffix) for suffix in ("", ":events", ":lease")]
        if key is not None:
            keys.append(f"{self.prefix}:key:{key}")
        owners = f"{self.prefix}:owner:"
        wake = self._wake_channel(stream_id)
        await client.eval(_FINISH, len(keys), *keys, status, self.ttl, stream_id, owners, wake)

    @_unavailable_on_error
    async def save_pending(
        self, key: str, message: str, waiting: Sequence[str], *, continued: bool = False
    ) -> None:
        client: Any = self.client()
        calls = self._calls_key(key)
        await client.eval(_SAVE_PENDING, 1, calls, self.ttl, int(continued), message, *waiting)

    @_unavailable_on_error
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

    @_unavailable_on_error
    async def claim(self, key: str, call_ids: Sequence[str]) -> str | None:
        client: Any = self.client()
        refused: bytes | None = await client.eval(_CLAIM, 1, self._calls_key(key), *call_ids)
        return refused.decode() if refused else None

    def _calls_key(self, key: str) -> str:
        return f"{self.prefix}:calls:{key}"

    @_unavailable_on_error
    async def info(self, stream_id: str) -> StreamInfo | None:
        client: Any = self.client()
        owner, status = await client.hmget(self._key(stream_id), ["owner", "status"])
        if owner is None or status is None:
            return None
        return StreamInfo(owner=owner.decode(), status=status.decode())

    @_unavailable_on_error
    async def active(self, key: str) -> str | None:
        client: Any = self.client()
        value: bytes | None = await client.get(f"{self.prefix}:key:{key}")
        return value.decode() if value is not None else None

    @_unavailable_on_error
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
        name = WAKE_CHANNEL_PREFIX + stream_id
        async with self.channel_log.watch([name], reader.wake):
            yield reader

    @_unavailable_on_error
    async def request_stop(self, stream_id: str) -> None:
        async with self.client().pipeline(transaction=False) as pipe:
            pipe.set(self._key(stream_id, ":stop"), 1, ex=self.ttl)
            pipe.publish(f"{self.prefix}:stop", stream_id)
            await pipe.execute()

    async def wait_for_stop(self, stream_id: str) -> None:
        loop = asyncio.get_running_loop()
        listener = self._listeners.get(loop)
        if listener is None:
            listener = self._listeners[loop] = _StopListener(self)
        async with listener.waiting(stream_id) as stopped:
            await stopped

    @_unavailable_on_error
    async def keep_alive(self, stream_id: str) -> None:
        async with self.client().pipeline(transaction=False) as pipe:
            pipe.set(self._key(stream_id, ":lease"), 1, px=int(self.lease * 1000))
            pipe.expire(self._key(stream_id), self.ttl)
            pipe.expire(self._key(stream_id, ":events"), self.ttl)
            await pipe.execute()

    @_unavailable_on_error
    async def is_alive(self, stream_id: str) -> bool:
        client: Any = self.client()
        return bool(await client.exists(self._key(stream_id, ":lease")))

    async def stopped_in_store(self, stream_ids: Sequence[str]) -> list[str]:
        """Which of ``stream_ids`` have a stop requested (the key survives a missed message)."""
        if not stream_ids:
            return []
        client: Any = self.client()
        flags = await client.mget([self._key(stream_id, ":stop") for stream_id in stream_ids])
        return [stream_id for stream_id, flag in zip(stream_ids, flags, strict=True) if flag]


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
                await asyncio.wait_for(self.waiter, timeout)
            except asyncio.TimeoutError:  # not redis's TimeoutError, imported above
                return [], None
            finally:
                self.waiter = None


async def as_it_is(message: Any) -> Any:
    """A pub/sub message as it came. (redis-py's default handler formats each one for a debug
    log, whatever the level: 80 µs a message, most of a message's cost here.)"""
    return message


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

    async def _send(self, batch: list[_Append]) -> None:
        self.batch = None  # appends from now on go in the next pipeline
        store = self.store
        async with store.client().pipeline(transaction=False) as pipe:
            for stream_id, entries, _ in batch:
                events = store._key(stream_id, ":events")
                for seq, data in entries:
                    pipe.xadd(events, {"d": data}, id=f"0-{seq}", maxlen=store.max_len)
                    if seq == 1:
                        pipe.expire(events, store.ttl)  # renewed with the lease from then on
                pipe.publish(store._wake_channel(stream_id), "0 ")  # once stored: readers wake
            replies = iter(await pipe.execute(raise_on_error=False))
        for _, entries, stored in batch:
            count = len(entries) + sum(seq == 1 for seq, _ in entries) + 1
            failed = [reply for reply in islice(replies, count) if isinstance(reply, Exception)]
            if stored.done():  # the generation was cancelled meanwhile
                continue
            if failed:
                stored.set_exception(failed[0])
            else:
                stored.set_result(None)


def _fail_unsent(batch: list[_Append], sending: asyncio.Task[None]) -> None:
    """Redis went away, or the loop is closing: whoever still waits must not wait for ever."""
    error = None if sending.cancelled() else sending.exception()
    for _, _, stored in batch:
        if not stored.done():
            stored.set_exception(
                _unavailable(error) if error else StoreUnavailable("Not sent: cancelled")
            )


# The loop holds tasks weakly: these must not be collected half way.
_running: set[asyncio.Task[None]] = set()


class _StopListener:
    """One subscription per process and loop to the stop channel, while streams run here."""

    def __init__(self, store: RedisStore) -> None:
        self.store = store
        self.waiters: dict[str, set[asyncio.Future[None]]] = {}
        self.task: asyncio.Task[None] | None = None

    @asynccontextmanager
    async def waiting(self, stream_id: str) -> AsyncIterator[asyncio.Future[None]]:
        stopped: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.setdefault(stream_id, set()).add(stopped)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._listen())
            _running.add(self.task)
            self.task.add_done_callback(_running.discard)
        try:
            yield stopped
        finally:
            waiters = self.waiters.get(stream_id, set())
            waiters.discard(stopped)
            if not waiters:
                self.waiters.pop(stream_id, None)
            if not self.waiters and self.task is not None:
                self.task.cancel()
                self.task = None

    def _fire(self, stream_id: str) -> None:
        for waiter in self.waiters.get(stream_id, ()):
            if not waiter.done():
                waiter.set_result(None)

    async def _listen(self) -> None:
        channel = f"{self.store.prefix}:stop"
        delay = 0.05
        while True:
            try:
                async with self.store.client().pubsub(push_handler_func=as_it_is) as pubsub:
                    await pubsub.subscribe(channel)
                    # Stops requested before we (re)subscribed are in the keys.
                    for stream_id in await self.store.stopped_in_store(list(self.waiters)):
                        self._fire(stream_id)
                    delay = 0.05
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            self._fire(message["data"].decode())
            except (RedisError, OSError):
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
