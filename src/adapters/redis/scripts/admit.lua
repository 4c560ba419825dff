-- admit(capacity, per minute, per pass): one admission pass.
-- 1. End ACTIVE tokens past ends_at and idle WAITING tokens (at most BATCH in one
--    run; if any are left the reply is {0} and the caller runs the script again, so
--    no idle token is ever admitted and none stays in line past the pass).
-- 2. Pop the earliest WAITING tokens (ZPOPMIN) into the free places: the fewest of
--    capacity minus the ACTIVE count, per minute minus those admitted in the minute
--    before NOW, and per pass; record the admission (for the rate and the minute).
-- 3. Prune records of tokens ended long enough ago.
-- ARGV 8 capacity, 9 per minute or '' (no limit), 10 per pass or '' (no limit).
-- Reply: {0} (run again) or {1, row...} the admitted, in order.
local capacity = tonumber(ARGV[8])
local per_minute = tonumber(ARGV[9])
local per_pass = tonumber(ARGV[10])

local ended = {}
end_lapsed(ACTIVE, 'A', BATCH, ended)
end_lapsed(IDLE, 'W', BATCH - #ended, ended)
if lapsed_remain() then
  keep()
  return {0}
end

local reply = {1}
local free = capacity - redis.call('ZCARD', ACTIVE)
if per_minute then
  free = math.min(free, per_minute - admitted_since(NOW - MINUTE))
end
if per_pass then
  free = math.min(free, per_pass)
end
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
  redis.call('ZREMRANGEBYSCORE', ADM, '-inf', '(' .. num(NOW - math.max(WINDOW, MINUTE)))
end
prune_ended(BATCH)
keep()
return reply
