-- Hits against rate limit keys, in a moving window (adapters/rate_window.py is the
-- reference rule): the hits one event-loop turn of a process made, taken in turn, each
-- judged at its own instant exactly as a call of its own would be.
-- KEYS: every hit's keys in turn: sorted sets (member: a hit's id, score: its instant
--       in microseconds)
-- ARGV: window (microseconds), the key TTL (milliseconds), then per hit: its number of
--       keys k, its instant (now, microseconds), its id, then one limit per key (k)
-- Returns one reply per hit: 0 when the hit is accepted and logged under every one of
-- its keys; else the microseconds until every one of them has room again, and that
-- hit is logged nowhere.
local window = tonumber(ARGV[1])
local ttl = ARGV[2]
local replies = {}
local k = 0
local a = 3
while a <= #ARGV do
  local count = tonumber(ARGV[a])
  local now = tonumber(ARGV[a + 1])
  local id = ARGV[a + 2]
  local since = now - window
  local wait = 0
  for i = 1, count do
    local key = KEYS[k + i]
    redis.call('ZREMRANGEBYSCORE', key, '-inf', since)
    local limit = tonumber(ARGV[a + 2 + i])
    local logged = redis.call('ZCARD', key)
    if logged >= limit then
      local edge = redis.call('ZRANGE', key, logged - limit, logged - limit, 'WITHSCORES')
      local frees = math.max(1, tonumber(edge[2]) + window - now)
      if frees > wait then
        wait = frees
      end
    end
  end
  if wait == 0 then
    for i = 1, count do
      redis.call('ZADD', KEYS[k + i], now, id)
      redis.call('PEXPIRE', KEYS[k + i], ttl)
    end
  end
  replies[#replies + 1] = wait
  k = k + count
  a = a + 3 + count
end
return replies
