"""The Lua scripts of the Redis backend: each does, atomically on the server, what must not
be split between workers."""

__all__ = ["CLAIM", "CREATE", "FINISH", "PUBLISH", "SAVE_PENDING"]

# Registers a stream (ARGV[4]) of an owner (ARGV[1]) unless who it counts as (ARGV[8], set
# KEYS[4]) already has ARGV[5] active ones (0: no limit), not counting the one active for the
# key (KEYS[3], when ARGV[7] is 1), which it supersedes; returns {1, the key's previous stream
# or ''}, or {0} when refused.
CREATE = """
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
FINISH = """
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


# KEYS: the counter, the epoch, the channel's stream, its trimmed marker. ARGV: the event's
# bytes, max_len, the TTL in ms, the pub/sub channel, an epoch to set if there is none. The
# marker holds the id of the last entry trimmed away, for replays to know what is gone.
# Returns the event's number.
PUBLISH = """
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
