-- complete: keep the result, if the claim still holds the key and has none yet.
-- KEYS 1 the key's hash. ARGV 1 claim id, 2 the result (JSON). Reply: 1 if kept.
if redis.call('HGET', KEYS[1], 'claim') ~= ARGV[1] or redis.call('HEXISTS', KEYS[1], 'result') == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'result', ARGV[2])
return 1
