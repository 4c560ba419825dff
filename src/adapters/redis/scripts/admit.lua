-- admit(capacity, per minute, per pass): one admission pass.
-- 1. End ACTIVE tokens past ends_at and idle WAITING tokens (at most BATCH in one
--    run; if any are left the reply is {0} and the caller runs the script again, so
--    no idle token is ever admitted and none stays in line past the pass).
-- 2. Take the earliest WAITING tokens (the front of the line, found by the tree) into
--    the free places: the fewest of capacity minus the ACTIVE count, per minute minus
--    those admitted in the minute before NOW, and per pass; record the admission (for
--    the rate and the minute).
-- 3. Prune records of tokens ended long enough ago.
-- ARGV 8 capacity, 9 per minute or '' (no limit), 10 per pass or '' (no limit).
-- Reply: {0} (run again) or {1, row...} the admitted, in order.
local capacity = tonumber(ARGV[8])
local per_minute = tonumber(ARGV[9])
local per_pass = tonumber(ARGV[10])

local ended = {}
local count = end_lapsed_active(BATCH, ended)
end_idle(BATCH - count, ended)
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
  local batch = front(free)
  if #batch == 0 then
    break
  end
  for _, t in ipairs(batch) do
    if status_at(t) == 'W' then
      leave_line(t)
      t.status = 'A'
      t.till = NOW + ACTIVE_FOR
      store(t)
      redis.call('ZADD', ACTIVE, num(t.till), num(t.slot))
      reply[#reply + 1] = row(t)
      free = free - 1
    else
      finish(t)
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
