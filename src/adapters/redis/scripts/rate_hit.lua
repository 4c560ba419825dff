-- One hit against one or more rate limit keys, in a moving window
-- (adapters/rate_window.py is the reference rule).
-- KEYS: the keys' sorted sets (member: a hit's id, score: its instant in microseconds)
-- ARGV: now, window (microseconds), the hit's id, the key TTL (milliseconds), then one
--       limit per key
-- Returns 0 when the hit is accepted and logged under every key; else the
-- microseconds until every key has room again, and nothing is logged.
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local since = now - window
local wait = 0
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', since)
  local limit = tonumber(ARGV[4 + i])
  local count = redis.call('ZCARD', key)
  if count >= limit then
    local edge = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
    local frees = math.max(1, tonumber(edge[2]) + window - now)
    if frees > wait then
      wait = frees
    end
  end
end
if wait > 0 then
  return wait
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, ARGV[4])
end
return 0
