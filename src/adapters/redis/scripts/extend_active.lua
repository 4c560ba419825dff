-- extend_active(token id, until, now)...: keep each token ACTIVE at its now alive until
-- at least its `until`; a lapsed one is ended instead. Concurrent callers share one
-- call: the items are taken in turn, each judged at its own caller's now.
-- ARGV 8, 9, 10: token id, until (us), now (us); 11..13: the next item; ...
-- Reply: per item, 1 if extended (or already long enough), else 0.
local touched = false

local function one(tid, till)
  local t = load(tid)
  if t == nil then
    return 0
  end
  local status = settle(tid, t)
  if status ~= 'A' then
    if t.status == 'E' then
      touched = true
    end
    return 0
  end
  if till > t.till then
    t.till = till
    store(tid, t)
    redis.call('ZADD', ACTIVE, num(till), tid)
  end
  touched = true
  return 1
end

local out = {}
for i = 8, #ARGV - 2, 3 do
  NOW = tonumber(ARGV[i + 2])
  out[#out + 1] = each(one, ARGV[i], tonumber(ARGV[i + 1]))
end
if touched then
  keep()
end
return out
