-- Spend join-challenge solutions: each key is set only if absent (SET NX), with its TTL.
-- KEYS: the solutions' keys (the spends of one event-loop turn, for one concert)
-- ARGV: each key's TTL (milliseconds), in the same order
-- Returns one reply per key, in order: 1 spent now, 0 spent before (a key named twice
-- is spent by its first naming only).
local spent = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, '1', 'NX', 'PX', ARGV[i]) then
    spent[i] = 1
  else
    spent[i] = 0
  end
end
return spent
