-- Mirrors concert_core.domain.idempotency.judge_claim: change the two together.
-- begin: claim a key, or report what holds it. Every rule is judged by ARGV's now.
-- KEYS 1 the key's hash: fp (fingerprint), claim (claim id), started (us), result (JSON,
--        once completed).
-- ARGV 1 now (us), 2 kept for (retention + lease, us), 3 lease (us), 4 fingerprint,
--      5 claim id, 6 key ttl (ms, garbage collection only).
-- Reply: {'claimed'}, {'result', json}, {'reused'} or {'running'}.
local key = KEYS[1]
local now, kept_for, lease = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local fingerprint, claim, ttl = ARGV[4], ARGV[5], ARGV[6]

local function claim_it()
  redis.call('DEL', key)
  redis.call('HSET', key, 'fp', fingerprint, 'claim', claim, 'started', string.format('%d', now))
  redis.call('PEXPIRE', key, ttl)
  return {'claimed'}
end

local held = redis.call('HMGET', key, 'fp', 'started', 'result')
if not held[1] or now - tonumber(held[2]) > kept_for then
  return claim_it()  -- new, or kept past its time: as if new
end
if held[1] ~= fingerprint then
  return {'reused'}
end
if held[3] then
  return {'result', held[3]}
end
if now - tonumber(held[2]) < lease then
  return {'running'}
end
return claim_it()  -- the first run died (its lease is over); this one takes over
