-- abandon: give the claim up, if it still holds the key and has no result.
-- KEYS 1 the key's hash. ARGV 1 claim id. Reply: 1 if given up.
if redis.call('HGET', KEYS[1], 'claim') ~= ARGV[1] or redis.call('HEXISTS', KEYS[1], 'result') == 1 then
  return 0
end
redis.call('DEL', KEYS[1])
return 1
