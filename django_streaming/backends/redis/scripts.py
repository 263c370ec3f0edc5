"""The Lua scripts of the Redis backend: each does, atomically on the server, what must not
be split between workers. Each declares every key it touches, and all of them share one hash
tag, so that each runs on one slot of a cluster."""

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


# KEYS: the epoch. ARGV: the epoch to forget, a new one. Replaces the epoch if it is still the
# one to forget (or gone); returns the epoch now.
FORGET_EPOCH = """
local epoch = redis.call('GET', KEYS[1])
if epoch == false or epoch == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return ARGV[2]
end
return epoch
"""


# KEYS: the counter, the epoch, the channel's stream, its trimmed marker, this publish's token.
# ARGV: the event's bytes, max_len, the TTL in ms, the pub/sub channel, an epoch to set if there
# is none, how long (ms) the token is kept. The marker holds the id of the last entry trimmed
# away, for replays to know what is gone. The token makes a publish sent again (its connection
# dropped in a failover, perhaps after it ran) store the event once: it returns the number it
# got the first time. A counter behind the channel's last event (evicted) is moved past it, with
# a new epoch. ARGV[7]: PUBLISH, or SPUBLISH in a cluster (the channel is in the keys' slot).
# ARGV[8]: when it was published (seconds), stored with it (field t) and sent with its number
# (`<seq>.<sent> <bytes>`), so that every subscriber frames it with the same cursor.
# Returns the event's number and the epoch.
PUBLISH = """
redis.call('SET', KEYS[2], ARGV[5], 'NX')
local done = redis.call('GET', KEYS[5])
if done then return {tonumber(done), redis.call('GET', KEYS[2])} end
local seq = redis.call('INCR', KEYS[1])
local top = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)[1]
if top and tonumber(string.match(top[1], '^%d+')) >= seq then
  -- The counter was lost (evicted) but not this channel's events: numbers go on after them,
  -- under a new epoch, since others were given out again meanwhile.
  seq = tonumber(string.match(top[1], '^%d+')) + 1
  redis.call('SET', KEYS[1], seq)
  redis.call('SET', KEYS[2], ARGV[5])
end
redis.call('SET', KEYS[5], seq, 'PX', ARGV[6])
local excess = redis.call('XLEN', KEYS[3]) + 1 - tonumber(ARGV[2])
if excess > 0 then
  local trimmed = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', excess)
  redis.call('SET', KEYS[4], trimmed[#trimmed][1])
end
redis.call('XADD', KEYS[3], 'MAXLEN', ARGV[2], seq .. '-0', 'd', ARGV[1], 't', ARGV[8])
redis.call('PEXPIRE', KEYS[3], ARGV[3])
redis.call('PEXPIRE', KEYS[4], ARGV[3])
redis.call(ARGV[7], ARGV[4], seq .. '.' .. ARGV[8] .. ' ' .. ARGV[1])
return {seq, redis.call('GET', KEYS[2])}
"""
