"""Presence and disconnects of ``RedisStore``, for every worker.

Under the store's prefix, a channel's keys under its hash tag (its name, as its log's: on the
master of its slot in a cluster):

* ``prefix:presence:{<channel>}`` a sorted set of the labels listed on the channel, each
  scored with when its last entry expires (ms, Redis's clock), and
  ``prefix:presence:{<channel>}/<label>`` a sorted set of the label's entries (one per
  subscription) scored the same way: a worker renews its entries every third of the store's
  ``lease``, so those of a worker that died expire within it. A label is listed from its first
  entry to its last (or its expiry, found by the next renewal on any worker): the scripts
  decide both at once for every worker, so a ``join`` and a ``leave`` alternate. Every key
  expires ``lease`` after its last write;
Disconnects, under the hash tag ``{prefix}``:

* ``prefix:disconnect:{prefix}`` the pub/sub channel of disconnects (on the listener's
  connection, the one of every subscriber of the loop), and
  ``prefix:disconnected:{prefix}:<target>`` the token of a target's last disconnect, kept
  ``TOKEN_TTL`` seconds.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisClusterException, RedisError

from django_streaming.stores.channel_log import Entry
from django_streaming.stores.presence import Renewed, Revoked, Target

from .errors import classify, on_error
from .failover import retry, retry_sync

if TYPE_CHECKING:
    from .channel_log import RedisChannelLog

__all__ = ["RedisPresence"]

#: Seconds a disconnect's token is kept: a subscription compares them across its own setting
#: up only (a ``can_read()``).
TOKEN_TTL = 60.0

_NOW = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
"""

# Adds the entry ARGV[2] of the label ARGV[1] (KEYS[2]) for ARGV[3] ms, and lists the label on
# the channel (KEYS[1]). Returns 1 if the label was not listed.
JOIN = (
    _NOW
    + """
local lease = tonumber(ARGV[3])
redis.call('ZADD', KEYS[2], now + lease, ARGV[2])
redis.call('PEXPIRE', KEYS[2], lease)
local added = redis.call('ZADD', KEYS[1], 'GT', now + lease, ARGV[1])
redis.call('PEXPIRE', KEYS[1], lease)
return added
"""
)

# Removes the entry ARGV[2] of the label ARGV[1] (KEYS[2]), and the label from the channel's
# list (KEYS[1]) when it has no live entry left. Returns 1 if the label was listed until now.
LEAVE = (
    _NOW
    + """
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) > 0 then return 0 end
return redis.call('ZREM', KEYS[1], ARGV[1])
"""
)

# Renews for ARGV[1] ms the entries of one channel: KEYS[i] (i > 1) holds the entry
# ARGV[2i - 1] of the label ARGV[2i - 2]. Then removes from the channel's list (KEYS[1]) the
# labels whose entries all expired. Returns those, and the labels listed again (renewed after
# their expiry was found: a worker that stalled past its lease).
RENEW = (
    _NOW
    + """
local lease = tonumber(ARGV[1])
local back = {}
for i = 2, #KEYS do
  redis.call('ZADD', KEYS[i], now + lease, ARGV[2 * i - 1])
  redis.call('PEXPIRE', KEYS[i], lease)
  if redis.call('ZADD', KEYS[1], 'GT', now + lease, ARGV[2 * i - 2]) == 1 then
    back[#back + 1] = ARGV[2 * i - 2]
  end
end
redis.call('PEXPIRE', KEYS[1], lease)
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
if #gone > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now) end
return {gone, back}
"""
)

# The time (ms) and the labels listed on the channel (KEYS[1]) that have not expired.
LISTED = (
    _NOW
    + """
return {now, redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')}
"""
)

# Sets the token ARGV[1] of a target (KEYS[1]) for ARGV[2] ms, then tells every worker:
# ARGV[4] (PUBLISH, or SPUBLISH in a cluster) on ARGV[3], as "0 <target>" (the listener's
# format: a number, a space, the body).
DISCONNECT = """
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call(ARGV[4], ARGV[3], '0 ' .. ARGV[5])
"""


class RedisPresence:
    def __init__(self, log: RedisChannelLog) -> None:
        self.log = log
        store = log.store
        self.lease: float | None = store.lease
        self._lease_ms = max(int(store.lease * 1000), 1)
        tag = f"{{{store.prefix}}}"
        self._presence = f"{store.prefix}:presence:"
        self._tokens = f"{store.prefix}:disconnected:{tag}:"
        self.control = f"{store.prefix}:disconnect:{tag}"
        self._publish = "SPUBLISH" if store.sharded else "PUBLISH"

    def _labels_key(self, channel: str) -> str:
        return f"{self._presence}{{{channel}}}"

    def _members_key(self, channel: str, label: str) -> str:
        return f"{self._presence}{{{channel}}}/{label}"

    async def _eval(self, script: str, keys: Sequence[str], *arguments: Any) -> Any:
        client: Any = self.log.client()
        return await retry(
            lambda: client.eval(script, len(keys), *keys, *arguments),
            self.log.store.failover_timeout,
        )

    @on_error
    async def join(self, channel: str, label: str, member: str) -> bool:
        keys = [self._labels_key(channel), self._members_key(channel, label)]
        return bool(await self._eval(JOIN, keys, label, member, self._lease_ms))

    @on_error
    async def leave(self, channel: str, label: str, member: str) -> bool:
        keys = [self._labels_key(channel), self._members_key(channel, label)]
        return bool(await self._eval(LEAVE, keys, label, member))

    @on_error
    async def renew(self, members: Mapping[str, Sequence[tuple[str, str]]]) -> Renewed:
        calls = []
        for channel, entries in members.items():
            keys = [self._labels_key(channel)]
            arguments: list[Any] = [self._lease_ms]
            for label, member in entries:
                keys.append(self._members_key(channel, label))
                arguments += [label, member]
            calls.append((channel, keys, arguments))

        async def attempt() -> list[Any]:
            async with self.log.client().pipeline(transaction=False) as pipe:
                for _, keys, arguments in calls:
                    pipe.eval(RENEW, len(keys), *keys, *arguments)
                result: list[Any] = await pipe.execute()
                return result

        results = await retry(attempt, self.log.store.failover_timeout)
        return {
            channel: ([label.decode() for label in gone], [label.decode() for label in back])
            for (channel, _, _), (gone, back) in zip(calls, results, strict=True)
            if gone or back
        }

    @on_error
    async def members(self, channel: str) -> dict[str, int]:
        now, listed = await self._eval(LISTED, [self._labels_key(channel)])
        labels = [label.decode() for label in listed]
        async with self.log.client().pipeline(transaction=False) as pipe:
            for label in labels:
                pipe.zcount(self._members_key(channel, label), now, "+inf")
            counts = await pipe.execute()
        return {label: count for label, count in zip(labels, counts, strict=True) if count}

    def members_sync(self, channel: str) -> dict[str, int]:
        client = self.log._sync_client()
        key = self._labels_key(channel)
        try:
            now, listed = retry_sync(
                lambda: client.eval(LISTED, 1, key), self.log.store.failover_timeout
            )
            labels = [label.decode() for label in listed]
            with client.pipeline(transaction=False) as pipe:
                for label in labels:
                    pipe.zcount(self._members_key(channel, label), now, "+inf")
                counts = pipe.execute()
        except (RedisError, RedisClusterException, OSError) as error:
            raise classify(error) from error
        return {label: count for label, count in zip(labels, counts, strict=True) if count}

    def _disconnect_arguments(self, target: Target) -> tuple[list[str], list[Any]]:
        token = secrets.token_urlsafe(12)
        ttl_ms = int(TOKEN_TTL * 1000)
        return [self._tokens + target], [token, ttl_ms, self.control, self._publish, target]

    def disconnect(self, target: Target) -> None:
        keys, arguments = self._disconnect_arguments(target)
        try:
            retry_sync(
                lambda: self.log._sync_client().eval(DISCONNECT, 1, *keys, *arguments),
                self.log.store.failover_timeout,
            )
        except (RedisError, RedisClusterException, OSError) as error:
            raise classify(error) from error

    @on_error
    async def adisconnect(self, target: Target) -> None:
        keys, arguments = self._disconnect_arguments(target)
        await self._eval(DISCONNECT, keys, *arguments)

    @on_error
    async def tokens(self, targets: Sequence[Target]) -> list[str | None]:
        client: Any = self.log.client()
        tokens = await client.mget([self._tokens + target for target in targets])
        return [None if token is None else token.decode() for token in tokens]

    @asynccontextmanager
    async def watch(self, revoked: Revoked) -> AsyncIterator[None]:
        def deliver(entry: Entry | None) -> None:
            if entry is None:  # the feed was interrupted: compare the tokens again
                revoked(None)
            elif entry.seq == 0:  # not FEED_LOST (-1): the subscription ends anyway
                revoked(entry.body.decode())

        async with self.log.watch([self.control], deliver):
            yield
