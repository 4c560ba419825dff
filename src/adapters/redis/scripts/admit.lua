-- admit(capacity): one admission pass.
-- 1. End ACTIVE tokens past active_until and idle WAITING tokens (at most BATCH in
--    one run; if any are left the reply is {0} and the caller runs the script again,
--    so no idle token is ever admitted and none stays in line past the pass).
-- 2. Pop the earliest WAITING tokens (ZPOPMIN) into the free places: capacity minus
--    ACTIVE count; record the admission for the rate.
-- 3. Prune records of tokens ended long enough ago.
-- ARGV 8 capacity. Reply: {0} (run again) or {1, row...} the admitted, in order.
local capacity = tonumber(ARGV[8])

local ended = {}
end_lapsed(ACTIVE, 'A', BATCH, ended)
end_lapsed(IDLE, 'W', BATCH - #ended, ended)
if lapsed_remain() then
  keep()
  return {0}
end

local reply = {1}
local free = capacity - redis.call('ZCARD', ACTIVE)
while free > 0 do
  local popped = redis.call('ZPOPMIN', LINE, free)
  if #popped == 0 then
    break
  end
  for i = 1, #popped, 2 do
    local tid = popped[i]
    local t = load(tid)
    if t ~= nil and t.status == 'W' then
      if status_at(t) == 'W' then
        t.status = 'A'
        t.till = NOW + ACTIVE_FOR
        store(tid, t)
        redis.call('ZREM', IDLE, tid)
        redis.call('ZADD', ACTIVE, num(t.till), tid)
        reply[#reply + 1] = row(tid, t)
        free = free - 1
      else
        finish(tid, t)
      end
    else
      redis.call('ZREM', IDLE, tid)
    end
  end
end

local admitted = #reply - 1
if admitted > 0 then
  local n = redis.call('HINCRBY', META, 'adm', 1)
  redis.call('ZADD', ADM, num(NOW), n .. ':' .. admitted)
  redis.call('ZREMRANGEBYSCORE', ADM, '-inf', '(' .. num(NOW - WINDOW))
end
prune_ended(BATCH)
keep()
return reply
