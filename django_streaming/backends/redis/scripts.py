"""The Lua scripts of the Redis backend: each does, atomically on the server, what must not
be split between workers. Each declares every key it touches, and all of them share one hash
tag (a stream's, a channel's), so that each runs on one slot of a cluster."""

__all__ = ["CLAIM", "COUNT", "FINISH", "FORGET_EPOCH", "PUBLISH", "RELEASE", "SAVE_PENDING"]

# Counts a stream (ARGV[2]) in the active set of who it counts as (KEYS[1]) unless that holds
# ARGV[1] live ones already (0: no limit), not counting the one the chat's key pointed at
# (ARGV[5], '' for none), which it supersedes. Each member is scored with the time after which
# it no longer counts (ARGV[3]: the maximum duration); the set lives ARGV[4] seconds at least.
# Returns 1, or 0 when refused. One key: in a cluster, the owner's slot alone decides.
COUNT = """
local now = tonumber(redis.call('TIME')[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local count = redis.call('ZCARD', KEYS[1])
if ARGV[5] ~= '' and redis.call('ZSCORE', KEYS[1], ARGV[5]) then count = count - 1 end
local limit = tonumber(ARGV[1])
if limit > 0 and count >= limit then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('EXPIRE', KEYS[1], math.max(tonumber(ARGV[4]), tonumber(ARGV[3])))
return 1
"""

# Sets the status (KEYS[1]) once, so that a worker's own end and a reader's "interrupted"
# cannot both win; marks the end in the events (KEYS[2]), drops the lease (KEYS[3]) and wakes
# the readers (ARGV[4]: PUBLISH, or SPUBLISH in a cluster, on ARGV[3], a channel of the
# stream's slot). Returns who the stream counted as (to take it off that active set), or
# false when it had ended already. Every key under the stream's hash tag.
FINISH = """
if redis.call('HGET', KEYS[1], 'status') ~= 'active' then return false end
local counted = redis.call('HGET', KEYS[1], 'counted') or redis.call('HGET', KEYS[1], 'owner')
redis.call('HSET', KEYS[1], 'status', ARGV[1])
redis.call('XADD', KEYS[2], '*', 'end', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[3])
redis.call(ARGV[4], ARGV[3], '0 ')
return counted or ''
"""

# Deletes a chat's key (KEYS[1]) if it still points at the stream ARGV[1].
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
"""


# Makes ARGV[3] (JSON) the pending answer of the chat (KEYS[1]), whose calls ARGV[4...] wait:
# the previous answer's calls that still wait no longer do; answered ones stay answered when
# ARGV[2] is 1 (the same message gone on), and are forgotten otherwise.
SAVE_PENDING = """
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
CLAIM = """
for i = 1, #ARGV do
  if redis.call('HGET', KEYS[1], 'call:' .. ARGV[i]) ~= 'waiting' then return ARGV[i] end
end
for i = 1, #ARGV do redis.call('HSET', KEYS[1], 'call:' .. ARGV[i], 'answered') end
return false
"""


# KEYS: a channel's head (a hash: its epoch e, its last number s). ARGV: the epoch to forget,
# a new one. Replaces the epoch if it is still the one to forget. Returns the epoch and the
# number now (false for a channel without a head).
FORGET_EPOCH = """
if redis.call('HGET', KEYS[1], 'e') == ARGV[1] then redis.call('HSET', KEYS[1], 'e', ARGV[2]) end
return redis.call('HMGET', KEYS[1], 'e', 's')
"""


# KEYS: the channel's head (a hash: its epoch e and its last number s, one key so that they
# vanish together), its stream, this publish's token. ARGV: the event's bytes, max_len, the
# TTL in ms, the pub/sub channel, a new epoch (used if the channel has no head, or its numbers
# passed ARGV[9]), how long (ms) the token is kept, PUBLISH or SPUBLISH (in a cluster: the
# channel is in the keys' slot), when it was published (µs, stored with it as field t),
# the highest number. The token makes a publish sent again (its connection dropped in a
# failover, perhaps after it ran) store the event once: it returns what it got the first time.
# A channel without a head (new, expired, or its head evicted) starts under a new epoch, after
# the last event its stream still has. The event goes to the subscribers as
# `<seq>.<sent>.<epoch> <bytes>`, so that every subscriber frames it with the same cursor.
# Returns the event's number and epoch.
PUBLISH = """
local done = redis.call('GET', KEYS[3])
if done then
  local seq, epoch = string.match(done, '^(%d+) (.*)$')
  return {tonumber(seq), epoch}
end
local epoch = redis.call('HGET', KEYS[1], 'e')
local seq
if epoch then
  seq = redis.call('HINCRBY', KEYS[1], 's', 1)
else
  epoch = ARGV[5]
  local top = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)[1]
  seq = top and tonumber(string.match(top[1], '^%d+')) + 1 or 1
end
if seq > tonumber(ARGV[9]) then
  redis.call('DEL', KEYS[2])
  epoch = ARGV[5]
  seq = 1
end
redis.call('HSET', KEYS[1], 'e', epoch, 's', seq)
redis.call('SET', KEYS[3], seq .. ' ' .. epoch, 'PX', ARGV[6])
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[2], seq .. '-0', 'd', ARGV[1], 't', ARGV[8])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call(ARGV[7], ARGV[4], seq .. '.' .. ARGV[8] .. '.' .. epoch .. ' ' .. ARGV[1])
return {seq, epoch}
"""
